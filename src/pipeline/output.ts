/**
 * A stage worker's output: what its context's claim/commit/write and its handler's return value
 * turn into in the next rings, with the framing the next tier needs (io.ts).
 *
 * Framing without lookahead. While the next tier reads in order, an item of exactly one record
 * travels unframed and any other count is framed (GROUP_BEGIN ... GROUP_END, or ITEM_EMPTY). A
 * handler that writes through its context does not say in advance how many records it will write,
 * so the first record of an item is *held*: claimed in the ring and filled, but not committed. When
 * the item ends with that one record, it is committed as is (the common 1:1 case costs nothing
 * extra). When a second record comes, the held bytes are copied aside, the claim is dropped, and the
 * item is written as a group (GROUP_BEGIN, the first record again, the next ones ...). Nothing is
 * published while a record is held: the worker publishes only between items, and a producer
 * publishes on its own only when a claim finds the ring full, which never happens while one is held.
 *
 * Nothing here allocates per record: one scratch buffer (for the rare regroup) is made per worker.
 */
import type { RecordBatchWriter } from '../batch.js';
import { CONTROL_TYPE, FanOut, GROUP_BEGIN, GROUP_END, ITEM_EMPTY, MAX_PIPELINE_TYPE } from './io.js';

export type StageFailureCode =
  | 'ERR_STAGE_MODULE'
  | 'ERR_STAGE_EXPORT'
  | 'ERR_STAGE_FAILED'
  | 'ERR_STAGE_INIT'
  | 'ERR_STAGE_END'
  | 'ERR_BAD_OUTPUT'
  | 'ERR_RECORD_TOO_LONG'
  | 'ERR_STAGE_RING';

export class StageFailure extends Error {
  constructor(
    readonly code: StageFailureCode,
    message: string,
    readonly recordIndex: number,
    readonly failureCause?: unknown,
  ) {
    super(message);
  }
}

/** Where the writer is: inside a record's handler, inside the end hook, or neither (claims refused). */
const IDLE = 0;
const IN_RECORD = 1;
const IN_END = 2;

export class StageOutputWriter {
  readonly out: FanOut;
  private readonly orderedOutput: boolean;
  private readonly maxRecordLength: number;
  private readonly stats: Float64Array;
  private readonly recordsOutIndex: number;
  private readonly where: string;
  /** Milliseconds spent waiting for room in the output rings since the caller last reset it. */
  outputWaitMs = 0;
  /** The upstream group being forwarded: its records are written unframed (the group's own framing travels). */
  inUpstreamGroup = false;

  private phase = IDLE;
  private item = -1;
  /** For messages: the item or worker-local index of the record being handled; -1 in the end hook. */
  recordIndex = -1;
  private inputType = 0;
  /** User records written for the current item (the held one included). */
  private emitted = 0;
  /** Framed item: its first record is claimed and filled but not committed (see the file comment). */
  private held = false;
  private heldOffset = 0;
  private heldLength = 0;
  private heldType = 0;
  /** Framed item: GROUP_BEGIN has been written. */
  private grouped = false;
  /** A claim the stage opened with claim() and has not committed. */
  private userClaimOpen = false;
  private userClaimLength = 0;
  private userClaimType = 0;
  private userClaimOffset = 0;
  private scratch: Uint8Array | undefined;

  constructor(out: FanOut, options: { orderedOutput: boolean; stats: Float64Array; recordsOutIndex: number; where: string }) {
    this.out = out;
    this.orderedOutput = options.orderedOutput;
    this.maxRecordLength = out.maxRecordLength;
    this.stats = options.stats;
    this.recordsOutIndex = options.recordsOutIndex;
    this.where = options.where;
  }

  private get framed(): boolean {
    return this.orderedOutput && !this.inUpstreamGroup;
  }

  private describeRecord(): string {
    return this.phase === IN_END ? 'in its end hook' : `for record ${this.recordIndex}`;
  }

  private describeReturn(): string {
    return this.phase === IN_END ? 'returned from its end hook' : `returned for record ${this.recordIndex}`;
  }

  /** The data area of the ring the last claim() went to. */
  get output(): Uint8Array {
    const ring = this.out.claimRing;
    return this.out.producers[ring < 0 ? 0 : ring].data;
  }

  beginRecord(item: number, recordIndex: number, inputType: number): void {
    this.phase = IN_RECORD;
    this.item = item;
    this.recordIndex = recordIndex;
    this.inputType = inputType;
    this.emitted = 0;
  }

  /** The end hook writes one more item: the worker's next item index (every worker of the tier adds one, so items stay consecutive). */
  beginEnd(item: number): void {
    this.phase = IN_END;
    this.item = item;
    this.recordIndex = -1;
    this.inputType = 0;
    this.emitted = 0;
  }

  private checkRecord(length: number, type: number): void {
    if (this.phase === IDLE) {
      throw new StageFailure('ERR_BAD_OUTPUT', `${this.where} wrote through its context outside a record handler or the end hook`, this.recordIndex);
    }
    if (this.userClaimOpen) {
      throw new StageFailure('ERR_BAD_OUTPUT', `${this.where} claimed again ${this.describeRecord()} before commit() of its previous claim`, this.recordIndex);
    }
    if (!Number.isInteger(type) || type < 0 || type > MAX_PIPELINE_TYPE) {
      throw new StageFailure(
        'ERR_BAD_OUTPUT',
        `${this.where} wrote record type ${String(type)} ${this.describeRecord()}; expected an integer from 0 to ${MAX_PIPELINE_TYPE} (0xFFFF is reserved for the pipeline's framing)`,
        this.recordIndex,
      );
    }
    if (!Number.isInteger(length) || length < 0 || length > this.maxRecordLength) {
      throw new StageFailure(
        'ERR_RECORD_TOO_LONG',
        `${this.where} wrote a record of ${String(length)} bytes ${this.describeRecord()}; the next ring holds records of at most ${this.maxRecordLength} bytes (pipeline option maxRecordLength)`,
        this.recordIndex,
      );
    }
  }

  /** Claims room in the next ring, waiting (blocking this thread) while it is full. */
  private claimRaw(length: number, type: number): number {
    const offset = this.out.tryClaim(length, type, this.item);
    if (offset >= 0) return offset;
    const started = performance.now();
    const waited = this.out.claimSync(length, type);
    this.outputWaitMs += performance.now() - started;
    return waited;
  }

  /** Writes a whole record now (copy), waiting for room. */
  private writeRaw(payload: Uint8Array, type: number): void {
    const ring = this.out.tryWrite(payload, type, this.item);
    if (ring < 0) return;
    const started = performance.now();
    // Blocks this thread until the consumer makes room (backpressure); throws ERR_CLOSED if it left.
    this.out.writeSync(ring, payload, type);
    this.outputWaitMs += performance.now() - started;
  }

  private control(code: number): void {
    this.writeRaw(this.out.controlPayload(code), CONTROL_TYPE);
  }

  /** Before a second record of a framed item: turn the held record into the start of a group. */
  private regroup(): void {
    if (this.grouped) return;
    if (this.held) {
      const ring = this.out.claimRing;
      const scratch = (this.scratch ??= new Uint8Array(this.maxRecordLength));
      const length = this.heldLength;
      scratch.set(this.out.producers[ring].data.subarray(this.heldOffset, this.heldOffset + length));
      this.out.abortClaim();
      this.held = false;
      this.control(GROUP_BEGIN);
      this.writeRaw(scratch.subarray(0, length), this.heldType);
    } else {
      this.control(GROUP_BEGIN);
    }
    this.grouped = true;
  }

  /**
   * ctx.batch(): the next ring's batch writer, open, for records claimed on it directly (the
   * fastest way out: RecordBatchWriter.claim, no commit). Only where no framing is owed: one output
   * ring, and a next tier that does not read in source order (this stage or one before it is
   * `ordered: false`, or the next stage is a process). Unframed records belong to no item, so this
   * works anywhere in the stage (a batch handler before its first next(), init, end).
   */
  batch(): RecordBatchWriter {
    return this.checkDirect('batch()');
  }

  /** ctx.waitForRoom(length): after the batch writer's claim returned -1, publishes, waits for room, returns the writer open again. */
  waitForRoom(length: number): RecordBatchWriter {
    this.checkDirect('waitForRoom()');
    if (!Number.isInteger(length) || length < 0 || length > this.maxRecordLength) {
      throw new StageFailure(
        'ERR_RECORD_TOO_LONG',
        `${this.where} waited for room for a record of ${String(length)} bytes ${this.describeRecord()}; the next ring holds records of at most ${this.maxRecordLength} bytes`,
        this.recordIndex,
      );
    }
    const started = performance.now();
    const writer = this.out.waitForRoom(length);
    this.outputWaitMs += performance.now() - started;
    return writer;
  }

  private checkDirect(call: string): RecordBatchWriter {
    if (this.userClaimOpen) throw new StageFailure('ERR_BAD_OUTPUT', `${this.where} called context.${call} ${this.describeRecord()} before commit() of its claim`, this.recordIndex);
    if (this.orderedOutput) {
      throw new StageFailure(
        'ERR_BAD_OUTPUT',
        `${this.where} called context.${call}, but the next stage reads in source order and needs each item's records framed, which a batch writer does not do; declare this stage ordered: false, or write with claim()/commit()`,
        this.recordIndex,
      );
    }
    const writer = this.out.directBatch();
    if (writer === undefined) {
      throw new StageFailure('ERR_BAD_OUTPUT', `${this.where} called context.${call}, but it writes ${this.out.producers.length} rings (the next stage has several workers); context.batch() needs one`, this.recordIndex);
    }
    return writer;
  }

  /** ctx.claim: the payload offset in `output`; commit() makes it a record. */
  claim(length: number, type: number = this.inputType): number {
    this.checkRecord(length, type);
    if (this.framed && this.emitted > 0) this.regroup();
    const offset = this.claimRaw(length, type);
    this.userClaimOpen = true;
    this.userClaimOffset = offset;
    this.userClaimLength = length;
    this.userClaimType = type;
    return offset;
  }

  /** ctx.commit: the claimed record is written (held, when it may be the item's only record). */
  commit(): void {
    if (!this.userClaimOpen) throw new StageFailure('ERR_BAD_OUTPUT', `${this.where} called commit() without an open claim() ${this.describeRecord()}`, this.recordIndex);
    this.userClaimOpen = false;
    this.stats[this.recordsOutIndex]++;
    if (this.framed && this.emitted === 0) {
      this.held = true;
      this.heldOffset = this.userClaimOffset;
      this.heldLength = this.userClaimLength;
      this.heldType = this.userClaimType;
    } else {
      this.out.commitClaim();
    }
    this.emitted++;
  }

  /** ctx.write and returned records: copies `payload` into the next ring. `last`: no record follows in this item. */
  write(payload: Uint8Array, type: number = this.inputType, last = false): void {
    this.checkRecord(payload.length, type);
    this.stats[this.recordsOutIndex]++;
    if (!this.framed) {
      this.writeRaw(payload, type);
    } else if (this.emitted === 0 && last) {
      this.writeRaw(payload, type);
    } else if (this.emitted === 0) {
      const offset = this.claimRaw(payload.length, type);
      this.output.set(payload, offset);
      this.held = true;
      this.heldOffset = offset;
      this.heldLength = payload.length;
      this.heldType = type;
    } else {
      this.regroup();
      this.writeRaw(payload, type);
    }
    this.emitted++;
  }

  /** Ends the current item: commits a held record alone, or closes its group, or marks it empty. */
  endItem(): void {
    if (this.userClaimOpen) {
      this.userClaimOpen = false;
      this.out.abortClaim();
      const message = `${this.where} ${this.describeReturn()} with a claim() it did not commit()`;
      this.phase = IDLE;
      throw new StageFailure('ERR_BAD_OUTPUT', message, this.recordIndex);
    }
    if (this.framed) {
      if (this.held) this.out.commitClaim();
      else if (this.grouped) this.control(GROUP_END);
      else if (this.emitted === 0) this.control(ITEM_EMPTY);
    }
    this.held = false;
    this.grouped = false;
    this.phase = IDLE;
  }

  /** Forwards an upstream framing record (only while the next tier reads in order). */
  forwardControl(code: number, item: number): void {
    this.item = item;
    if (this.orderedOutput) this.control(code);
  }
}
