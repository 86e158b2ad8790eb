// Shared by the reliability scripts: where the peers are, and a seeded random source.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The Go CLI built by `npm install` in a checkout (scripts/build-go.mjs). */
export const goCli = fileURLToPath(new URL('../go-peer/bin/shmring', import.meta.url));

/** A Node peer script of the test suite (test/workers/). */
export function nodeWorker(name) {
  return fileURLToPath(new URL(`../test/workers/${name}`, import.meta.url));
}

export function requirePeers() {
  if (!existsSync(goCli)) throw new Error(`reliability: ${goCli} is missing; run npm install (it builds the Go CLI)`);
}

/** mulberry32: a small seeded PRNG, so a failing run can be repeated with its --seed. */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits until `done()` is true, checking every millisecond; false if `limitMs` passes first. */
export async function until(done, limitMs) {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return true;
}
