#!/usr/bin/env node
// npm's install step for this package, with node-gyp-build's semantics: use the prebuilt addon in
// prebuilds/ when one matches this Node and loads, else build from source with node-gyp against this
// Node's own headers (scripts/build-native.mjs: nothing is downloaded). The addon serves ring files
// only; in-memory rings are pure TypeScript, so the install never fails because of the addon: without
// it, ring files throw ERR_NATIVE_UNAVAILABLE with the reason.
//
//   SHMRING_NO_NATIVE=1           neither load nor build the addon (the loader refuses it too)
//   npm_config_build_from_source  (npm install --build-from-source) ignore prebuilds
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const note = (message) => console.error(`shmring: ${message}`);

function prebuiltAddon() {
  // Only prebuilds count here: a build/Release left from another Node must not stop a rebuild.
  process.env.PREBUILDS_ONLY = '1';
  const require = createRequire(import.meta.url);
  let file;
  try {
    file = require('node-gyp-build').path(root);
  } catch {
    return undefined;
  }
  try {
    require(file);
    return file;
  } catch (error) {
    note(`prebuilt ${path.relative(root, file)} does not load here (${error.message.split('\n')[0]}); building from source`);
    return undefined;
  }
}

function main() {
  const switchedOff = process.env.SHMRING_NO_NATIVE;
  if (switchedOff !== undefined && switchedOff !== '' && switchedOff !== '0') {
    note(`SHMRING_NO_NATIVE=${switchedOff}: native addon skipped; ring files will throw ERR_NATIVE_UNAVAILABLE, in-memory rings work`);
    return;
  }
  if (process.platform !== 'linux') {
    note(`no native addon on ${process.platform} (ring files need Linux); in-memory rings work`);
    return;
  }
  const fromSource = ['true', '1'].includes(process.env.npm_config_build_from_source ?? '');
  if (!fromSource) {
    const prebuilt = prebuiltAddon();
    if (prebuilt) {
      note(`using the prebuilt addon ${path.relative(root, prebuilt)}`);
      return;
    }
  }
  const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    note(
      `WARNING: no prebuilt addon for Node ${process.version} (ABI ${process.versions.modules}) and the build from ` +
        `source failed (exit ${build.status}; see above). The package is installed: in-memory rings work, ring files ` +
        'throw ERR_NATIVE_UNAVAILABLE until `npm rebuild shmring` succeeds.',
    );
  }
}

main();
