#!/usr/bin/env node
// npm runs `prepare` on `npm install` in a checkout, for a folder dependency (npm install ../shmring)
// and for a git dependency (after installing its devDependencies). It builds dist/ with tsc when
// TypeScript is installed; without it (devDependencies omitted) an existing dist/ is used as it is,
// rather than failing on `tsc: not found`. In a checkout it also builds the Go peer's CLI.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  tsc = undefined;
}
if (tsc) {
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) process.exit(result.status ?? 1);
} else if (existsSync(path.join(root, 'dist', 'index.js'))) {
  console.error('shmring: TypeScript is not installed (devDependencies omitted); using the dist/ already built');
} else {
  console.error(
    'shmring: dist/ is not built and TypeScript is not installed to build it. Run `npm install` in the checkout ' +
      '(it installs the devDependencies), or install the package from its npm tarball, which ships dist/.',
  );
  process.exit(1);
}
if (existsSync(path.join(root, 'go-peer', 'go.mod'))) {
  const go = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-go.mjs')], { cwd: root, stdio: ['ignore', 2, 2] });
  if (go.status !== 0) process.exit(go.status ?? 1);
}
