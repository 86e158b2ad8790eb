/**
 * Builds bench/native/memcpy.c with the system C compiler (once, into bench/native/.build) and runs
 * it. Run it before any worker thread exists: a fork from a process whose threads are busy on shared
 * memory leaves copy-on-write faults (and TLB shoot-downs) behind that slowed the next cross-thread
 * trial 2-5x in measurements here. When no compiler is present the reference is reported as unavailable, never as an error.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.join(here, 'memcpy.c');
const binary = path.join(here, '.build', 'memcpy');

let cached;

export function nativeMemcpy() {
  if (cached) return cached;
  cached = build();
  return cached;
}

function build() {
  const compiler = process.env.CC || 'cc';
  try {
    const stale = !fs.existsSync(binary) || fs.statSync(binary).mtimeMs < fs.statSync(source).mtimeMs;
    if (stale) {
      fs.mkdirSync(path.dirname(binary), { recursive: true });
      execFileSync(compiler, ['-O2', '-std=c11', '-o', binary, source], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    }
  } catch (error) {
    const reason = error.code === 'ENOENT' ? `no C compiler (${compiler})` : `building memcpy.c failed: ${String(error.stderr ?? error.message).trim().split('\n')[0]}`;
    return { available: false, reason };
  }
  return {
    available: true,
    /** All rounds in one child: { count, elapsedNs: [per round], rssBytes }. */
    run(size, targetLength, targetMs, rounds) {
      const result = spawnSync(binary, [String(size), String(targetLength), String(targetMs), String(rounds)], { encoding: 'utf8', timeout: 300_000 });
      if (result.status !== 0) throw new Error(`memcpy reference failed: ${result.stderr || result.error}`);
      return JSON.parse(result.stdout);
    },
  };
}
