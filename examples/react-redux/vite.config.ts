import { defineConfig } from 'vite';

declare const process: { env: Record<string, string | undefined> };

// `npm run dev` proxies the API to a `cleanexit serve --demo` you started yourself.
const api = process.env.CLEANEXIT_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  resolve: {
    // @cleanexit/web is linked from ../../clients/web: one copy of React and Redux for both.
    dedupe: ['react', 'react-dom', 'react-redux', '@reduxjs/toolkit', 'redux-persist', 'redux'],
  },
  build: {
    outDir: process.env.CLEANEXIT_EXAMPLE_OUT ?? 'dist',
    emptyOutDir: true,
    // No inline polyfill script: `cleanexit serve` sends `script-src 'self'`.
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
  server: {
    proxy: Object.fromEntries(['/auth', '/me'].map((path) => [path, { target: api }])),
  },
});
