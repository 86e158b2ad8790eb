/**
 * How records move between the tiers of a pipeline (source, stage workers, sink), shared by the main
 * thread (src/pipeline.ts) and the stage workers (src/pipeline-worker.ts).
 *
 * Topology. Between two consecutive tiers of P producers and C consumers there are P x C rings, one
 * per (producer, consumer) pair, each a plain SPSC ring. A tier fans its output out over its C rings
 * and its consumers fan in from their P rings.
 *
 * Order. An *item* is everything derived from one source record; item k is the k-th record the source
 * wrote. While every stage so far is ordered, item k is routed to worker k mod C of each tier, so ring
 * (p, c) carries exactly the items k = p (mod P) and k = c (mod C), in increasing k. A consumer reads
 * its items k = c, c + C, c + 2C, ... each from ring k mod P: a round-robin collect that restores the
 * source order without sequence numbers in the records. An item that became zero or several records
 * is framed with control records (GROUP_BEGIN ... GROUP_END, or ITEM_EMPTY) so the reader knows where
 * the item ends; an item of exactly one record (the common case) costs nothing extra. After the first
 * unordered stage, order is gone: producers write to whichever ring has room and consumers read from
 * whichever ring has data, without any framing.
 *
 * Deadlock freedom of the ordered collect: every tier handles its items in increasing k and forwards
 * each record of an item as soon as it has it (streaming, also inside a group). Take the smallest item
 * k* the sink has not finished: every item before it is through every tier, so each ring on k*'s path
 * holds nothing older than k*, and the node that has k*'s input can always hand its output to a
 * consumer whose next item is k*. So k* always progresses, with any ring capacity.
 *
 * Publishing. Producers publish in batches ('auto' policy) and every tier flushes all its outputs
 * before it waits for input, so a batch never waits on a record stuck behind it.
 */
import { fetchAddSeqCst, loadAcquire, loadSeqCst, storeSeqCst } from '../atomics.js';
import type { RingConsumer, RecordHandler } from '../consumer.js';
import {
  CONSUMER_WAITING_INDEX,
  DATA_DOORBELL_INDEX,
  HEADER_LENGTH,
  HEAD_INDEX,
  PRODUCER_STATE_INDEX,
  ROLE_CLOSED,
  TAIL_INDEX,
} from '../layout.js';
import type { Parker } from '../parker.js';
import type { RingProducer } from '../producer.js';
import type { RecordBatchWriter } from '../batch.js';
import { RING_READ, RING_WRITTEN } from './stats.js';

/** While input keeps coming, a stage wakes a parked consumer at most this often (ms): worker.ts, chain.ts. */
export const WAKE_INTERVAL_MS = 1;

/** Record type reserved for the pipeline's framing records. User record types are 0 ..= MAX_PIPELINE_TYPE. */
export const CONTROL_TYPE = 0xffff;
/** Largest record type a source or stage may use inside a pipeline (0xFFFF frames items). */
export const MAX_PIPELINE_TYPE = 0xfffe;
/** Control record payloads (one byte). */
export const GROUP_BEGIN = 1;
export const GROUP_END = 2;
export const ITEM_EMPTY = 3;

const CONTROL_PAYLOADS: Uint8Array[] = [new Uint8Array(0), new Uint8Array([GROUP_BEGIN]), new Uint8Array([GROUP_END]), new Uint8Array([ITEM_EMPTY])];

/** Called by FanIn for every user record, with the index of the item it belongs to (-1 once order is gone). */
export type ItemRecordHandler = (type: number, data: Uint8Array, offset: number, length: number, item: number) => void;
/** Called by an ordered FanIn for each framing record, with its item. */
export type ControlHandler = (code: number, item: number, offset: number, length: number) => void;

export interface FanInOptions {
  /** Read items in source order (round-robin collect) and interpret framing records. */
  ordered: boolean;
  /** Ordered: this consumer's position in its tier (its first item) and the tier's size (the item stride). */
  first: number;
  stride: number;
  /** How this thread parks on the rings' doorbells (atomicsParker for in-memory rings). */
  parker: Parker;
  stats: Float64Array;
  /** Index into `stats` of each ring's slot. */
  ringStats: number[];
}

export class PipelineProtocolError extends Error {
  readonly code = 'ERR_PIPELINE_PROTOCOL';
}

/**
 * The reading end of a tier node: its input rings and the collect discipline. `pump` is synchronous
 * and never waits; `waitSync` blocks the thread on the one ring that must be read next (workers);
 * `waitAsync` waits without blocking for the ring(s) that can deliver next.
 */
export class FanIn {
  private readonly consumers: RingConsumer[];
  private readonly ordered: boolean;
  private readonly stride: number;
  private readonly parker: Parker;
  private readonly stats: Float64Array;
  private readonly ringStats: number[];
  private readonly handler: RecordHandler;
  /** Ordered: the item being read, the ring it comes from, and whether it is a group still open. */
  private item: number;
  private ringIndex: number;
  private inGroup = false;
  /** Unordered: the rings not yet ended, and where the next sweep starts. */
  private active: number[];
  private sweep = 0;
  /** The ring the handler is currently being called for (for the per-ring read counters). */
  private current = 0;
  private finished = false;
  /**
   * Called before each poll of a ring with the most records it may deliver: a batch handler uses it
   * to know which record ends the poll (its records are released when the poll returns).
   */
  onPollStart: ((consumer: RingConsumer, limit: number) => void) | undefined = undefined;

  constructor(consumers: RingConsumer[], options: FanInOptions, onRecord: ItemRecordHandler, onControl: ControlHandler) {
    this.consumers = consumers;
    this.ordered = options.ordered;
    this.stride = options.stride;
    this.parker = options.parker;
    this.stats = options.stats;
    this.ringStats = options.ringStats;
    this.item = options.first;
    this.ringIndex = options.first % consumers.length;
    this.active = consumers.map((_, index) => index);
    this.onRecord = onRecord;
    this.onControl = onControl;
    const stats = this.stats;
    // poll()'s handler (several input rings): counts the record on its ring, then delivers it.
    this.handler = this.ordered
      ? (type, data, offset, length) => {
          stats[this.ringStats[this.current] + RING_READ]++;
          this.deliverOrdered(type, data, offset, length);
        }
      : (type, data, offset, length) => {
          stats[this.ringStats[this.current] + RING_READ]++;
          this.deliverUnordered(type, data, offset, length);
        };
  }

  private readonly onRecord: ItemRecordHandler;
  private readonly onControl: ControlHandler;

  /** An ordered record: framing records move the item on (or open a group); others go to onRecord with their item. */
  private deliverOrdered(type: number, data: Uint8Array, offset: number, length: number): void {
    const item = this.item;
    if (type === CONTROL_TYPE) {
      const code = length === 1 ? data[offset] : 0;
      if (code === GROUP_BEGIN && !this.inGroup) {
        this.inGroup = true;
      } else if ((code === GROUP_END && this.inGroup) || (code === ITEM_EMPTY && !this.inGroup)) {
        this.inGroup = false;
        this.nextItem();
      } else {
        throw new PipelineProtocolError(`shmring pipeline: unexpected framing record (code ${code}, length ${length}) in item ${item}`);
      }
      this.onControl(code, item, offset, length);
      return;
    }
    // Advance before the callback: a callback that throws (or a sink that stops the batch) has
    // consumed its record all the same.
    if (!this.inGroup) this.nextItem();
    this.onRecord(type, data, offset, length, item);
  }

  private deliverUnordered(type: number, data: Uint8Array, offset: number, length: number): void {
    // Unordered rings carry no framing; tolerate it anyway (a stray marker has no payload to deliver,
    // but its bytes count for a batch handler's bookkeeping).
    if (type === CONTROL_TYPE) {
      this.onControl(0, -1, offset, length);
      return;
    }
    this.onRecord(type, data, offset, length, -1);
  }

  private nextItem(): void {
    this.item += this.stride;
    // One input ring (the common case) needs no division per record.
    if (this.consumers.length !== 1) this.ringIndex = (this.ringIndex + this.stride) % this.consumers.length;
  }

  /** True once every input ring has ended (and been drained). */
  get done(): boolean {
    return this.finished;
  }

  /** The item the next ordered record belongs to. */
  get nextItemIndex(): number {
    return this.item;
  }

  /**
   * Handles up to `limit` records that are available now, without waiting. Returns how many (0: none
   * available now), or -1 once the input has ended.
   */
  pump(limit: number): number {
    if (this.finished) return -1;
    if (this.consumers.length === 1) return this.pumpSingle(limit);
    return this.ordered ? this.pumpOrdered(limit) : this.pumpUnordered(limit);
  }

  /**
   * One input ring (a tier of one worker before this node: the common case): read through the
   * consumer's batch reader, which validates each record as poll() does but with no handler call of
   * its own, and releases the whole batch with one store of the head (also when a callback throws:
   * the records up to that one are consumed). `onBatchEnd` runs before the release, while the
   * batch's records are still valid.
   */
  private pumpSingle(limit: number): number {
    const consumer = this.consumers[0];
    const reader = consumer.batch(limit);
    const data = reader.data;
    let handled = 0;
    try {
      if (this.ordered) {
        while (reader.next()) {
          handled++;
          this.deliverOrdered(reader.type, data, reader.offset, reader.length);
        }
      } else {
        while (reader.next()) {
          handled++;
          this.deliverUnordered(reader.type, data, reader.offset, reader.length);
        }
      }
      if (handled > 0 && this.onBatchEnd !== undefined) this.onBatchEnd();
    } finally {
      reader.release();
      this.stats[this.ringStats[0] + RING_READ] += handled;
    }
    if (handled > 0) return handled;
    if (consumer.ended) {
      this.finished = true;
      return -1;
    }
    return 0;
  }

  /**
   * With one input ring (pump reads it in batches): called after the last record of each batch,
   * before the batch's records are released (a batch handler runs what it gathered here).
   */
  onBatchEnd: (() => void) | undefined = undefined;

  private pumpOrdered(limit: number): number {
    const single = this.consumers.length === 1;
    let handled = 0;
    while (handled < limit) {
      const ring = this.consumers[(this.current = this.ringIndex)];
      // With several rings, one record per poll: the next record may belong to the next ring.
      const pollLimit = single ? limit - handled : 1;
      if (this.onPollStart !== undefined) this.onPollStart(ring, pollLimit);
      const count = ring.poll(this.handler, pollLimit);
      if (count === 0) {
        if (ring.ended) {
          // The ring that owes the next item has ended, so that item does not exist, nor any later one
          // (item k goes to ring k mod P and every producer handles its items in order).
          if (handled === 0) this.finished = true;
          return handled === 0 ? -1 : handled;
        }
        return handled;
      }
      handled += count;
    }
    return handled;
  }

  private pumpUnordered(limit: number): number {
    const active = this.active;
    let handled = 0;
    for (let i = 0; i < active.length && handled < limit; i++) {
      const index = active[(this.sweep + i) % active.length];
      this.current = index;
      if (this.onPollStart !== undefined) this.onPollStart(this.consumers[index], limit - handled);
      handled += this.consumers[index].poll(this.handler, limit - handled);
    }
    this.sweep = (this.sweep + 1) % Math.max(1, active.length);
    if (handled > 0) return handled;
    this.active = active.filter((index) => !this.consumers[index].ended);
    if (this.active.length === 0) {
      this.finished = true;
      return -1;
    }
    return 0;
  }

  /** The one ring the next record must come from, or null when several rings could deliver it. */
  private nextRing(): number {
    if (this.ordered) return this.ringIndex;
    return this.active.length === 1 ? this.active[0] : -1;
  }

  /** Whether waitSync() can block on a single ring right now (else use waitAsync()). */
  get canBlock(): boolean {
    return this.finished || this.nextRing() >= 0;
  }

  /**
   * Blocks the thread until the one ring that must deliver next has data or has ended (spinning
   * `spin` checks first). Only when `canBlock`. Returns at once when the input is finished.
   */
  waitSync(spin: number): void {
    if (this.finished) return;
    waitForDataSync(this.consumers[this.nextRing()], this.parker, spin);
  }

  /**
   * Waits, without blocking the thread, until some ring that could deliver next has data or has
   * ended. Rejects with the signal's reason on abort.
   */
  async waitAsync(signal?: AbortSignal): Promise<void> {
    if (this.finished) return;
    const index = this.nextRing();
    if (index >= 0) {
      await waitForData([this.consumers[index]], this.parker, signal);
    } else {
      await waitForData(
        this.active.map((ring) => this.consumers[ring]),
        this.parker,
        signal,
      );
    }
  }

  close(): void {
    for (const consumer of this.consumers) consumer.close();
  }
}

/**
 * Where a reader of a ring waits for data: the word it reads up to (the ring's tail, or in an
 * in-place chain the last stage's cursor), the waiting flag and the doorbell beside it, and the
 * ring's header (head, tail and the producer's state, for the end).
 */
interface Bell {
  ring: Int32Array;
  words: Int32Array;
  position: number;
  waiting: number;
  doorbell: number;
}

/** Why waitForData cancels the parks that did not fire (never seen by a caller). */
const WAIT_OVER = Symbol('wait over');

const chainBells = new WeakMap<RingConsumer, Bell>();

/** An in-place chain's sink: `consumer` reads up to `cursors[line + position]` and waits on that line's doorbell (chain.ts). */
export function readFromCursor(consumer: RingConsumer, cursors: Int32Array, line: number, offsets: { position: number; waiting: number; doorbell: number }): void {
  chainBells.set(consumer, {
    ring: wordsOf(consumer.buffer),
    words: cursors,
    position: line + offsets.position,
    waiting: line + offsets.waiting,
    doorbell: line + offsets.doorbell,
  });
}

function bellOf(consumer: RingConsumer): Bell {
  const chained = chainBells.get(consumer);
  if (chained !== undefined) return chained;
  const ring = wordsOf(consumer.buffer);
  return { ring, words: ring, position: TAIL_INDEX, waiting: CONSUMER_WAITING_INDEX, doorbell: DATA_DOORBELL_INDEX };
}

/** Unread data (the position ahead of the head), or the end: the producer closed and everything it wrote is released. */
function hasDataOrEnd(bell: Bell): boolean {
  const head = loadAcquire(bell.ring, HEAD_INDEX);
  if (loadAcquire(bell.words, bell.position) !== head) return true;
  return loadSeqCst(bell.ring, PRODUCER_STATE_INDEX) === ROLE_CLOSED && loadAcquire(bell.ring, TAIL_INDEX) === head;
}

const headerWords = new WeakMap<SharedArrayBuffer, Int32Array>();
/** The header words of a ring's buffer, made once per buffer. */
export function wordsOf(buffer: SharedArrayBuffer): Int32Array {
  let words = headerWords.get(buffer);
  if (words === undefined) {
    words = new Int32Array(buffer, 0, HEADER_LENGTH >> 2);
    headerWords.set(buffer, words);
  }
  return words;
}

/**
 * Waits until any of `consumers` (whose records this thread has all read and released, so head is
 * the read position) has unread data or an ended producer. This is the consumer's side of the
 * waiting protocol (docs/FORMAT.md §6) applied to several rings at once: read each doorbell, flag
 * waiting on each, recheck each tail; then park on all the doorbells together (Atomics.waitAsync or the
 * futex waiter, which can wait on several words, unlike a blocking wait). The Dekker argument holds
 * per ring, so no wake-up is lost. The parks that did not fire are cancelled, not leaked.
 */
export async function waitForData(consumers: RingConsumer[], parker: Parker, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const bells = consumers.map(bellOf);
  const seen = bells.map((bell) => loadSeqCst(bell.words, bell.doorbell));
  const ready = (): boolean => bells.some(hasDataOrEnd);
  for (const bell of bells) storeSeqCst(bell.words, bell.waiting, 1);
  const cancel = new AbortController();
  try {
    if (ready()) return;
    const stop = signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal;
    await Promise.race(bells.map((bell, index) => parker.waitAsync(bell.words, bell.doorbell, seen[index], Infinity, stop)));
    signal?.throwIfAborted();
  } finally {
    // A reason of our own: abort() without one makes a DOMException (a stack trace) per wait.
    cancel.abort(WAIT_OVER);
    for (const bell of bells) storeSeqCst(bell.words, bell.waiting, 0);
  }
}

/**
 * The blocking form of waitForData for one ring (docs/FORMAT.md §6, consumer side): spin, then flag
 * waiting and park on the data doorbell. Returns after one wake-up; the caller rechecks (spurious
 * wake-ups are harmless).
 */
export function waitForDataSync(consumer: RingConsumer, parker: Parker, spin: number): void {
  const bell = bellOf(consumer);
  for (let i = 0; i < spin; i++) if (hasDataOrEnd(bell)) return;
  const seen = loadSeqCst(bell.words, bell.doorbell);
  storeSeqCst(bell.words, bell.waiting, 1);
  try {
    if (hasDataOrEnd(bell)) return;
    parker.waitSync(bell.words, bell.doorbell, seen, Infinity);
  } finally {
    storeSeqCst(bell.words, bell.waiting, 0);
  }
}

/** Rings a consumer's doorbell itself: makes a parked waitForData (or read) recheck. Harmless otherwise. */
export function ringDataDoorbell(buffer: SharedArrayBuffer, parker: Parker): void {
  const words = wordsOf(buffer);
  fetchAddSeqCst(words, DATA_DOORBELL_INDEX, 1);
  parker.wake(words, DATA_DOORBELL_INDEX);
}

export interface FanOutOptions {
  /** The consuming tier reads in order: route item k to ring k mod C and frame non-single items. */
  ordered: boolean;
  stats: Float64Array;
  ringStats: number[];
  /**
   * One output ring written through its producer's batch writer, published only by flush() (and
   * when a record finds the ring full): for a stage worker, which flushes between items and before
   * it waits. Off for the source, whose producers publish on their own policy.
   */
  batched?: boolean;
  /** Batched: index into `stats` of the node's records-out counter, for records claimed on the batch writer itself (context.batch()). */
  recordsOutIndex?: number;
}

/**
 * The writing end of a tier node. `tryWrite` never waits: it returns -1 when the record was written,
 * else the index of the ring to wait on (the caller waits with writeSync in a worker, or write() on
 * the main thread, on `producers[index]`).
 */
export class FanOut {
  readonly producers: RingProducer[];
  readonly ordered: boolean;
  readonly maxRecordLength: number;
  private readonly stats: Float64Array;
  private readonly ringStats: number[];
  private roundRobin = 0;
  /** Batched (one ring): the open batch of producers[0], or undefined between batches. */
  private readonly batched: boolean;
  private writer: RecordBatchWriter | undefined = undefined;
  /** Batched: the open claim went to the producer itself (claimSync, after the ring was full), not to the batch. */
  private claimedAlone = false;

  constructor(producers: RingProducer[], options: FanOutOptions) {
    this.producers = producers;
    this.ordered = options.ordered;
    this.stats = options.stats;
    this.ringStats = options.ringStats;
    this.maxRecordLength = Math.min(...producers.map((producer) => producer.maxRecordLength));
    this.batched = options.batched === true && producers.length === 1;
    this.recordsOutIndex = options.recordsOutIndex ?? -1;
  }

  /** Batched: the open batch, opened if need be. */
  private batch(): RecordBatchWriter {
    return (this.writer ??= this.producers[0].batch());
  }

  /** Batched: publishes the open batch (one store of the tail) and counts its records. */
  private publishBatch(wake = true): void {
    const writer = this.writer;
    if (writer === undefined) return;
    this.writer = undefined;
    const records = writer.publishAndWake(wake);
    this.stats[this.ringStats[0] + RING_WRITTEN] += records;
    // Records a stage claimed on the writer itself (context.batch()) are counted here, the others where they were written.
    if (this.recordsOutIndex >= 0) this.stats[this.recordsOutIndex] += records - this.countedInBatch;
    this.countedInBatch = 0;
  }

  /** Batched: records of the open batch written through tryWrite/tryClaim (counted by their writer). */
  private countedInBatch = 0;
  /** Index into stats of the node's records-out counter, for records written on the batch writer directly; -1: none. */
  private readonly recordsOutIndex: number;

  /**
   * Batched: the open batch writer itself, for a stage that claims its output records on it
   * (context.batch()); undefined when this output is not one ring written in batches.
   */
  directBatch(): RecordBatchWriter | undefined {
    return this.batched ? this.batch() : undefined;
  }

  /**
   * Batched: publishes the open batch, blocks this thread until a record of `length` bytes fits in
   * the ring, and returns the writer, open again (context.waitForRoom). Throws ERR_CLOSED if the
   * consumer left.
   */
  waitForRoom(length: number): RecordBatchWriter {
    this.publishBatch();
    const producer = this.producers[0];
    // A claim that waits for room, then gives it back: nothing is written (a wrap's padding may be).
    producer.claimSync(length, 0);
    producer.abort();
    return this.batch();
  }

  /** Ordered: the ring of item `item`. */
  ringOf(item: number): number {
    return item % this.producers.length;
  }

  tryWrite(payload: Uint8Array, type: number, item: number): number {
    const producers = this.producers;
    if (this.batched) {
      const writer = this.batch();
      const at = writer.claim(payload.length, type);
      if (at < 0) return 0;
      writer.data.set(payload, at);
      this.countedInBatch++;
      return -1;
    }
    if (this.ordered || producers.length === 1) {
      const index = this.ordered && producers.length !== 1 ? item % producers.length : 0;
      if (producers[index].tryWrite(payload, type)) {
        this.stats[this.ringStats[index] + RING_WRITTEN]++;
        return -1;
      }
      return index;
    }
    // Unordered: the next ring in turn, or any other with room; wait on the one in turn if all are full.
    const start = this.roundRobin;
    this.roundRobin = (start + 1) % producers.length;
    for (let i = 0; i < producers.length; i++) {
      const index = (start + i) % producers.length;
      if (producers[index].tryWrite(payload, type)) {
        this.stats[this.ringStats[index] + RING_WRITTEN]++;
        return -1;
      }
    }
    return start;
  }

  /** The ring of the open claim (tryClaim/claimSync); -1 when none is open. */
  claimRing = -1;

  /**
   * Zero-copy: reserves a record of `length` bytes for `item` without waiting. Returns the payload
   * offset in `producers[claimRing].data`, or -1 when full (claimRing is then the ring to wait on
   * with claimSync). Then commitClaim() or abortClaim().
   */
  tryClaim(length: number, type: number, item: number): number {
    const producers = this.producers;
    if (this.batched) {
      this.claimRing = 0;
      this.claimedAlone = false;
      const writer = this.batch();
      writer.mark();
      return writer.claim(length, type);
    }
    if (this.ordered || producers.length === 1) {
      const index = this.ordered && producers.length !== 1 ? item % producers.length : 0;
      this.claimRing = index;
      return producers[index].tryClaim(length, type);
    }
    const start = this.roundRobin;
    this.roundRobin = (start + 1) % producers.length;
    for (let i = 0; i < producers.length; i++) {
      const index = (start + i) % producers.length;
      const offset = producers[index].tryClaim(length, type);
      if (offset >= 0) {
        this.claimRing = index;
        return offset;
      }
    }
    this.claimRing = start;
    return -1;
  }

  /** Blocks the thread until ring `claimRing` (left by a full tryClaim) has room; the payload offset. */
  claimSync(length: number, type: number): number {
    if (this.batched) {
      // The batch so far goes out first (the consumer can only make room from what it sees); the
      // record is then the producer's own claim, and the next record opens a new batch.
      this.publishBatch();
      this.claimedAlone = true;
    }
    this.beforeBlocking();
    return this.producers[this.claimRing].claimSync(length, type);
  }

  /**
   * Before this thread blocks on one ring's room: publish every ring and wake every parked reader
   * (a publish that left one parked owes it a wake: RingProducer.publishTail). Else a reader of
   * another ring could sleep on records this thread published quietly while the ring it waits on
   * can only drain once that reader has moved: with ordered multi-worker tiers it does (the sink
   * collects in order), and the test "groups and drops travel through a later multi-worker stage"
   * hung that way on Node 24 in CI.
   */
  private beforeBlocking(): void {
    for (const producer of this.producers) producer.publishTail(true);
  }

  commitClaim(): void {
    const index = this.claimRing;
    this.claimRing = -1;
    if (this.batched && !this.claimedAlone) {
      this.countedInBatch++; // part of the batch: the ring's counter counts it when it is published
      return;
    }
    this.producers[index].commit();
    this.stats[this.ringStats[index] + RING_WRITTEN]++;
  }

  abortClaim(): void {
    if (this.batched && !this.claimedAlone) this.writer!.rewind();
    else this.producers[this.claimRing].abort();
    this.claimRing = -1;
  }

  /** Index into stats of ring `index`'s slot. */
  ringStatsOf(index: number): number {
    return this.ringStats[index];
  }

  /** Counts a record written by the caller's waiting path on ring `index`. */
  countWritten(index: number): void {
    this.stats[this.ringStats[index] + RING_WRITTEN]++;
  }

  /**
   * Writes a record, blocking this thread while ring `index` (as tryWrite returned it) is full;
   * throws ERR_CLOSED if its consumer left.
   */
  writeSync(index: number, payload: Uint8Array, type: number): void {
    if (this.batched) this.publishBatch();
    this.beforeBlocking();
    this.producers[index].writeSync(payload, type);
    this.stats[this.ringStats[index] + RING_WRITTEN]++;
  }

  controlPayload(code: number): Uint8Array {
    return CONTROL_PAYLOADS[code];
  }

  /**
   * Publishes what was written. With `wake` false a parked consumer stays parked (it is woken by the
   * next flush with a wake, which the caller owes before it waits and at its end: see
   * RingProducer.publishTail); a stage worker publishes that way while it has input.
   */
  flush(wake = true): void {
    if (this.batched) this.publishBatch(wake);
    for (const producer of this.producers) producer.publishTail(wake);
  }

  /** end: true marks the end of the stream for every consumer; false only detaches (after a failure). */
  close(end: boolean): void {
    if (end) this.flush();
    for (const producer of this.producers) producer.close({ end });
  }
}
