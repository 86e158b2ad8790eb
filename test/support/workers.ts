/**
 * Worker threads for the cross-thread tests: a start barrier on a small SharedArrayBuffer (Atomics,
 * not sleeps), a typed report per worker, and bookkeeping so that every worker a test starts is
 * terminated afterwards even when the test fails.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const workersDir = fileURLToPath(new URL('../workers/', import.meta.url));
const live = new Set<Worker>();

/** Control words shared with the workers: [ARRIVED] counts parties at the barrier, [GO] opens it. */
export const ARRIVED = 0;
export const GO = 1;
/** First free control word for a test's own step protocol. */
export const FIRST_STEP_WORD = 4;

export function controlBuffer(words = 16): Int32Array {
  return new Int32Array(new SharedArrayBuffer(words * 4));
}

export interface StartedWorker<Report> {
  worker: Worker;
  /** The worker's one report message; rejects if it throws, or exits without reporting. */
  report: Promise<Report>;
}

/** Starts test/workers/<script> with workerData; the worker posts exactly one report when done. */
export function startWorker<Report>(script: string, workerData: unknown): StartedWorker<Report> {
  const worker = new Worker(workersDir + script, { workerData });
  live.add(worker);
  const report = new Promise<Report>((resolve, reject) => {
    let reported = false;
    worker.once('message', (message: Report) => {
      reported = true;
      resolve(message);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      live.delete(worker);
      if (!reported) reject(new Error(`worker ${script} exited with code ${code} before reporting`));
    });
  });
  return { worker, report };
}

/** Terminates every worker still running (call from afterEach: a failed test must not leave threads behind). */
export async function terminateWorkers(): Promise<void> {
  const running = [...live];
  live.clear();
  await Promise.all(running.map((worker) => worker.terminate()));
}

/** Resolves once control[index] holds `value` (waiting with Atomics.waitAsync); rejects after timeoutMs (hang guard). */
export async function waitForValue(control: Int32Array, index: number, value: number, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(control, index);
    if (seen === value) return;
    const remaining = deadline - performance.now();
    if (remaining <= 0) throw new Error(`control word ${index} is ${seen}, still not ${value} after ${timeoutMs} ms`);
    const wait = Atomics.waitAsync(control, index, seen, remaining);
    if (wait.async) await wait.value;
  }
}

/** Waits for `parties` workers to arrive at the start barrier, then lets them all go at once. */
export async function openBarrier(control: Int32Array, parties: number, timeoutMs = 30_000): Promise<void> {
  await waitForValue(control, ARRIVED, parties, timeoutMs);
  signal(control, GO, 1);
}

/** Stores a value into a control word and wakes whoever waits on it. */
export function signal(control: Int32Array, index: number, value: number): void {
  Atomics.store(control, index, value);
  Atomics.notify(control, index);
}
