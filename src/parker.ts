/**
 * How a side of a ring parks and wakes on a doorbell word (docs/FORMAT.md §6). The ring protocol
 * calls these; which primitive runs underneath depends on who can share the memory:
 * - `atomicsParker` (default): threads of one process over a SharedArrayBuffer, `Atomics.wait/notify`.
 * - the futex parker from `src/file.ts`: ring files, which another process (Node or Go) may share;
 *   Linux futex without FUTEX_PRIVATE_FLAG, through the native addon.
 */
import { atomicsNotify, atomicsWait, atomicsWaitAsync, type WaitResult } from './atomics.js';

export type { WaitResult };

export interface Parker {
  /** Blocks the calling thread while words[index] === expected, for at most timeoutMs (Infinity: no limit). */
  waitSync(words: Int32Array, index: number, expected: number, timeoutMs: number): WaitResult;
  /**
   * Settles when woken, when the word differs, on timeout, or when `signal` aborts (then promptly,
   * with 'ok': the caller rechecks its signal). Never rejects.
   */
  waitAsync(words: Int32Array, index: number, expected: number, timeoutMs: number, signal?: AbortSignal): Promise<WaitResult>;
  /** Wakes every waiter parked on words[index]. */
  wake(words: Int32Array, index: number): void;
}

export const atomicsParker: Parker = {
  waitSync: atomicsWait,
  waitAsync(words, index, expected, timeoutMs, signal) {
    const pending = atomicsWaitAsync(words, index, expected, timeoutMs);
    if (!signal) return pending;
    if (signal.aborted) return Promise.resolve('ok');
    // Same thread, same isolate: the waiter is registered before this listener can run, so a notify
    // from it always finds the waiter. It wakes only this side: one waiter per doorbell (SPSC).
    const onAbort = (): void => atomicsNotify(words, index);
    signal.addEventListener('abort', onAbort, { once: true });
    return pending.finally(() => signal.removeEventListener('abort', onAbort));
  },
  wake: atomicsNotify,
};
