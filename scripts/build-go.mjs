#!/usr/bin/env node
// Builds the Go peer's CLI into go-peer/bin/shmring (used by the demo, the cross-language tests and
// the bench). Skips with a note when Go is not installed, so that installing the Node package does
// not require Go.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const goPeer = path.join(root, 'go-peer');
const probe = spawnSync('go', ['version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error('shmring: Go not found; skipping the Go peer (install Go >= 1.21 to build go-peer/)');
  process.exit(process.argv.includes('--required') ? 1 : 0);
}
const result = spawnSync('go', ['build', '-o', path.join('bin', 'shmring'), './cmd/shmring'], { cwd: goPeer, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`shmring: building the Go peer failed (go build exit ${result.status})`);
  process.exit(result.status ?? 1);
}
