/**
 * Every shared-memory atomic access of the TypeScript side, named for its intent. No other module
 * calls `Atomics.*`.
 *
 * JavaScript offers only sequentially consistent atomics. Each wrapper names the weakest ordering the
 * protocol needs (docs/FORMAT.md §7) so that a reader can map this module onto the C++
 * (native/include/shmring/atomics.h) and Go (go-peer/shmring/atomics.go) ones; SeqCst satisfies each.
 * Plain typed-array reads and writes are used only for record bytes, which the positions order.
 */

/** Load-acquire: everything the writer did before its store-release of this value is visible after. */
export function loadAcquire(words: Int32Array, index: number): number {
  return Atomics.load(words, index);
}

/**
 * Store-release: every earlier write (metadata) is visible to a load-acquire of this value. Used for
 * `ready`. The positions (tail, head) are stored with storeSeqCst instead: the notifier of FORMAT.md
 * §6 follows its position store with a load of the peer's waiting flag, and release-then-load may be
 * reordered (StoreLoad), losing a wake-up. A sequentially consistent store is also a release.
 */
export function storeRelease(words: Int32Array, index: number, value: number): void {
  Atomics.store(words, index, value);
}

/**
 * Sequentially consistent store: one half of the waiting protocol's store-then-load (FORMAT.md §6):
 * positions (tail, head; also their release for the record bytes), waiting flags, role states.
 */
export function storeSeqCst(words: Int32Array, index: number, value: number): void {
  Atomics.store(words, index, value);
}

/** Sequentially consistent load: the other half of the waiting protocol's store-then-load. */
export function loadSeqCst(words: Int32Array, index: number): number {
  return Atomics.load(words, index);
}

/** Relaxed load of an informational word (pid, heartbeat): no ordering needed, only no tearing. */
export function loadRelaxed(words: Int32Array, index: number): number {
  return Atomics.load(words, index);
}

/** Relaxed store of an informational word (pid, heartbeat). */
export function storeRelaxed(words: Int32Array, index: number, value: number): void {
  Atomics.store(words, index, value);
}

/** Sequentially consistent fetch-add (doorbell bump); returns the previous value. */
export function fetchAddSeqCst(words: Int32Array, index: number, delta: number): number {
  return Atomics.add(words, index, delta);
}

/** Sequentially consistent compare-and-swap; returns the value found. Role claims in one process. */
export function compareExchangeSeqCst(words: Int32Array, index: number, expected: number, value: number): number {
  return Atomics.compareExchange(words, index, expected, value);
}

export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/** Parks this thread while words[index] === expected (V8's own waiter queue; same process only). */
export function atomicsWait(words: Int32Array, index: number, expected: number, timeoutMs: number): WaitResult {
  return Atomics.wait(words, index, expected, timeoutMs);
}

/** Promise that settles when words[index] is notified, differs from expected, or the timeout passes. */
export function atomicsWaitAsync(
  words: Int32Array,
  index: number,
  expected: number,
  timeoutMs: number,
): Promise<WaitResult> {
  const result = Atomics.waitAsync(words, index, expected, timeoutMs);
  return result.async ? result.value : Promise.resolve(result.value);
}

/** Wakes every Atomics waiter of words[index] in this process. */
export function atomicsNotify(words: Int32Array, index: number): void {
  Atomics.notify(words, index);
}
