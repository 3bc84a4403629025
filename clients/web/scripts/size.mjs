// What @cleanexit/web adds to an app's bundle: each entry bundled and minified with esbuild,
// its peers (Redux Toolkit, redux-persist, React, react-redux) external since the app has them
// already, then gzipped. The React bindings are measured on top of the core (core external).
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const peers = ['@reduxjs/toolkit', 'redux-persist', 'react', 'react-dom', 'react-redux', 'react/jsx-runtime'];

async function measure(entry, external) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    write: false,
    external,
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

const core = await measure('dist/lib/index.js', peers);
const react = await measure('dist/react/index.js', [...peers, '../lib/index.js']);
const kB = (n) => `${(n / 1024).toFixed(1)} kB`;
console.log(JSON.stringify({ core, react }));
console.log(`@cleanexit/web        ${kB(core.minified)} min, ${kB(core.gzipped)} min+gz`);
console.log(`@cleanexit/web/react  ${kB(react.minified)} min, ${kB(react.gzipped)} min+gz (on top of the core)`);
