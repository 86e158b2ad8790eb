#!/usr/bin/env node
// Builds the addon once per supported Node line into prebuilds/linux-x64/node.abi<N>.glibc.node, the
// names node-gyp-build looks for (per ABI, not napi: the addon uses raw V8 for SharedArrayBuffers where
// Node-API lacks them). Offline: each build is node-gyp with --nodedir at that Node's own headers, the
// Node binaries coming from scripts/node-lines.mjs (plus the Node running this script). Each build runs
// in a scratch copy of the sources so the checkout's build/ (the developer's own Node) is untouched,
// and each result is loaded by its own Node before it is kept. `npm pack` runs this (prepack).
//
//   node scripts/prebuild.mjs [--only-running]
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypPath } from './build-native.mjs';
import { NODE_LINES, nodePrefix } from './node-lines.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);

function run(command, args, options) {
  // stdout stays clean for `npm pack --json`: every build tool writes to stderr.
  const result = spawnSync(command, args, { stdio: ['ignore', 2, 2], ...options });
  if (result.status !== 0) throw new Error(`shmring prebuild: ${command} ${args.join(' ')} failed (exit ${result.status})`);
  return result;
}

function buildWith(nodeBin) {
  const abi = spawnSync(nodeBin, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).stdout.trim();
  const version = spawnSync(nodeBin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (!/^\d+$/.test(abi)) throw new Error(`shmring prebuild: ${nodeBin} did not report its ABI (got ${JSON.stringify(abi)})`);
  const scratch = mkdtempSync(path.join(tmpdir(), 'shmring-prebuild-'));
  try {
    for (const entry of ['binding.gyp', 'native/include', 'native/src', 'scripts/build-native.mjs']) {
      cpSync(path.join(root, entry), path.join(scratch, entry), { recursive: true });
    }
    // binding.gyp asks node-addon-api for its include directory.
    symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
    const env = {
      ...process.env,
      npm_config_node_gyp: nodeGypPath(),
      PATH: `${path.dirname(nodeBin)}${path.delimiter}${process.env.PATH ?? ''}`,
    };
    console.error(`\n== prebuild for Node ${version} (ABI ${abi})`);
    run(nodeBin, [path.join(scratch, 'scripts', 'build-native.mjs')], { cwd: scratch, env });
    const target = path.join(outDir, `node.abi${abi}.glibc.node`);
    mkdirSync(outDir, { recursive: true });
    copyFileSync(path.join(scratch, 'build', 'Release', 'shmring.node'), target);
    run(nodeBin, ['-e', `require(${JSON.stringify(target)}).liveMappings()`], { env });
    console.error(`   ${path.relative(root, target)}`);
    return { version, abi, file: target };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const nodes = [process.execPath];
if (!process.argv.includes('--only-running')) {
  const runningMajor = Number(process.versions.node.split('.')[0]);
  for (const line of NODE_LINES) if (line.major !== runningMajor) nodes.push(path.join(nodePrefix(line.major), 'bin', 'node'));
}
rmSync(outDir, { recursive: true, force: true });
const built = nodes.map(buildWith);
console.error(`\nshmring: ${built.length} prebuilds: ${built.map((b) => `${b.version} abi${b.abi}`).join(', ')}`);
