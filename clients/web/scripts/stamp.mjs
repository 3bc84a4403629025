// Records which sources the committed build was made from, so a test can tell when
// src/cleanexit/web/static/ is stale (`make web` rebuilds it). tests/web/test_build.py
// recomputes the same digest: sha256 over "path\0content\0" for each input, sorted by path.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = fileURLToPath(new URL('../../../src/cleanexit/web/static/SOURCES.sha256', import.meta.url));
const inputs = ['index.html', 'package-lock.json', 'vite.config.ts', 'src'];

function walk(path) {
  return statSync(path).isDirectory() ? readdirSync(path).flatMap((name) => walk(join(path, name))) : [path];
}

const files = inputs
  .flatMap((input) => walk(join(root, input)))
  .map((path) => relative(root, path).split('\\').join('/'))
  .sort();
const hash = createHash('sha256');
for (const file of files) {
  hash.update(`${file}\0`);
  hash.update(readFileSync(join(root, file)));
  hash.update('\0');
}
writeFileSync(out, `${hash.digest('hex')}\n`);
console.log(`stamped ${files.length} source files -> ${relative(process.cwd(), out)}`);
