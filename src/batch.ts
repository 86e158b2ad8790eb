/**
 * Batch paths: many records per call of the ring's bookkeeping. A producer's batch reserves as it
 * goes and publishes every record with one store of the tail (Agrona's tryClaim, the Disruptor's
 * next(n), Aeron's BufferClaim); a consumer's batch walks everything published and releases it
 * with one store of the head. Each side has one reusable batch object: opening a batch allocates
 * nothing, and neither does a record.
 */
import { badPayload } from './errors.js';
import { MAX_TYPE, PADDING_TYPE_I32, RECORD_HEADER_LENGTH } from './layout.js';
import type { RingConsumer } from './consumer.js';
import type { RingProducer } from './producer.js';

/**
 * The producer's batch: `claim` records in place (or `write` copies), then `publish()` them all at
 * once. A record that does not fit is a normal result (-1 / false): publish what you have, and
 * open a new batch when there is room. Until `publish()` nothing of the batch is visible to the
 * consumer; `abort()` drops it. While a batch is open the producer's single-record calls are
 * refused (ERR_CLAIM_OPEN).
 */
export class RecordBatchWriter {
  /** The producer's data area: claim() offsets index into it. */
  readonly data: Uint8Array;
  private readonly producer: RingProducer;
  private readonly words: Int32Array;
  private readonly mask: number;
  private readonly capacity: number;
  private readonly maxRecordLength: number;
  private isOpen = false;
  /** Where the next record goes: the batch's write position (the producer's is the batch's start). */
  private position = 0;
  /** The consumer's head as last loaded (validated), for the room test. */
  private cachedHead = 0;
  private records = 0;

  /** @internal Made once per producer, by producer.batch(). */
  constructor(producer: RingProducer, words: Int32Array, mask: number, maxRecordLength: number) {
    this.producer = producer;
    this.data = producer.data;
    this.words = words;
    this.mask = mask;
    this.capacity = mask + 1;
    this.maxRecordLength = maxRecordLength;
  }

  /** @internal producer.batch(): starts a batch at `position`. */
  open(position: number, cachedHead: number): void {
    this.isOpen = true;
    this.position = position;
    this.cachedHead = cachedHead;
    this.records = 0;
  }

  /** @internal producer.close() with a batch open: the batch is dropped. */
  drop(): void {
    this.isOpen = false;
    this.records = 0;
  }

  /**
   * Reserves a record of exactly `length` bytes with type `type` (its header is written now) and
   * returns the offset of its payload in `data`; fill it before publish(). -1 when it does not fit
   * (nothing reserved). The record is part of the batch: there is no separate commit.
   *
   * The record's header is written at once (nothing is visible before publish), so a record costs
   * the checks, the room test against the cached head and two header stores, all on this object's
   * fields: no claim state, no publication policy, no atomics, no call into the producer.
   */
  claim(length: number, type = 0): number {
    if (!this.isOpen || !(length >= 0 && length <= this.maxRecordLength) || (length | 0) !== length || (type & MAX_TYPE) !== type) {
      throw this.producer.batchRefusal(length, type, this.isOpen);
    }
    const slot = (length + RECORD_HEADER_LENGTH + 7) & ~7;
    const position = this.position;
    const offset = position & this.mask;
    // Room before the end of the data area and against the cached head; anything else (a wrap, a
    // head to reload, a full ring) is claimAtEdge's.
    if (slot > this.capacity - offset || this.capacity - ((position - this.cachedHead) | 0) < slot) return this.claimAtEdge(length, type, slot);
    const words = this.words;
    words[offset >> 2] = length;
    words[(offset >> 2) + 1] = type;
    this.position = (position + slot) | 0;
    this.records++;
    return offset + RECORD_HEADER_LENGTH;
  }

  /**
   * claim() when the record does not fit before the end of the data area or the cached head: pad
   * to the end if need be, reload the head, and claim, or -1. A method of its own so that claim()
   * stays small: V8 (TurboFan) inlines a call in a loop by its bytecode size against one budget
   * per function, and a cursor's field setters, which have no call-site frequency, come last, so a
   * large claim() left them out of line (a boxed double per u64 field written; measured with
   * --trace-turbo-inlining on Node 26).
   */
  private claimAtEdge(length: number, type: number, slot: number): number {
    const words = this.words;
    let position = this.position;
    let offset = position & this.mask;
    const toEnd = this.capacity - offset;
    if (slot > toEnd) {
      // The record would cross the end: pad the rest of the data area, if that fits. The padding
      // is part of the batch even if the record then does not fit: published with it, it lets the
      // consumer free the start of the ring (agrona PR #239).
      if (!this.room(position, toEnd)) return -1;
      words[offset >> 2] = toEnd - RECORD_HEADER_LENGTH;
      words[(offset >> 2) + 1] = PADDING_TYPE_I32;
      position = (position + toEnd) | 0;
      this.position = position;
      offset = 0;
    }
    if (!this.room(position, slot)) return -1;
    const index = offset >> 2;
    words[index] = length;
    words[index + 1] = type;
    this.position = (position + slot) | 0;
    this.records++;
    return offset + RECORD_HEADER_LENGTH;
  }

  /** Whether `bytes` fit at `position`: against the cached head, then a reloaded one. */
  private room(position: number, bytes: number): boolean {
    if (this.capacity - ((position - this.cachedHead) | 0) >= bytes) return true;
    this.cachedHead = this.producer.batchHead();
    return this.capacity - ((position - this.cachedHead) | 0) >= bytes;
  }

  /** Copies `payload` in as one record; false when it does not fit (nothing written). */
  write(payload: Uint8Array, type = 0): boolean {
    if (!(payload instanceof Uint8Array)) throw badPayload(payload);
    const at = this.claim(payload.length, type);
    if (at < 0) return false;
    this.data.set(payload, at);
    return true;
  }

  /**
   * Copies `payloads[start..]` in, in order, until one does not fit or all are in; returns how many
   * went in (the next call starts at `start + returned`).
   */
  writeAll(payloads: readonly Uint8Array[], type = 0, start = 0): number {
    let index = start;
    while (index < payloads.length && this.write(payloads[index], type)) index++;
    return index - start;
  }

  /** Records in the batch so far. */
  get count(): number {
    return this.isOpen ? this.records : 0;
  }

  private markPosition = 0;
  private markRecords = 0;

  /** @internal Remembers where the batch is (the pipeline's stage output, before a record it may take back). */
  mark(): void {
    this.markPosition = this.position;
    this.markRecords = this.records;
  }

  /** @internal Drops every record (and padding) claimed since mark(): nothing of it was published. */
  rewind(): void {
    this.position = this.markPosition;
    this.records = this.markRecords;
  }

  /** Publishes every record of the batch with one store of the tail, wakes a parked consumer, and ends the batch. Returns the count. */
  publish(): number {
    return this.publishAndWake(true);
  }

  /** @internal publish(); with `wake` false a parked consumer is left parked (RingProducer.publishTail). */
  publishAndWake(wake: boolean): number {
    if (!this.isOpen) throw this.producer.batchNotOpen();
    const records = this.records;
    this.isOpen = false;
    this.records = 0;
    this.producer.batchPublish(this.position, records, wake);
    return records;
  }

  /** Drops the batch: nothing of it is published, and the producer continues where the batch began. */
  abort(): void {
    if (!this.isOpen) throw this.producer.batchNotOpen();
    this.isOpen = false;
    this.records = 0;
    this.producer.batchAbort();
  }
}

/**
 * The consumer's batch: `next()` steps through the published records (each validated as poll()
 * validates it), exposing `type`, `offset` and `length` of the current one in `data`; `release()`
 * releases everything stepped over with one store of the head and ends the batch. While a batch is
 * open the consumer's other reads are refused (ERR_BUSY).
 *
 * The reader holds the open batch's position and the tail it last loaded, and next() validates on
 * them itself: one call per record, with nothing the compiler must reload from the consumer.
 */
export class RecordBatchReader {
  /** The consumer's data area: `offset` indexes into it. */
  readonly data: Uint8Array;
  /** The current record (after next() returned true). */
  type = 0;
  offset = 0;
  length = 0;
  private readonly consumer: RingConsumer;
  private readonly words: Int32Array;
  private readonly mask: number;
  private readonly capacity: number;
  private readonly maxRecordLength: number;
  private isOpen = false;
  /** Where the batch has got to: just past the last record handed out (or padding stepped over). */
  private position = 0;
  /** The tail last loaded (the consumer's cachedTail when the batch opened, or reloaded since). */
  private tail = 0;
  private handed = 0;
  private limit = 0;

  /** @internal Made once per consumer, by consumer.batch(). */
  constructor(consumer: RingConsumer, words: Int32Array, mask: number, maxRecordLength: number) {
    this.consumer = consumer;
    this.data = consumer.data;
    this.words = words;
    this.mask = mask;
    this.capacity = mask + 1;
    this.maxRecordLength = maxRecordLength;
  }

  /** @internal consumer.batch(): starts a batch at `position`. */
  open(position: number, tail: number, limit: number): void {
    this.isOpen = true;
    this.position = position;
    this.tail = tail;
    this.handed = 0;
    // An integer: a batch hands out at most what the ring holds unreleased (capacity / 8 <= 2^27
    // records) from a producer that follows the protocol, so 2^30 is "no limit" (and cuts off one
    // that does not), and the test in next() stays an integer comparison.
    this.limit = limit === Infinity ? 0x40000000 : limit;
  }

  /** @internal consumer.batchRelease(): ends the batch; returns the position to release to. */
  close(): number {
    this.isOpen = false;
    this.handed = 0;
    return this.position;
  }

  /** Moves to the next published record; false when there is none (or the batch's limit is reached). */
  next(): boolean {
    // The common case, a record before the tail this batch knows that passes the record test, in
    // as little code as it takes (a cursor's getters in the caller's loop need V8's inlining
    // budget; see RecordBatchWriter.claimAtEdge). Anything else, padding included (its type is
    // not a record type), is nextAtEdge's, which does all of it again from the same position.
    const position = this.position;
    if (this.isOpen && position !== this.tail && this.handed < this.limit) {
      const offset = position & this.mask;
      const length = this.words[offset >> 2];
      const type = this.words[(offset >> 2) + 1];
      const slot = (length + RECORD_HEADER_LENGTH + 7) & ~7;
      if ((type & MAX_TYPE) === type && length >= 0 && length <= this.maxRecordLength && offset + RECORD_HEADER_LENGTH + length <= this.capacity && ((this.tail - position) | 0) >= slot) {
        this.position = (position + slot) | 0;
        this.handed++;
        this.type = type;
        this.offset = offset + RECORD_HEADER_LENGTH;
        this.length = length;
        return true;
      }
    }
    return this.nextAtEdge();
  }

  /**
   * next() at the end of what the batch knows (once per batch): reload the tail, and if it moved,
   * the top again. Anything else goes on to nextRecord().
   */
  private nextAtEdge(): boolean {
    const position = this.position;
    if (this.isOpen && position === this.tail && this.handed < this.limit) {
      if ((this.tail = this.consumer.batchTail(position)) === position) return false;
      return this.next();
    }
    return this.nextRecord();
  }

  /** next() from the top: the batch not open, the limit, a tail to reload, padding, a refused record. */
  private nextRecord(): boolean {
    if (!this.isOpen) throw this.consumer.batchNotOpen();
    const words = this.words;
    let position = this.position;
    while (this.handed < this.limit) {
      if (position === this.tail) {
        this.position = position;
        const tail = this.consumer.batchTail(position);
        this.tail = tail;
        if (tail === position) return false;
      }
      const offset = position & this.mask;
      const index = offset >> 2;
      const length = words[index];
      const type = words[index + 1];
      if (type === PADDING_TYPE_I32) {
        position = (position + this.consumer.batchPadding(position, offset, length)) | 0;
        continue;
      }
      // The consumer's record test (RingConsumer.checkRecord), on this batch's tail.
      const slot = (length + RECORD_HEADER_LENGTH + 7) & ~7;
      if (length < 0 || length > this.maxRecordLength || (type & MAX_TYPE) !== type || offset + RECORD_HEADER_LENGTH + length > this.capacity || ((this.tail - position) | 0) < slot) {
        this.position = position;
        throw this.consumer.batchRecordError(offset, length, type);
      }
      this.position = (position + slot) | 0;
      this.handed++;
      this.type = type;
      this.offset = offset + RECORD_HEADER_LENGTH;
      this.length = length;
      return true;
    }
    this.position = position;
    return false;
  }

  /** Records stepped over so far in this batch (0 when no batch is open). */
  get count(): number {
    return this.isOpen ? this.handed : 0;
  }

  /** Releases every record stepped over (one store of the head) and ends the batch. Returns the count. */
  release(): number {
    return this.consumer.batchRelease();
  }
}
