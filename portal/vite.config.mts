import { defineConfig } from 'vite';

/**
 * The developer portal: a static page (vanilla TypeScript, no framework) configured at run time by the config.json
 * served next to index.html. `npm run portal:build` (or `npm start`, when stale) writes portal/dist.
 */
export default defineConfig({
  // Relative asset URLs: the same build works at a host's root or under any path (S3 prefix, CloudFront behaviour).
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
