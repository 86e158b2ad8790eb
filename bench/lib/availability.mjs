/**
 * What the optional suites need, detected without crashing: the native addon (ring files) and the Go
 * peer CLI. Each returns { available, reason } with the reason printed as "skipped: <reason>".
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The Go peer CLI; SHMRING_BENCH_GO_CLI points elsewhere (or at nothing, to try the skip path). */
export const GO_CLI = process.env.SHMRING_BENCH_GO_CLI || path.join(root, 'go-peer', 'bin', 'shmring');

export async function ringFiles() {
  // SHMRING_BENCH_NO_NATIVE=1 runs the suites as on a machine without the addon.
  if (process.env.SHMRING_BENCH_NO_NATIVE === '1') return { available: false, reason: 'native addon not built (SHMRING_BENCH_NO_NATIVE=1)' };
  let RingFile;
  try {
    ({ RingFile } = await import('../../dist/file.js'));
  } catch (error) {
    return { available: false, reason: `dist/file.js not available (${error.code ?? error.message}); build with npx tsc -p tsconfig.json` };
  }
  if (process.platform !== 'linux') return { available: false, reason: `ring files need Linux; this is ${process.platform}` };
  try {
    RingFile.shmPath('shmring-bench-probe');
  } catch (error) {
    return { available: false, reason: `native addon not built (${String(error.message).split('\n')[0]})` };
  }
  return { available: true, RingFile };
}

export function goCli() {
  try {
    fs.accessSync(GO_CLI, fs.constants.X_OK);
    return { available: true, path: GO_CLI };
  } catch {
    return { available: false, reason: `${path.relative(root, GO_CLI) || GO_CLI} missing (node scripts/build-go.mjs)` };
  }
}

let unique = 0;
/** A fresh /dev/shm ring path for this process. */
export function shmName(RingFile, label) {
  unique++;
  return RingFile.shmPath(`shmring-bench-${process.pid}-${label}-${unique}`);
}
