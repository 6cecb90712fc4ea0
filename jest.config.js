/**
 * Unit tests (mocked SDK clients), integration tests (the real offline stack, in-process, on free ports) and browser
 * tests (the developer portal in Debian's Chromium, driven by playwright-core, against that stack).
 */
const transform = { '^.+\\.(t|j)sx?$': '<rootDir>/tests/support/esbuild-transform.js' };
const common = {
  testEnvironment: 'node',
  transform,
  // Some dependencies ship ESM only; let esbuild turn them into CommonJS for jest.
  transformIgnorePatterns: ['/node_modules/(?!(@middy|@scure|@noble|@otplib|otplib)/)'],
  moduleNameMapper: { '^#shared/(.*)$': '<rootDir>/functions/shared/$1' },
};
module.exports = {
  projects: [
    // The handlers' environment, set once before every unit test file (tests/unit/functions/env.ts).
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'], setupFiles: ['<rootDir>/tests/unit/functions/env.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts', '<rootDir>/tests/resilience/**/*.test.ts', '<rootDir>/tests/abuse/**/*.test.ts'],
      slowTestThreshold: 30,
      // 30 s per test unless it says otherwise (tests/support/integration-timeout.ts says why).
      setupFilesAfterEnv: ['<rootDir>/tests/support/integration-timeout.ts'],
    },
    {
      ...common,
      displayName: 'browser',
      testMatch: ['<rootDir>/tests/browser/**/*.test.ts'],
      slowTestThreshold: 60,
      setupFilesAfterEnv: ['<rootDir>/tests/support/integration-timeout.ts'],
    },
  ],
};
