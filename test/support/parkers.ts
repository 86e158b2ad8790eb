/**
 * Parkers for tests (src/parker.ts `Parker`): they delegate to the real Atomics parker and let a test
 * observe, or hold, a side at the exact points where the waiting protocol (docs/FORMAT.md §6) parks
 * and wakes — the step points of the deterministic schedules.
 */
import { atomicsParker, type Parker, type WaitResult } from '../../src/index.js';

export interface CountingParker {
  parker: Parker;
  /** waitSync/waitAsync calls so far (each is one park after the flag store and the re-check). */
  readonly syncWaits: number;
  readonly asyncWaits: number;
  /** Results of the real waits, in order. */
  readonly results: WaitResult[];
  /** Values of Atomics.notify-style wakes: how many parked waiters each wake() found, in order. */
  readonly wokenCounts: number[];
  /** Resolves once `count` async waits have been registered with the real parker. */
  waitsReached(count: number): Promise<void>;
}

/** Counts parks and wakes; the real wait is registered before a waiter of waitsReached() resumes. */
export function countingParker(): CountingParker {
  let syncWaits = 0;
  let asyncWaits = 0;
  const results: WaitResult[] = [];
  const wokenCounts: number[] = [];
  const listeners: Array<{ count: number; resolve: () => void }> = [];
  const parker: Parker = {
    waitSync(words, index, expected, timeoutMs) {
      syncWaits++;
      const result = atomicsParker.waitSync(words, index, expected, timeoutMs);
      results.push(result);
      return result;
    },
    waitAsync(words, index, expected, timeoutMs, signal) {
      const pending = atomicsParker.waitAsync(words, index, expected, timeoutMs, signal);
      asyncWaits++;
      for (const listener of listeners.splice(0)) {
        if (asyncWaits >= listener.count) listener.resolve();
        else listeners.push(listener);
      }
      return pending.then((result) => {
        results.push(result);
        return result;
      });
    },
    wake(words, index) {
      wokenCounts.push(Atomics.notify(words, index));
    },
  };
  return {
    parker,
    get syncWaits() {
      return syncWaits;
    },
    get asyncWaits() {
      return asyncWaits;
    },
    results,
    wokenCounts,
    waitsReached(count) {
      if (asyncWaits >= count) return Promise.resolve();
      return new Promise((resolve) => listeners.push({ count, resolve }));
    },
  };
}
