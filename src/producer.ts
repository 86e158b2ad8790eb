/** The producing side of a ring (docs/FORMAT.md §4). */
import { loadAcquire, storeSeqCst } from './atomics.js';
import { RingClosedError, RingUsageError, badPayload, corrupt } from './errors.js';
import { RecordBatchWriter } from './batch.js';
import {
  CONSUMER_PID_INDEX,
  CONSUMER_STATE_INDEX,
  CONSUMER_WAITING_INDEX,
  DATA_DOORBELL_INDEX,
  HEAD_INDEX,
  MAX_TYPE,
  PADDING_TYPE_I32,
  PRODUCER_HEARTBEAT_INDEX,
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
import { RingSide, type SideOptions } from './side.js';

/**
 * When committed records become visible to the consumer (one store-release of the tail per batch):
 * - 'auto' (default): when `batchRecords` records or `batchBytes` bytes are pending, and at the end
 *   of the current synchronous job (a microtask), so nothing lingers unpublished.
 * - 'eager': at every commit (one store per record).
 * - 'manual': only on `flush()`.
 * Whatever the policy, the producer publishes before it parks, reports full, or closes.
 */
export type PublishPolicy = 'auto' | 'eager' | 'manual';

export interface ProducerOptions extends SideOptions {
  publish?: PublishPolicy;
  /** 'auto' policy: publish once this many records are pending. Default 256. */
  batchRecords?: number;
  /** 'auto' policy: publish once this many bytes are pending. Default min(64 KiB, capacity / 4). */
  batchBytes?: number;
}

export interface WaitOptions {
  /** Rejects with the signal's reason when it aborts. */
  signal?: AbortSignal;
  /** Milliseconds; rejects with RingTimeoutError (code ERR_TIMEOUT) when it passes. Default: no limit. */
  timeout?: number;
}

export interface ProducerStats {
  capacity: number;
  maxRecordLength: number;
  head: number;
  tail: number;
  writePosition: number;
  /** Published bytes the consumer has not released. */
  bytesInFlight: number;
  /** Committed records not yet published. */
  pendingRecords: number;
  recordsWritten: number;
  consumerState: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: ${name} ${value} is invalid; expected an integer >= 1`, {
      field: name,
      value: String(value),
      expected: 'integer >= 1',
    });
  }
  return value;
}

function timeoutOf(options: WaitOptions | undefined): number {
  const timeout = options?.timeout ?? Infinity;
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: timeout ${timeout} is invalid; expected milliseconds >= 0`, {
      field: 'timeout',
      value: String(timeout),
      expected: '>= 0',
    });
  }
  return timeout;
}

export { timeoutOf };

export class RingProducer extends RingSide {
  /** Where the next record goes (wrapping u32 kept as int32). */
  private writePosition: number;
  /** Last value stored to the shared tail. */
  private publishedTail: number;
  /** Last value loaded from the shared head; reloaded only when it says "full". */
  private cachedHead: number;
  private pendingRecords = 0;
  private recordsWritten = 0;
  private claimOffset = -1;
  /** While a batch is open: where it began (the position a publish skips back to on abort). -1 otherwise. */
  private batchStart = -1;
  private batchWriter: RecordBatchWriter | undefined;
  private claimLength = 0;
  private claimType = 0;
  /**
   * Bytes of wrap padding the open claim (or the record tryWrite is placing) needs before it, at
   * writePosition; 0 when none. Written and counted only at commit, so an aborted claim leaves the
   * data area and writePosition as they were (FORMAT.md §4).
   */
  private pendingPadding = 0;
  private readonly policy: PublishPolicy;
  private readonly batchRecords: number;
  private readonly batchBytes: number;
  private flushScheduled = false;
  /**
   * The publication policy as two thresholds, so committing a record tests numbers, not the policy:
   * publish when this many records or this many bytes are pending. 'eager' is 1 record; 'manual' is
   * more than the ring can hold (it publishes only in flush()).
   */
  private readonly flushRecords: number;
  private readonly flushBytes: number;
  private readonly scheduledFlush: () => void;
  private readonly headMoved: () => boolean;
  private headSeen = 0;

  constructor(buffer: SharedArrayBuffer, options: ProducerOptions = {}) {
    super(
      buffer,
      'producer',
      {
        state: PRODUCER_STATE_INDEX,
        pid: PRODUCER_PID_INDEX,
        heartbeat: PRODUCER_HEARTBEAT_INDEX,
        waiting: PRODUCER_WAITING_INDEX,
        ownDoorbell: SPACE_DOORBELL_INDEX,
        peerState: CONSUMER_STATE_INDEX,
        peerPid: CONSUMER_PID_INDEX,
        peerWaiting: CONSUMER_WAITING_INDEX,
        peerDoorbell: DATA_DOORBELL_INDEX,
      },
      options,
    );
    try {
      this.policy = options.publish ?? 'auto';
      if (this.policy !== 'auto' && this.policy !== 'eager' && this.policy !== 'manual') {
        throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: publish policy ${String(this.policy)} is invalid; expected 'auto', 'eager' or 'manual'`, {
          field: 'publish',
          value: String(this.policy),
          expected: "'auto' | 'eager' | 'manual'",
        });
      }
      this.batchRecords = positiveInteger('batchRecords', options.batchRecords ?? 256);
      this.batchBytes = positiveInteger('batchBytes', options.batchBytes ?? Math.min(65536, this.capacity / 4));
      const never = 0x40000001; // more records or bytes than a ring (at most 2^30 bytes) ever holds pending
      this.flushRecords = this.policy === 'eager' ? 1 : this.policy === 'auto' ? this.batchRecords : never;
      this.flushBytes = this.policy === 'auto' ? this.batchBytes : never;
      // 'manual' never schedules a flush: as if one were always pending.
      this.flushScheduled = this.policy === 'manual';
      // A restarted producer continues from the published tail: anything a dead predecessor wrote
      // beyond it was never visible and is overwritten (FORMAT.md §4).
      const tail = loadAcquire(this.words, TAIL_INDEX);
      if ((tail & 7) !== 0) throw corrupt('tail', tail >>> 0, 'a multiple of 8');
      this.writePosition = tail;
      this.publishedTail = tail;
      this.cachedHead = tail;
      this.refreshHead();
      this.consumerState();
      this.scheduledFlush = () => {
        this.flushScheduled = false;
        if (!this.closed) this.flush();
      };
      this.headMoved = () => this.consumerState() === ROLE_CLOSED || this.refreshHead() !== this.headSeen;
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

  /** Reloads the consumer's head (acquire), validating it against what this producer knows. */
  private refreshHead(): number {
    const head = loadAcquire(this.words, HEAD_INDEX);
    const inFlight = (this.writePosition - head) | 0;
    if (inFlight < 0 || inFlight > this.capacity || (head & 7) !== 0) {
      throw corrupt('head', head >>> 0, `a multiple of 8 within ${this.capacity} bytes behind the write position ${this.writePosition >>> 0}`);
    }
    this.cachedHead = head;
    return head;
  }

  /** The consumer's state word, refused unless it is one of the three states (FORMAT.md §3). */
  private consumerState(): number {
    return checkRoleState('consumerState', this.peerState());
  }

  private hasSpace(bytes: number): boolean {
    if (this.capacity - ((this.writePosition - this.cachedHead) | 0) >= bytes) return true;
    this.refreshHead();
    return this.capacity - ((this.writePosition - this.cachedHead) | 0) >= bytes;
  }

  private checkRecord(length: number, type: number): void {
    if (this.claimOffset >= 0 || this.batchStart !== -1) throw this.openClaimError();
    if (this.closed) throw this.closedError();
    if (!(length >= 0 && length <= this.maxRecordLength) || (length | 0) !== length) throw this.badLength(length);
    if ((type & MAX_TYPE) !== type) throw this.badType(type);
  }

  private badLength(length: number): RingUsageError {
    return new RingUsageError(
      'ERR_RECORD_TOO_LONG',
      `shmring: record length ${length} is invalid; expected an integer from 0 to maxRecordLength ${this.maxRecordLength}`,
      { field: 'length', value: length, expected: `0..${this.maxRecordLength}` },
    );
  }

  private badType(type: number): RingUsageError {
    return new RingUsageError('ERR_BAD_TYPE', `shmring: record type ${type} is invalid; expected an integer from 0 to ${MAX_TYPE}`, {
      field: 'type',
      value: type,
      expected: `0..${MAX_TYPE}`,
    });
  }

  /**
   * Finds room for a record of `slot` bytes and returns its offset in the data area, or -1 when the
   * ring is full (after publishing what is pending, so the consumer can make room). When the record
   * would cross the end it goes to offset 0 and `pendingPadding` says how much padding the commit
   * writes first. If the padding fits but the record does not, the padding is written and
   * committed now (otherwise a long record could wait forever for room at the start: agrona PR #239).
   */
  private reserve(slot: number): number {
    const offset = this.writePosition & this.mask;
    const toEnd = this.capacity - offset;
    if (slot <= toEnd) {
      if (!this.hasSpace(slot)) return this.full();
      return offset;
    }
    if (!this.hasSpace(toEnd)) return this.full();
    if (!this.hasSpace(toEnd + slot)) {
      this.pendingPadding = toEnd;
      this.writePadding();
      return this.full();
    }
    this.pendingPadding = toEnd;
    return 0;
  }

  /** Writes the wrap padding the record being committed needs (pendingPadding > 0) and steps over it. */
  private writePadding(): void {
    const index = (this.writePosition & this.mask) >> 2;
    this.recordWords[index] = this.pendingPadding - RECORD_HEADER_LENGTH;
    this.recordWords[index + 1] = PADDING_TYPE_I32;
    this.writePosition = (this.writePosition + this.pendingPadding) | 0;
    this.pendingPadding = 0;
  }

  private full(): number {
    this.flush();
    return -1;
  }

  private committed(slot: number): void {
    const position = (this.writePosition + slot) | 0;
    this.writePosition = position;
    this.recordsWritten++;
    if (++this.pendingRecords >= this.flushRecords || ((position - this.publishedTail) | 0) >= this.flushBytes) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.scheduledFlush);
    }
  }

  /**
   * Copies `payload` into the ring as one record. Returns false when the ring is full (a normal
   * result: nothing was written). Allocates nothing.
   */
  tryWrite(payload: Uint8Array, type = 0): boolean {
    // Anything else has a `length` that is not a byte count (a string's is its UTF-16 units) and
    // `set` would store NaN-as-0 for each element: refused rather than written as zeros.
    if (!(payload instanceof Uint8Array)) throw badPayload(payload);
    const length = payload.length;
    this.checkRecord(length, type);
    const slot = (length + RECORD_HEADER_LENGTH + 7) & ~7;
    const offset = this.reserve(slot);
    if (offset < 0) return false;
    if (this.pendingPadding !== 0) this.writePadding();
    this.data.set(payload, offset + RECORD_HEADER_LENGTH);
    const index = offset >> 2;
    this.recordWords[index] = length;
    this.recordWords[index + 1] = type;
    this.committed(slot);
    return true;
  }

  /**
   * Zero-copy: reserves a record of exactly `length` bytes and returns the offset of its payload in
   * `this.data` (write the bytes there), or -1 when full. Then `commit()` or `abort()`. Allocates nothing.
   */
  tryClaim(length: number, type = 0): number {
    this.checkRecord(length, type);
    const offset = this.reserve((length + RECORD_HEADER_LENGTH + 7) & ~7);
    if (offset < 0) return -1;
    this.claimOffset = offset;
    this.claimLength = length;
    this.claimType = type;
    return offset + RECORD_HEADER_LENGTH;
  }

  /** Zero-copy claim returning a view of exactly `length` bytes of ring memory, or null when full. */
  claim(length: number, type = 0): Uint8Array | null {
    const payloadOffset = this.tryClaim(length, type);
    return payloadOffset < 0 ? null : this.data.subarray(payloadOffset, payloadOffset + length);
  }

  /** Commits the open claim: the record joins the pending batch (published per the policy). */
  commit(): void {
    const offset = this.claimOffset;
    if (offset < 0) throw new RingUsageError('ERR_NO_CLAIM', 'shmring: commit() without an open claim (already committed or aborted?)');
    if (this.pendingPadding !== 0) this.writePadding();
    const index = offset >> 2;
    this.recordWords[index] = this.claimLength;
    this.recordWords[index + 1] = this.claimType;
    this.claimOffset = -1;
    this.committed((this.claimLength + RECORD_HEADER_LENGTH + 7) & ~7);
  }

  /** Drops the open claim: no header is written and no position moves (a wrap padding is written only at commit). */
  abort(): void {
    if (this.claimOffset < 0) throw new RingUsageError('ERR_NO_CLAIM', 'shmring: abort() without an open claim');
    this.claimOffset = -1;
    this.pendingPadding = 0;
  }

  private openClaimError(): RingUsageError {
    return this.batchStart !== -1
      ? new RingUsageError('ERR_CLAIM_OPEN', 'shmring: a batch is open; publish() or abort() it first')
      : new RingUsageError('ERR_CLAIM_OPEN', 'shmring: a claimed record is open; commit() or abort() it first');
  }

  /**
   * Opens a batch and returns this producer's batch writer (one object, reused): claim or write
   * many records, then publish them with one store of the tail. See RecordBatchWriter.
   */
  batch(): RecordBatchWriter {
    const writer = this.batchWriter;
    if (this.closed || this.claimOffset >= 0 || this.batchStart !== -1 || writer === undefined) return this.firstBatch();
    // The writer holds the batch's write position until publish() or abort(); writePosition stays
    // at the batch's start meanwhile (what flush() and close() go back to).
    this.batchStart = this.writePosition;
    writer.open(this.writePosition, this.cachedHead);
    return writer;
  }

  /** batch() the first time (the writer is made) or when it is refused: kept out of batch(), which is inlined into the caller's loop. */
  private firstBatch(): RecordBatchWriter {
    if (this.closed) throw this.closedError();
    if (this.claimOffset >= 0 || this.batchStart !== -1) throw this.openClaimError();
    this.batchWriter = new RecordBatchWriter(this, this.recordWords, this.mask, this.maxRecordLength);
    return this.batch();
  }

  private noBatch(): RingUsageError {
    return new RingUsageError('ERR_NO_CLAIM', 'shmring: no batch is open; call producer.batch() first');
  }

  /** @internal RecordBatchWriter.claim, when the cached head leaves too little room: reloads it (validated). */
  batchHead(): number {
    return this.refreshHead();
  }

  /** @internal The error for a claim RecordBatchWriter.claim refused. */
  batchRefusal(length: number, type: number, open: boolean): RingUsageError {
    if (!open) return this.closed ? this.closedError() : this.noBatch();
    if (!(length >= 0 && length <= this.maxRecordLength) || (length | 0) !== length) return this.badLength(length);
    return this.badType(type);
  }

  /** @internal RecordBatchWriter.publish: the batch's end becomes the write position, published with one store of the tail. */
  batchPublish(position: number, records: number, wake = true): void {
    this.writePosition = position;
    this.batchStart = -1;
    this.recordsWritten += records;
    this.publishTail(wake);
  }

  /** @internal RecordBatchWriter.abort: the batch's bytes stay unpublished and are written over. */
  batchAbort(): void {
    this.batchStart = -1;
  }

  /** @internal RecordBatchWriter, with no batch open: the error. */
  batchNotOpen(): RingUsageError {
    return this.closed ? this.closedError() : this.noBatch();
  }

  /** True while a claim is open. */
  get claiming(): boolean {
    return this.claimOffset >= 0;
  }

  /**
   * Publishes every committed record with one sequentially consistent store of the tail (a release, and the first half of FORMAT.md §6), then wakes the consumer if
   * it is parked. Cheap when there is nothing to publish.
   */
  flush(): void {
    this.publishTail(true);
  }

  /** A publish that did not wake a parked consumer (publishTail(false)) is owed a wake by the next one that may. */
  private wakeOwed = false;

  /**
   * @internal flush(), and with `wake` false a publish that leaves a parked consumer parked (a
   * pipeline stage that publishes often while it has input: FanOut.flush). Whoever publishes that
   * way must publish with a wake before it waits itself and at its end; the wake is then owed even
   * when nothing new is published.
   */
  publishTail(wake: boolean): void {
    // An open batch is published by its own publish(): only what came before it goes now.
    const position = this.batchStart === -1 ? this.writePosition : this.batchStart;
    if (position !== this.publishedTail) {
      storeSeqCst(this.words, TAIL_INDEX, position);
      this.publishedTail = position;
      this.pendingRecords = 0;
    } else if (!(wake && this.wakeOwed)) {
      return;
    }
    if (!wake) {
      this.wakeOwed = true;
      return;
    }
    this.wakeOwed = false;
    this.wakePeer();
  }

  private consumerGone(): RingClosedError {
    return new RingClosedError('ERR_CLOSED', 'shmring: the consumer closed the ring; nobody will read this record', {
      field: 'consumerState',
      value: ROLE_CLOSED,
    });
  }

  /**
   * Zero-copy claim that blocks this thread until there is room (returns the payload offset in
   * `this.data`, as tryClaim) or the timeout passes (-1). Throws ERR_CLOSED if the consumer left for good.
   */
  claimSync(length: number, type = 0, timeoutMs = Infinity): number {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const payloadOffset = this.tryClaim(length, type);
      if (payloadOffset >= 0) return payloadOffset;
      if (this.peerState() === ROLE_CLOSED) throw this.consumerGone();
      this.headSeen = this.cachedHead;
      const remaining = deadline === Infinity ? Infinity : deadline - performance.now();
      if (remaining <= 0 || !this.waitUntilSync(this.headMoved, remaining)) return -1;
    }
  }

  /**
   * Zero-copy claim that waits for room without blocking the thread. Resolves with the payload
   * offset in `this.data`; rejects on timeout (ERR_TIMEOUT), abort, or a closed consumer (ERR_CLOSED).
   */
  async claimAsync(length: number, type = 0, options?: WaitOptions): Promise<number> {
    let payloadOffset = this.tryClaim(length, type);
    if (payloadOffset >= 0) return payloadOffset;
    const timeout = timeoutOf(options);
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    do {
      if (this.peerState() === ROLE_CLOSED) throw this.consumerGone();
      this.headSeen = this.cachedHead;
      const remaining = deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
      await this.waitUntilAsync(this.headMoved, remaining, options?.signal, timeout);
      payloadOffset = this.tryClaim(length, type);
    } while (payloadOffset < 0);
    return payloadOffset;
  }

  /** Blocks this thread until the record is written (true) or the timeout passes (false). For worker threads. */
  writeSync(payload: Uint8Array, type = 0, timeoutMs = Infinity): boolean {
    if (this.tryWrite(payload, type)) return true;
    const payloadOffset = this.claimSync(payload.length, type, timeoutMs);
    if (payloadOffset < 0) return false;
    this.data.set(payload, payloadOffset);
    this.commit();
    return true;
  }

  /** Writes the record, waiting for space without blocking the thread. */
  async write(payload: Uint8Array, type = 0, options?: WaitOptions): Promise<void> {
    if (this.tryWrite(payload, type)) return;
    const payloadOffset = await this.claimAsync(payload.length, type, options);
    this.data.set(payload, payloadOffset);
    this.commit();
  }

  /**
   * Publishes what is pending and leaves the role. `end: true` (default) marks the end of the stream:
   * the consumer drains what was published and then sees the end. `end: false` only detaches, so a
   * new producer may attach and continue (a restart).
   */
  close(options: { end?: boolean } = {}): void {
    if (this.closed) return;
    this.claimOffset = -1;
    this.pendingPadding = 0;
    // An unpublished batch is dropped, as an open claim is.
    if (this.batchStart !== -1) {
      this.batchWriter?.drop();
      this.batchStart = -1;
    }
    this.flush();
    this.leaveRole(options.end === false ? ROLE_DETACHED : ROLE_CLOSED);
  }

  /** @internal A thread that exits without close() cut its stream short: detach, never end it. */
  detachAtExit(): void {
    this.close({ end: false });
  }

  stats(): ProducerStats {
    const { head, tail } = this.positions();
    return {
      capacity: this.capacity,
      maxRecordLength: this.maxRecordLength,
      head,
      tail,
      writePosition: this.writePosition >>> 0,
      bytesInFlight: (tail - head) >>> 0,
      pendingRecords: this.pendingRecords,
      recordsWritten: this.recordsWritten,
      consumerState: this.consumerState(),
    };
  }
}
