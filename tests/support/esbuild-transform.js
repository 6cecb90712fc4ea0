// Jest transformer: esbuild strips types and emits CommonJS. Type checking is `tsc --noEmit` (npm test runs it first).
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const result = transformSync(source, {
      loader: filename.endsWith('.ts') ? 'ts' : 'js',
      format: 'cjs',
      target: 'node22',
      sourcemap: 'inline',
      sourcefile: filename,
    });
    return { code: result.code };
  },
};
