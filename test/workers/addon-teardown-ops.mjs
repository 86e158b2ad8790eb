// Every addon entry point in a seeded random order, forever: the load that addon-teardown.test.ts
// tears down under (worker.terminate(), process.exit()) at arbitrary points. Shared by the worker
// threads and the main thread of test/workers/addon-teardown-child.mjs.
//
// Each call is made for its side effects on the addon's state (mappings, locks, waiter threads,
// pending completions); results are not checked here: what the test checks is that tearing this
// down never aborts the process. Errors the addon throws on purpose (ERR_ROLE_TAKEN, ERR_CLOSED,
// ENOENT after an unlink) are part of the load and caught.
import path from 'node:path';
// The addon alone (not dist/index.js): a worker that loads less starts faster, so more of them fit
// in the test's time; every call below is an addon entry point.
import { loadNative } from '../../dist/native.js';

/** mulberry32: seeded, so a failing seed can be replayed. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OPERATIONS = [
  'create', 'open', 'lockRole', 'roleHeld', 'flush', 'stats', 'close',
  'futexWait', 'futexWaitAsync', 'futexWaitAsyncCancel', 'futexWake', 'introspect',
];

/**
 * Runs operations until the thread is torn down. `label` makes this thread's file names unique in
 * `dir`; `onRunning` is called once, after the first operation (the addon is loaded by then).
 */
export async function runOperations({ dir, seed, label, onRunning }) {
  const native = loadNative();
  const random = seededRandom(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  // A plain SharedArrayBuffer for futex words nobody else touches: waits on it time out or are
  // cancelled, which exercises the waiter threads' completion path.
  const words = new Int32Array(new SharedArrayBuffer(64));
  const files = [];
  const pending = [];
  let serial = 0;

  const operations = {
    create() {
      if (files.length >= 3) return;
      files.push(native.createRingFile(path.join(dir, `${label}-${serial++}.ring`), 4096, 256, 0o600, true));
    },
    open() {
      if (files.length === 0 || files.length >= 4) return;
      files.push(native.openRingFile(pick(files).path));
    },
    lockRole() {
      if (files.length === 0) return;
      const file = pick(files);
      const role = random() < 0.5 ? 'producer' : 'consumer';
      file.lockRole(role);
      if (random() < 0.5) file.unlockRole(role);
    },
    roleHeld() {
      if (files.length > 0) pick(files).roleHeld(random() < 0.5 ? 'producer' : 'consumer');
    },
    flush() {
      if (files.length > 0) pick(files).flush();
    },
    stats() {
      native.liveMappings();
      if (files.length > 0) void pick(files).buffer.byteLength;
    },
    close() {
      if (files.length === 0) return;
      const file = files.splice(Math.floor(random() * files.length), 1)[0];
      file.close();
      if (random() < 0.5) native.unlink(file.path);
    },
    futexWait() {
      native.futexWait(words.buffer, 0, random() < 0.8 ? 0 : 1, random() * 2);
    },
    futexWaitAsync() {
      // Left pending on purpose (a timeout of a few ms): teardown meets waits in every state.
      const wait = native.futexWaitAsync(words.buffer, 4 * Math.floor(random() * 4), 0, random() * 5);
      pending.push(wait.promise);
      if (pending.length > 16) pending.shift();
    },
    futexWaitAsyncCancel() {
      // On a ring file's header too: its mapping may be closed while the wait sleeps.
      const buffer = files.length > 0 && random() < 0.5 ? pick(files).buffer : words.buffer;
      const wait = native.futexWaitAsync(buffer, 0, new Int32Array(buffer, 0, 1)[0], Infinity);
      if (random() < 0.5) wait.cancel();
      else queueMicrotask(() => wait.cancel());
      pending.push(wait.promise);
      if (pending.length > 16) pending.shift();
    },
    futexWake() {
      const buffer = files.length > 0 && random() < 0.5 ? pick(files).buffer : words.buffer;
      native.futexWake(buffer, 4 * Math.floor(random() * 4));
    },
    introspect() {
      native.isRingFileBuffer(files.length > 0 ? pick(files).buffer : words.buffer);
      native.shmPath(`shmring-teardown-${label}`);
    },
  };

  for (let count = 0; ; count++) {
    try {
      operations[pick(OPERATIONS)]();
    } catch (error) {
      // Expected refusals only; anything else is a bug in this script, worth seeing.
      if (typeof error?.code !== 'string') throw error;
    }
    if (count === 0) onRunning?.();
    // Let completions (settled waits) and finalizers run between calls.
    if (random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
    else if (random() < 0.1) await Promise.race([pending[pending.length - 1], Promise.resolve()]);
  }
}
