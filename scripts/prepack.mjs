#!/usr/bin/env node
// `npm pack` / `npm publish`: the package ships dist/ (built by prepare, which npm runs right after
// this) and a prebuilt addon for every supported Node line (scripts/prebuild.mjs). On a fresh clone
// nothing is installed yet, so the build tools (typescript, node-addon-api, node-gyp-build) are
// installed first, without running install scripts. postpack removes prebuilds/ again, so the checkout
// keeps building its addon from source.
//
//   SHMRING_PREBUILDS=running npm pack    # a prebuild for the running Node only (quick local packs)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const tools = ['typescript/package.json', 'node-addon-api/package.json', 'node-gyp-build/package.json'];
const missing = tools.filter((tool) => {
  try {
    require.resolve(tool);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  console.error(`shmring: installing the build tools first (missing: ${missing.map((t) => path.dirname(t)).join(', ')})`);
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--include=dev']);
}
const only = process.env.SHMRING_PREBUILDS === 'running' ? ['--only-running'] : [];
run(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), ...only]);
