import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.local/', '.aws-sam/', 'dist/', 'coverage/', 'portal/dist/', 'portal/.dist-*/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { NodeJS: 'readonly', process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    files: ['functions/**/*.ts'],
    rules: {
      // Handlers log through the Powertools logger only (structured, and never with key values).
      'no-console': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.object.name='process'][object.property.name='env'][property.name=/^(IS_OFFLINE|LOCAL|AWS_SAM_LOCAL)$/]", message: 'Handlers must not branch on a local flag.' },
      ],
    },
  },
  {
    files: ['local/**/*.ts', 'local/**/*.cjs', 'scripts/**/*.ts', 'scripts/**/*.cjs', 'bench/**/*.ts', 'tests/**/*.js', 'tests/support/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
);
