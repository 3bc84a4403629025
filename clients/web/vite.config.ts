import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The build lands inside the Python package so `cleanexit serve` ships the demo page
// without Node at run time: `/` -> static/index.html, `/assets/*` -> static/assets/*.
const outDir = fileURLToPath(new URL('../../src/cleanexit/web/static', import.meta.url));
// `npm run dev` proxies the API to a `cleanexit serve --demo` you started yourself.
const api = process.env.CLEANEXIT_URL ?? 'http://127.0.0.1:8765';

export default defineConfig({
  base: '/',
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    // No inline polyfill script: the page runs under `script-src 'self'`.
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    proxy: Object.fromEntries(
      ['/auth', '/me', '/healthz', '/readyz'].map((path) => [path, { target: api }]),
    ),
  },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    environment: 'node',
    testTimeout: 10_000,
  },
});
