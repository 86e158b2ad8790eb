#!/usr/bin/env node
// Builds the native addon with node-gyp against the headers of the Node that runs this script.
// Never lets node-gyp download headers: there may be no network, and a user's npm config must not
// be needed. An official Node install ships its headers at <prefix>/include/node next to
// <prefix>/bin/node (process.execPath).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export function localNodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const header = path.join(prefix, 'include', 'node', 'node_api.h');
  if (!existsSync(header)) {
    throw new Error(
      `shmring: Node headers not found at ${header}.\n` +
        `The native addon is compiled against the headers of the running Node (${process.execPath}).\n` +
        `Install a Node distribution that ships them (the official tarballs and nodesource packages do;\n` +
        `on Debian/Ubuntu's own nodejs package install 'libnode-dev'), then rerun 'npm install'.`,
    );
  }
  return prefix;
}

function nodeGypPath() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return process.env.npm_config_node_gyp;
  }
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const bundled = path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm',
      'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return bundled;
    throw new Error('shmring: node-gyp not found; it ships with npm, run the build through npm install');
  }
}

function main() {
  if (process.platform !== 'linux') {
    console.error(`shmring: the native addon supports Linux only (this is ${process.platform})`);
    process.exit(1);
  }
  let nodedir;
  try {
    nodedir = localNodeDir();
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
  const args = [nodeGypPath(), 'rebuild', `--nodedir=${nodedir}`, '--jobs=max'];
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`shmring: native build failed (node-gyp exit ${result.status}); see the compiler output above`);
    process.exit(result.status ?? 1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (existsSync(path.join(root, 'binding.gyp'))) main();
}
