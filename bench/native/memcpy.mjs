/**
 * Builds bench/native/memcpy.c with the system C compiler (build.mjs: once, into bench/native/.build) and runs
 * it. Run it before any worker thread exists: a fork from a process whose threads are busy on shared
 * memory leaves copy-on-write faults (and TLB shoot-downs) behind that slowed the next cross-thread
 * trial 2-5x in measurements here. When no compiler is present the reference is reported as unavailable, never as an error.
 */
import { spawnSync } from 'node:child_process';
import { buildC } from './build.mjs';

let cached;

export function nativeMemcpy() {
  if (cached) return cached;
  cached = build();
  return cached;
}

function build() {
  const built = buildC('memcpy');
  if (!built.available) return built;
  const { binary } = built;
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
