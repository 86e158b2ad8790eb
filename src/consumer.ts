/** The consuming side of a ring (docs/FORMAT.md §5). */
import { loadAcquire, storeSeqCst } from './atomics.js';
import { RingUsageError, corrupt, type RingCorruptError } from './errors.js';
import { RecordBatchReader } from './batch.js';
import {
  CONSUMER_HEARTBEAT_INDEX,
  CONSUMER_PID_INDEX,
  CONSUMER_STATE_INDEX,
  CONSUMER_WAITING_INDEX,
  DATA_DOORBELL_INDEX,
  HEAD_INDEX,
  MAX_TYPE,
  PADDING_TYPE_I32,
  PRODUCER_PID_INDEX,
  PRODUCER_STATE_INDEX,
  PRODUCER_WAITING_INDEX,
  RECORD_HEADER_LENGTH,
  ROLE_CLOSED,
  ROLE_DETACHED,
  SPACE_DOORBELL_INDEX,
  TAIL_INDEX,
} from './layout.js';
import { checkRoleState } from './header.js';
import { timeoutOf, type WaitOptions } from './producer.js';
import { RingSide, type SideOptions } from './side.js';

/** heldEnd markers: odd, so never a position (positions are multiples of 8). */
const NOTHING_HELD = -1;
const POLLING = -3;
/**
 * @internal Options of an in-place pipeline's sink (src/pipeline/chain.ts): it reads up to the last
 * stage's cursor, `words[index]`, instead of the ring's tail. Not part of the public options.
 */
export interface ChainedConsumerOptions extends SideOptions {
  tail?: { words: Int32Array; index: number };
}

/** heldEnd while a batch from batch() is open. */
const BATCHING = -5;

/**
 * Called once per record by `poll`, with a view of the whole data area and where the payload lies in
 * it: zero-copy and allocation-free. The bytes are valid only during the call.
 */
export type RecordHandler = (type: number, data: Uint8Array, offset: number, length: number) => void;

/**
 * A poll limit must let at least one record through: with 0 a waiting poll would never have a
 * reason to return (pollAsync looped on microtasks only, pollSync spun), and NaN or a fraction
 * have no meaning. Infinity means "everything available".
 */
function checkLimit(limit: number): void {
  if (limit === Infinity || (Number.isInteger(limit) && limit >= 1)) return;
  throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: poll limit ${String(limit)} is invalid; expected an integer >= 1 or Infinity`, {
    field: 'limit',
    value: String(limit),
    expected: 'integer >= 1 or Infinity',
  });
}

/**
 * A record read in place (zero-copy). Valid until released: after `release()` the producer may
 * overwrite it, and `data` throws (code ERR_RELEASED).
 */
export class RecordView {
  readonly type: number;
  readonly length: number;
  /** Offset of the payload in `buffer`. */
  readonly offset: number;
  /** The consumer's whole data area; the payload is buffer[offset, offset + length). */
  readonly buffer: Uint8Array;
  private readonly consumer: RingConsumer;
  private readonly generation: number;
  private view: Uint8Array | undefined;

  /** @internal */
  constructor(consumer: RingConsumer, generation: number, type: number, buffer: Uint8Array, offset: number, length: number) {
    this.consumer = consumer;
    this.generation = generation;
    this.type = type;
    this.buffer = buffer;
    this.offset = offset;
    this.length = length;
  }

  get released(): boolean {
    return this.consumer.generationOf() !== this.generation;
  }

  /** The payload, a view of ring memory (no copy). Throws once released. */
  get data(): Uint8Array {
    if (this.released) {
      throw new RingUsageError('ERR_RELEASED', 'shmring: this record was released; its bytes may already be overwritten');
    }
    return (this.view ??= this.buffer.subarray(this.offset, this.offset + this.length));
  }

  /** A copy of the payload that outlives the release. */
  copy(): Uint8Array {
    return this.data.slice();
  }

  /** Releases this record (same as consumer.release()). */
  release(): void {
    if (this.released) throw new RingUsageError('ERR_RELEASED', 'shmring: this record was already released');
    this.consumer.release();
  }
}

export interface ConsumerStats {
  capacity: number;
  maxRecordLength: number;
  head: number;
  tail: number;
  readPosition: number;
  /** Published bytes not yet released. */
  bytesInFlight: number;
  /** Published records not yet read by this consumer (counted by walking the headers). */
  recordsInFlight: number;
  recordsRead: number;
  producerState: number;
  ended: boolean;
}

export class RingConsumer extends RingSide {
  /** The next record to read (wrapping u32 kept as int32). */
  private readPosition: number;
  /** Last value stored to the shared head. */
  private releasedHead: number;
  /** Last value loaded from the shared tail; reloaded only when reading catches up with it. */
  private cachedTail: number;
  private recordsRead = 0;
  /**
   * Position just past the record handed out by tryRead, or NOTHING_HELD, or POLLING while poll()
   * runs. Positions are multiples of 8, so the two markers never collide with one.
   */
  private heldEnd = NOTHING_HELD;
  /** Which call handed out the held record, for the ERR_RECORD_HELD message. */
  private heldBy = 'tryRead()';
  private generation = 0;
  /** The batch reader (made at the first batch()); while a batch is open it holds the batch's position. */
  private batchReader: RecordBatchReader | undefined;
  private readonly dataOrEnd: () => boolean;

  /** Where the tail is read: the ring's TAIL word, or (an in-place pipeline's sink) the last stage's cursor. */
  private readonly tailWords: Int32Array;
  private readonly tailAt: number;

  constructor(buffer: SharedArrayBuffer, options: SideOptions = {}) {
    super(
      buffer,
      'consumer',
      {
        state: CONSUMER_STATE_INDEX,
        pid: CONSUMER_PID_INDEX,
        heartbeat: CONSUMER_HEARTBEAT_INDEX,
        waiting: CONSUMER_WAITING_INDEX,
        ownDoorbell: DATA_DOORBELL_INDEX,
        peerState: PRODUCER_STATE_INDEX,
        peerPid: PRODUCER_PID_INDEX,
        peerWaiting: PRODUCER_WAITING_INDEX,
        peerDoorbell: SPACE_DOORBELL_INDEX,
      },
      options,
    );
    const tail = (options as ChainedConsumerOptions).tail;
    this.tailWords = tail?.words ?? this.words;
    this.tailAt = tail?.index ?? TAIL_INDEX;
    try {
      // A restarted consumer resumes at the last released record.
      const head = loadAcquire(this.words, HEAD_INDEX);
      if ((head & 7) !== 0) throw corrupt('head', head >>> 0, 'a multiple of 8');
      this.readPosition = head;
      this.releasedHead = head;
      this.cachedTail = head;
      this.refreshTail(head);
      this.producerState();
      this.dataOrEnd = () =>
        this.readPosition !== this.cachedTail || this.refreshTail(this.readPosition) !== this.readPosition || this.producerState() === ROLE_CLOSED;
    } catch (error) {
      this.abandonRole();
      throw error;
    }
  }

  protected headIndex(): number {
    return HEAD_INDEX;
  }
  protected tailIndex(): number {
    return TAIL_INDEX;
  }

  /** @internal */
  generationOf(): number {
    return this.generation;
  }

  /**
   * Reloads the producer's tail (acquire), validating it against `position`, where reading has got
   * to (poll's local position mid-batch, not readPosition, which poll stores only at its end): a tail
   * behind it must be refused, not cached, or every later poll would fail on a stale cache.
   */
  private refreshTail(position: number): number {
    const tail = loadAcquire(this.tailWords, this.tailAt);
    const available = (tail - position) | 0;
    if (available < 0 || available > this.capacity || (tail & 7) !== 0) {
      throw corrupt('tail', tail >>> 0, `a multiple of 8 within ${this.capacity} bytes ahead of the read position ${position >>> 0}`);
    }
    this.cachedTail = tail;
    return tail;
  }

  /**
   * Validates the record at `position` (whose header words were read once into `length`/`type`) and
   * returns its slot length. Every check is against local copies: the producer, or something
   * hostile, may change the shared words meanwhile.
   */
  private checkRecord(position: number, offset: number, length: number, type: number): number {
    if (type === PADDING_TYPE_I32) return this.checkPadding(position, offset, length);
    const slot = (length + RECORD_HEADER_LENGTH + 7) & ~7;
    // One test for the common case; the error (which check failed, with the values) is built out
    // of line, so this stays small enough for V8 to inline into every read loop.
    if (
      length < 0 ||
      length > this.maxRecordLength ||
      (type & MAX_TYPE) !== type ||
      offset + RECORD_HEADER_LENGTH + length > this.capacity ||
      ((this.cachedTail - position) | 0) < slot
    ) {
      throw this.recordError(offset, length, type);
    }
    return slot;
  }

  /** A padding record (once per lap): it must fill the rest of the data area, below the tail. */
  private checkPadding(position: number, offset: number, length: number): number {
    const toEnd = this.capacity - offset;
    if (length !== toEnd - RECORD_HEADER_LENGTH) {
      throw corrupt('padding.length', length >>> 0, `${toEnd - RECORD_HEADER_LENGTH} (the rest of the data area)`, ` at offset ${offset}`);
    }
    if (((this.cachedTail - position) | 0) < toEnd) {
      throw corrupt('padding.length', length >>> 0, 'a padding record below the tail', ` at offset ${offset}`);
    }
    return toEnd;
  }

  /** The error for a record checkRecord refused, naming the first check it fails. */
  private recordError(offset: number, length: number, type: number): RingCorruptError {
    if (length < 0 || length > this.maxRecordLength) {
      return corrupt('record.length', length >>> 0, `at most maxRecordLength ${this.maxRecordLength}`, ` at offset ${offset}`);
    }
    if ((type & MAX_TYPE) !== type) {
      return corrupt('record.type', type >>> 0, `0..${MAX_TYPE} or padding 0xffffffff`, ` at offset ${offset}`);
    }
    if (offset + RECORD_HEADER_LENGTH + length > this.capacity) {
      return corrupt('record.length', length, `a record inside the data area (${this.capacity - offset - RECORD_HEADER_LENGTH} bytes to its end)`, ` at offset ${offset}`);
    }
    return corrupt('record.length', length, 'a record below the published tail', ` at offset ${offset}`);
  }

  private releaseTo(position: number): void {
    storeSeqCst(this.words, HEAD_INDEX, position);
    this.releasedHead = position;
    this.wakePeer();
  }

  /** The producer's state word, refused unless it is one of the three states (FORMAT.md §3). */
  private producerState(): number {
    return checkRoleState('producerState', this.peerState());
  }

  private checkNotHeld(): void {
    if (this.heldEnd !== NOTHING_HELD) throw this.heldError();
  }

  private heldError(): RingUsageError {
    if (this.heldEnd === BATCHING) {
      return new RingUsageError('ERR_BUSY', 'shmring: a batch read is open; release() the batch first');
    }
    if (this.heldEnd === POLLING) {
      // Reading from inside a handler would deliver again the records poll() has handed out but not
      // yet accounted for (it stores its position once, at the end of the batch).
      return new RingUsageError('ERR_BUSY', 'shmring: poll() is running; a poll() handler must not call poll(), tryRead(), read() or release()');
    }
    return new RingUsageError('ERR_RECORD_HELD', `shmring: a record from ${this.heldBy} is held; release() it first`);
  }

  /** @internal Like tryRead(), for the waiting reads, which name themselves in ERR_RECORD_HELD. */
  readAs(method: string): RecordView | null {
    const record = this.tryRead();
    if (record !== null) this.heldBy = method;
    return record;
  }

  /**
   * Hands up to `limit` records to `handler` in order, then releases them all with one store of the
   * head. Returns how many were handled (0 when empty). Zero-copy and allocation-free. If the handler
   * throws, the records before it and the one that threw are consumed (a poison record is not
   * redelivered forever) and the error propagates.
   */
  poll(handler: RecordHandler, limit = Infinity): number {
    checkLimit(limit);
    this.checkNotHeld();
    if (this.closed) throw this.closedError();
    const recordWords = this.recordWords;
    const data = this.data;
    // Locals, not fields: the handler is opaque to the compiler, so a field would be reloaded after
    // every call. `tail` mirrors this.cachedTail (refreshTail sets both).
    const mask = this.mask;
    const capacity = this.capacity;
    const maxRecordLength = this.maxRecordLength;
    let tail = this.cachedTail;
    let position = this.readPosition;
    let count = 0;
    // An integer bound: one poll hands out at most what the ring holds unreleased (capacity / 8 <=
    // 2^27 records) from a producer that follows the protocol; one that ignores the head is cut off
    // here instead of keeping the poll going forever.
    const most = limit === Infinity ? 0x40000000 : limit;
    this.heldEnd = POLLING;
    try {
      while (count < most) {
        if (position === tail && (tail = this.refreshTail(position)) === position) break;
        const offset = position & mask;
        const index = offset >> 2;
        const length = recordWords[index];
        const type = recordWords[index + 1];
        if (type === PADDING_TYPE_I32) {
          position = (position + this.checkPadding(position, offset, length)) | 0;
          continue;
        }
        // checkRecord's test, on the locals.
        const slot = (length + RECORD_HEADER_LENGTH + 7) & ~7;
        if (length < 0 || length > maxRecordLength || (type & MAX_TYPE) !== type || offset + RECORD_HEADER_LENGTH + length > capacity || ((tail - position) | 0) < slot) {
          throw this.recordError(offset, length, type);
        }
        position = (position + slot) | 0;
        count++;
        handler(type, data, offset + RECORD_HEADER_LENGTH, length);
      }
    } finally {
      this.heldEnd = NOTHING_HELD;
      this.readPosition = position;
      this.recordsRead += count;
      if (position !== this.releasedHead) this.releaseTo(position);
    }
    return count;
  }

  /**
   * Opens a batch read and returns this consumer's batch reader (one object, reused): step through
   * up to `limit` published records with next(), then release them all with one store of the head.
   * Every record is validated as poll() validates it. See RecordBatchReader.
   */
  batch(limit = Infinity): RecordBatchReader {
    const reader = this.batchReader;
    if (this.heldEnd !== NOTHING_HELD || this.closed || limit !== Infinity || reader === undefined) return this.batchChecked(limit);
    this.heldEnd = BATCHING;
    reader.open(this.readPosition, this.cachedTail, limit);
    return reader;
  }

  /** batch() with a limit, the first time (the reader is made), or refused: kept out of batch(), which is inlined into the caller's loop. */
  private batchChecked(limit: number): RecordBatchReader {
    this.checkNotHeld();
    if (this.closed) throw this.closedError();
    if (!(limit === Infinity || (Number.isInteger(limit) && limit > 0))) {
      throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: batch limit ${limit} is invalid; expected an integer > 0 or Infinity`, {
        field: 'limit',
        value: String(limit),
        expected: 'integer > 0 or Infinity',
      });
    }
    this.heldEnd = BATCHING;
    const reader = (this.batchReader ??= new RecordBatchReader(this, this.recordWords, this.mask, this.maxRecordLength));
    reader.open(this.readPosition, this.cachedTail, limit);
    return reader;
  }

  /** @internal RecordBatchReader.next, when it reaches the tail it knows: reloads and validates it. */
  batchTail(position: number): number {
    return this.refreshTail(position);
  }

  /** @internal RecordBatchReader.next, at a padding record: its slot, validated. */
  batchPadding(position: number, offset: number, length: number): number {
    return this.checkPadding(position, offset, length);
  }

  /** @internal RecordBatchReader.next, for a record its test refused: the error naming the check. */
  batchRecordError(offset: number, length: number, type: number): RingCorruptError {
    return this.recordError(offset, length, type);
  }

  /** @internal RecordBatchReader.next without an open batch. */
  batchNotOpen(): RingUsageError {
    return this.noBatch();
  }

  /** @internal RecordBatchReader.release: one store of the head for the whole batch. */
  batchRelease(): number {
    const reader = this.batchReader;
    if (this.heldEnd !== BATCHING || reader === undefined) throw this.noBatch();
    const records = reader.count;
    this.readPosition = reader.close();
    this.heldEnd = NOTHING_HELD;
    this.recordsRead += records;
    if (this.readPosition !== this.releasedHead) this.releaseTo(this.readPosition);
    return records;
  }

  private noBatch(): RingUsageError {
    return new RingUsageError('ERR_NO_RECORD', 'shmring: no batch is open; call consumer.batch() first');
  }

  /** Zero-copy read of the next record, or null when empty. Call release() before the next read. */
  tryRead(): RecordView | null {
    this.checkNotHeld();
    if (this.closed) throw this.closedError();
    for (;;) {
      const position = this.readPosition;
      if (position === this.cachedTail && this.refreshTail(position) === position) {
        // A padding record skipped on the way here is released now: the producer may be waiting for
        // exactly that space (a record longer than the room left at the start), while this consumer
        // waits for data; neither would move again.
        if (position !== this.releasedHead) this.releaseTo(position);
        return null;
      }
      const offset = position & this.mask;
      const index = offset >> 2;
      const length = this.recordWords[index];
      const type = this.recordWords[index + 1];
      const slot = this.checkRecord(position, offset, length, type);
      if (type === PADDING_TYPE_I32) {
        this.readPosition = (position + slot) | 0;
        continue;
      }
      this.heldEnd = (position + slot) | 0;
      this.heldBy = 'tryRead()';
      return new RecordView(this, this.generation, type, this.data, offset + RECORD_HEADER_LENGTH, length);
    }
  }

  /** Releases the record from tryRead() (and any padding before it): the producer may reuse its bytes. */
  release(): void {
    if (this.heldEnd === POLLING) throw this.heldError();
    if (this.heldEnd === NOTHING_HELD) throw new RingUsageError('ERR_NO_RECORD', 'shmring: release() without a held record');
    this.readPosition = this.heldEnd;
    this.heldEnd = NOTHING_HELD;
    this.generation++;
    this.recordsRead++;
    this.releaseTo(this.readPosition);
  }

  /** True once the producer closed with end of stream and every published record was read. */
  get ended(): boolean {
    if (this.heldEnd !== NOTHING_HELD) return false;
    // State first, then the tail: the producer publishes its last tail before it stores CLOSED.
    if (this.producerState() !== ROLE_CLOSED || this.refreshTail(this.readPosition) !== this.readPosition) return false;
    // Reading from a cursor behind the tail (an in-place pipeline's sink): the end is the producer's last tail.
    return this.tailWords === this.words || loadAcquire(this.words, TAIL_INDEX) === this.readPosition;
  }

  /**
   * Blocks this thread until a record arrives (returned, held until release()), the stream ends, or
   * the timeout passes (both null; check `ended`). For worker threads.
   */
  readSync(timeoutMs = Infinity): RecordView | null {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const record = this.readAs('readSync()');
      if (record !== null || this.ended) return record;
      const remaining = deadline === Infinity ? Infinity : deadline - performance.now();
      if (remaining <= 0 || !this.waitUntilSync(this.dataOrEnd, remaining)) return null;
    }
  }

  /**
   * Waits for the next record without blocking the thread. Resolves with the record (held until
   * release()), or null at the end of the stream. Rejects on timeout (ERR_TIMEOUT), abort, or close.
   */
  async read(options?: WaitOptions): Promise<RecordView | null> {
    const timeout = timeoutOf(options);
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    for (;;) {
      const record = this.readAs('read()');
      if (record !== null || this.ended) return record;
      const remaining = deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
      await this.waitUntilAsync(this.dataOrEnd, remaining, options?.signal, timeout);
    }
  }

  /** Like poll(), but waits (without blocking the thread) until at least one record or the end. Resolves 0 at the end. */
  async pollAsync(handler: RecordHandler, limit = Infinity, options?: WaitOptions): Promise<number> {
    checkLimit(limit);
    const timeout = timeoutOf(options);
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    for (;;) {
      const count = this.poll(handler, limit);
      if (count > 0 || this.ended) return count;
      const remaining = deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
      await this.waitUntilAsync(this.dataOrEnd, remaining, options?.signal, timeout);
    }
  }

  /** Like poll(), but blocks the thread until at least one record, the end (0), or the timeout (0). */
  pollSync(handler: RecordHandler, limit = Infinity, timeoutMs = Infinity): number {
    checkLimit(limit);
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const count = this.poll(handler, limit);
      if (count > 0 || this.ended) return count;
      const remaining = deadline === Infinity ? Infinity : deadline - performance.now();
      if (remaining <= 0 || !this.waitUntilSync(this.dataOrEnd, remaining)) return 0;
    }
  }

  /**
   * Iterates records until the end of the stream. Each record is released when the loop asks for
   * the next one (or exits), so a record must not be used after its iteration.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<RecordView, void, undefined> {
    try {
      for (;;) {
        const record = await this.read();
        if (record === null) return;
        yield record;
        if (!record.released) this.release();
      }
    } finally {
      if (this.heldEnd !== NOTHING_HELD && !this.closed) this.release();
    }
  }

  /**
   * Leaves the role. By default the consumer is gone for good and a producer waiting for space gets
   * ERR_CLOSED; `detach: true` lets a new consumer attach and resume at the head.
   */
  close(options: { detach?: boolean } = {}): void {
    if (this.closed) return;
    this.leaveRole(options.detach === true ? ROLE_DETACHED : ROLE_CLOSED);
  }

  /** @internal */
  detachAtExit(): void {
    this.close({ detach: true });
  }

  stats(): ConsumerStats {
    const { head, tail } = this.positions();
    let records = 0;
    // Walk only what this consumer owns: [readPosition, tail) cannot change under it.
    if (!this.closed) {
      const end = this.refreshTail(this.readPosition);
      let position = this.readPosition;
      while (position !== end) {
        const offset = position & this.mask;
        const index = offset >> 2;
        const type = this.recordWords[index + 1];
        position = (position + this.checkRecord(position, offset, this.recordWords[index], type)) | 0;
        if (type !== PADDING_TYPE_I32) records++;
      }
    }
    return {
      capacity: this.capacity,
      maxRecordLength: this.maxRecordLength,
      head,
      tail,
      readPosition: this.readPosition >>> 0,
      bytesInFlight: (tail - head) >>> 0,
      recordsInFlight: records,
      recordsRead: this.recordsRead,
      producerState: this.producerState(),
      ended: !this.closed && this.ended,
    };
  }
}
