// Shared by the ring-*.mjs workers: the start barrier and the step protocol on the control words
// (the same layout as test/support/workers.ts: [0] arrived, [1] go, [4..] a test's own steps).
export const ARRIVED = 0;
export const GO = 1;
/** Upper bound for any single wait in a worker: a hang becomes a reported error, not a stuck thread. */
export const HANG_GUARD_MS = 60_000;

export function waitForValueSync(control, index, value, timeoutMs = HANG_GUARD_MS) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(control, index);
    if (seen === value) return;
    const remaining = deadline - performance.now();
    if (remaining <= 0) throw new Error(`control word ${index} is ${seen}, still not ${value} after ${timeoutMs} ms`);
    Atomics.wait(control, index, seen, remaining);
  }
}

export function signal(control, index, value) {
  Atomics.store(control, index, value);
  Atomics.notify(control, index);
}

/** Arrives at the start barrier and blocks until the main thread opens it. */
export function arriveAndWait(control) {
  Atomics.add(control, ARRIVED, 1);
  Atomics.notify(control, ARRIVED);
  waitForValueSync(control, GO, 1);
}

export function describeError(error) {
  return error instanceof Error ? `${error.name}${error.code ? ` [${error.code}]` : ''}: ${error.message}\n${error.stack}` : String(error);
}
