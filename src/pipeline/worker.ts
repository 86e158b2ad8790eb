/**
 * The stage worker: one long-running piscina task per worker thread. It loads the stage's function,
 * attaches to its input rings (consumer) and output rings (producer), and loops: read records in
 * place, call the function, write its results straight into the next rings. No postMessage per
 * record; the task's only messages are its start and its outcome.
 *
 * The loop blocks this thread (Atomics.wait) when its next input can come from one ring only, and
 * awaits (Atomics.waitAsync) when several rings could deliver. Before any wait it publishes every
 * output ring, so records never linger unpublished while the worker sleeps.
 */
import type { RecordBatchWriter } from '../batch.js';
import { RingConsumer } from '../consumer.js';
import type { RingFile } from '../file.js';
import { atomicsParker, type Parker } from '../parker.js';
import {
  FanIn,
  FanOut,
  GROUP_BEGIN,
  GROUP_END,
  wordsOf,
  PipelineProtocolError,
  WAKE_INTERVAL_MS,
} from './io.js';
import { loadAcquire } from '../atomics.js';
import { HEAD_INDEX, RECORD_HEADER_LENGTH, TAIL_INDEX } from '../layout.js';
import { RingProducer } from '../producer.js';
import { StageFailure, StageOutputWriter, type StageFailureCode } from './output.js';
import { BatchCursor } from './cursor.js';
import { stageContext } from './context.js';
import { runChainStage, type ChainRef } from './chain.js';
import { NODE_BUSY_MS, NODE_CURRENT_INDEX, NODE_INPUT_WAIT_MS, NODE_OUTPUT_WAIT_MS, NODE_RECORDS_IN, NODE_RECORDS_OUT } from './stats.js';

/** An in-memory ring (shared, not copied, by structured clone) or a ring file the worker opens itself. */
export type RingRef = { buffer: SharedArrayBuffer; path?: undefined } | { path: string; buffer?: undefined };

/** What the main thread sends each worker (structured clone; SharedArrayBuffers are shared, not copied). */
export interface StageTask {
  stage: string;
  stageIndex: number;
  worker: number;
  workers: number;
  /** URL of the stage module (file:, data:, node:) or a bare package name. */
  module: string;
  export: string;
  /** The stage descriptor's `options`, structured-cloned. */
  options: unknown;
  inputs: RingRef[];
  outputs: RingRef[];
  inputRingStats: number[];
  outputRingStats: number[];
  /** Read items in source order (every stage up to this one is ordered). */
  orderedInput: boolean;
  /** The next tier reads in order: route by item and frame items that are not exactly one record. */
  orderedOutput: boolean;
  /** What item indices count, for messages: 'source record', or a process stage's output records. */
  itemLabel: string;
  stats: SharedArrayBuffer;
  /** Index of this worker's node slot in `stats`. */
  statsSlot: number;
  batchRecords: number;
  spin: number;
  /** The exported function is a batch handler (stage option `batch: true`). */
  batch: boolean;
  /** An in-place chain's stage (chain.ts): no rings of its own, a cursor in the one ring. */
  chain?: ChainRef;
}

export type { StageFailureCode };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

export type StageOutcome =
  | { ok: true; recordsIn: number; recordsOut: number }
  | {
      ok: false;
      code: StageFailureCode;
      message: string;
      /** The item (source record) index when order is kept, else the index within this worker's input; -1 if none. */
      recordIndex: number;
      indexKind: 'item' | 'worker';
      cause?: SerializedError;
    };

/** The `this`-free context a stage receives with every call (the same object for the worker's whole run). */
export interface StageContext {
  readonly stage: string;
  readonly stageIndex: number;
  readonly worker: number;
  readonly workers: number;
  /** The stage descriptor's `options` (a structured clone). */
  readonly options: unknown;
  /** What the stage's init(options, context) returned (undefined without init). A handler may replace it. */
  state: unknown;
  /**
   * The record being handled: its source record index while order is kept, else its index in this
   * worker's input; -1 in init and in the end hook.
   */
  readonly recordIndex: number;
  /**
   * Output straight into the next ring (no copy): reserves a record of `length` bytes in the next ring and
   * returns the offset of its payload in `context.output`; fill it, then commit(). `type` defaults
   * to the input record's type (0 in the end hook). Waits (blocking this worker) while the ring is full.
   */
  claim(length: number, type?: number): number;
  /** The next ring's memory the last claim() is in. Read it after claim(): it can change with each claim. */
  readonly output: Uint8Array;
  /** Makes the claimed bytes a record. */
  commit(): void;
  /** Copies `data` into the next ring as a record now (`data` may be reused at once). */
  write(data: Uint8Array, type?: number): void;
  /**
   * The next ring's batch writer, open: `claim(length, type)` returns the payload offset in its
   * `data` (no commit; -1 when the ring is full: then call waitForRoom). The fastest way out, for
   * stages that write many records per input. Only without framing: one output ring and a next tier
   * that does not read in source order (declare the stage `ordered: false`). Call it in each
   * handler call: the pipeline publishes the batch between calls.
   */
  batch(): RecordBatchWriter;
  /** After batch().claim returned -1: publishes, waits (blocking this worker) until `length` bytes fit, returns the writer open again. */
  waitForRoom(length: number): RecordBatchWriter;
}

/**
 * A batch of input records, handed to a batch handler (stage option `batch: true`, or a stage
 * object's `batch`): call next() to move to each record in turn. The fields describe the current
 * record in place (`buffer` is ring memory; the record is buffer[offset, offset + length)), valid
 * until the handler returns. Records the handler does not move to are consumed without output.
 */
export interface StageBatch {
  /** Records in this batch. */
  readonly count: number;
  /** Moves to the next record; false when there is none. Output written after it belongs to that record. */
  next(): boolean;
  readonly buffer: Uint8Array;
  readonly offset: number;
  readonly length: number;
  readonly type: number;
  /** As context.recordIndex. */
  readonly index: number;
  /** A view of the current record (allocates a view object: use buffer/offset/length on hot paths). */
  readonly data: Uint8Array;
}

export type StageOutput = Uint8Array | { data: Uint8Array; type?: number } | null | undefined;
export type StageFunction = (
  data: Uint8Array,
  type: number,
  context: StageContext,
) => StageOutput | ReadonlyArray<Uint8Array | { data: Uint8Array; type?: number }> | void;
export type StageBatchFunction = (batch: StageBatch, context: StageContext) => void;

/**
 * A stage with a lifecycle, exported instead of a function. `init` runs once per worker before its
 * first record (it may be async; what it returns is `context.state`); `record` (or `batch`) handles the
 * input; `end` runs once per worker after its input has ended and may still write records through the
 * context (aggregations, flushes). While order is kept, what `end` writes follows every record of the
 * stage's input: each worker's end output is one more item after the last source record.
 */
export interface StageDefinition {
  init?: (options: unknown, context: StageContext) => unknown;
  record?: StageFunction;
  batch?: StageBatchFunction;
  end?: (context: StageContext) => void;
}

function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, stack: error.stack, code: typeof code === 'string' ? code : undefined };
  }
  return { name: 'Error', message: `non-Error value thrown: ${String(error)}` };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    if (typeof (value as { then?: unknown }).then === 'function') return 'a Promise (stage functions must be synchronous)';
    const name = (value as object).constructor?.name;
    return name ? `an object (${name})` : 'an object';
  }
  return `a ${typeof value}`;
}

function messageOf(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}

/** Loads the stage's export: a function (record or batch handler) or a StageDefinition. */
async function loadStage(task: StageTask, where: string): Promise<StageDefinition> {
  let module: Record<string, unknown>;
  try {
    module = (await import(task.module)) as Record<string, unknown>;
  } catch (error) {
    throw new StageFailure('ERR_STAGE_MODULE', `${where}: cannot load module ${task.module}: ${messageOf(error)}`, -1, error);
  }
  const candidate = module[task.export];
  if (typeof candidate === 'function') return task.batch ? { batch: candidate as StageBatchFunction } : { record: candidate as StageFunction };
  if (candidate !== null && typeof candidate === 'object') {
    const definition = candidate as Record<string, unknown>;
    const problems: string[] = [];
    for (const key of ['init', 'record', 'batch', 'end']) {
      if (definition[key] !== undefined && typeof definition[key] !== 'function') problems.push(`${key} is ${describe(definition[key])}`);
    }
    if ((definition.record === undefined) === (definition.batch === undefined)) problems.push('it needs exactly one of record and batch');
    if (problems.length === 0) return definition as StageDefinition;
    throw new StageFailure('ERR_STAGE_EXPORT', `${where}: export '${task.export}' of ${task.module} is not a stage definition: ${problems.join('; ')}`, -1);
  }
  const names = Object.keys(module).filter((name) => typeof module[name] === 'function');
  throw new StageFailure(
    'ERR_STAGE_EXPORT',
    `${where}: module ${task.module} has no function export '${task.export}' (${
      task.export in module ? `it is ${describe(module[task.export])}` : 'no such export'
    }; function exports: ${names.length > 0 ? names.join(', ') : 'none'})`,
    -1,
  );
}

export default async function runStageWorker(task: StageTask): Promise<StageOutcome> {
  const where = `stage '${task.stage}' (worker ${task.worker})`;
  const kind: 'item' | 'worker' = task.orderedInput ? 'item' : 'worker';
  const stats = new Float64Array(task.stats);
  const slot = task.statsSlot;
  const consumers: RingConsumer[] = [];
  const producers: RingProducer[] = [];
  const files: RingFile[] = [];
  let inputParker: Parker = atomicsParker;
  let writer: StageOutputWriter | undefined;
  try {
    const definition = await loadStage(task, where);
    if (task.chain !== undefined) return { ok: true, ...(await runChainStage(task, task.chain, definition, where)) };
    // Ring files (next to a process stage) are opened here: this thread takes the role lock, and
    // waits and wakes with futexes the other process sees. Only those workers load the addon.
    const fileModule = [...task.inputs, ...task.outputs].some((ref) => ref.path !== undefined) ? await import('../file.js') : undefined;
    const open = (path: string): RingFile => {
      const file = fileModule!.RingFile.open(path);
      files.push(file);
      return file;
    };
    for (const ref of task.inputs) {
      if (ref.path === undefined) {
        consumers.push(new RingConsumer(ref.buffer, { spin: task.spin }));
      } else {
        consumers.push(open(ref.path).consumer({ spin: task.spin }));
        inputParker = fileModule!.futexParker();
      }
    }
    for (const ref of task.outputs) {
      // 'manual': this loop decides when to publish (between items, see output.ts), never a commit.
      const options = { spin: task.spin, publish: 'manual' as const };
      producers.push(ref.path === undefined ? new RingProducer(ref.buffer, options) : open(ref.path).producer(options));
    }
    const out = new FanOut(producers, {
      ordered: task.orderedOutput,
      stats,
      ringStats: task.outputRingStats,
      batched: true,
      recordsOutIndex: slot + NODE_RECORDS_OUT,
    });
    const output = new StageOutputWriter(out, { orderedOutput: task.orderedOutput, stats, recordsOutIndex: slot + NODE_RECORDS_OUT, where });
    writer = output;
    const context = stageContext(task, {
      recordIndex: () => output.recordIndex,
      output: () => output.output,
      claim: (length, type) => output.claim(length, type),
      commit: () => output.commit(),
      batch: () => output.batch(),
      waitForRoom: (length) => output.waitForRoom(length),
      write: (data, type) => {
        if (!(data instanceof Uint8Array)) {
          throw new StageFailure('ERR_BAD_OUTPUT', `${where} wrote ${describe(data)} for record ${output.recordIndex}; expected a Uint8Array`, output.recordIndex);
        }
        output.write(data, type);
      },
    });

    if (definition.init !== undefined) {
      try {
        context.state = await definition.init(task.options, context);
      } catch (error) {
        throw new StageFailure('ERR_STAGE_INIT', `${where} init threw: ${messageOf(error)}`, -1, error);
      }
    }

    let inputIndex = 0;
    const indexLabel = task.orderedInput ? task.itemLabel : 'input record';

    /** Writes one element of a returned result: a Uint8Array (keeps the input type) or { data, type }. */
    const emitReturned = (element: unknown, inputType: number, index: number, last: boolean): void => {
      let payload = element;
      let type = inputType;
      if (element !== null && typeof element === 'object' && !(element instanceof Uint8Array) && 'data' in element) {
        payload = (element as { data: unknown }).data;
        const declared = (element as { type?: unknown }).type;
        if (declared !== undefined) type = declared as number;
      }
      if (!(payload instanceof Uint8Array)) {
        throw new StageFailure(
          'ERR_BAD_OUTPUT',
          `${where} returned ${describe(payload)} for record ${index}; expected a Uint8Array, { data: Uint8Array, type }, an array of those, or null to drop it`,
          index,
        );
      }
      output.write(payload, type, last);
    };

    const recordFunction = definition.record;
    const onRecordCall = (type: number, data: Uint8Array, offset: number, length: number, item: number): void => {
      const index = task.orderedInput ? item : inputIndex;
      inputIndex++;
      stats[slot + NODE_RECORDS_IN]++;
      stats[slot + NODE_CURRENT_INDEX] = index;
      output.beginRecord(item, index, type);
      let result: ReturnType<StageFunction>;
      try {
        // A view of the record in the input ring: valid during this call (the ring reuses it after).
        result = recordFunction!(data.subarray(offset, offset + length), type, context);
      } catch (error) {
        if (error instanceof StageFailure) throw error;
        throw new StageFailure('ERR_STAGE_FAILED', `${where} threw on ${indexLabel} ${index}: ${messageOf(error)}`, index, error);
      }
      if (result instanceof Uint8Array) {
        emitReturned(result, type, index, true);
      } else if (result === null || result === undefined) {
        // Dropped, or written through the context.
      } else if (Array.isArray(result)) {
        for (let k = 0; k < result.length; k++) emitReturned(result[k], type, index, k === result.length - 1);
      } else if (typeof result === 'object' && 'data' in result) {
        emitReturned(result, type, index, true);
      } else {
        emitReturned(result, type, index, true);
      }
      output.endItem();
    };

    // Batch handlers: the records of one read are gathered (their memory stays valid until the read
    // ends, when the ring releases them) and handed over together at its end. With one input ring
    // the read is a batch of the ring's batch reader, which says when it ends (onBatchEnd). With
    // several it is a poll, and which record is its last is counted in bytes from the ring's head
    // and tail at the start of the poll: the poll delivers at least what the tail said then, or its limit.
    const batchFunction = definition.batch;
    const singleInput = consumers.length === 1;
    const cursor = batchFunction !== undefined ? new BatchCursor(task.batchRecords) : undefined;
    let pollRemaining = 0;
    let pollLeft = 0;
    let pollEnd = 0;
    let pollMask = 0;
    const onPollStart = (consumer: RingConsumer, limit: number): void => {
      const words = wordsOf(consumer.buffer);
      const head = loadAcquire(words, HEAD_INDEX);
      pollRemaining = (loadAcquire(words, TAIL_INDEX) - head) >>> 0;
      pollMask = consumer.capacity - 1;
      pollEnd = head & pollMask;
      pollLeft = limit;
      cursor!.buffer = consumer.data;
    };
    /** Counts a record of the poll; true when it is the poll's last. */
    const lastOfPoll = (offset: number, length: number): boolean => {
      const end = (offset - RECORD_HEADER_LENGTH + ((length + RECORD_HEADER_LENGTH + 7) & ~7)) & pollMask;
      pollRemaining -= (end - pollEnd) & pollMask || pollMask + 1;
      pollEnd = end;
      pollLeft--;
      // What is left may be only the padding up to the end of the ring (a claim dropped at the wrap).
      return pollLeft === 0 || pollRemaining <= 0 || (end !== 0 && pollRemaining === pollMask + 1 - end);
    };
    if (cursor !== undefined) {
      cursor.onEnter = (position) => {
        stats[slot + NODE_CURRENT_INDEX] = cursor.indices[position];
        output.beginRecord(cursor.items[position], cursor.indices[position], cursor.types[position]);
      };
      cursor.onLeave = () => output.endItem();
    }
    const runBatch = (): void => {
      const batch = cursor!;
      if (batch.count === 0) return;
      batch.position = -1;
      try {
        const result = batchFunction!(batch, context) as unknown;
        if (result !== undefined) {
          throw new StageFailure('ERR_BAD_OUTPUT', `${where}: a batch handler writes through its context and returns nothing; it returned ${describe(result)}`, -1);
        }
      } catch (error) {
        batch.count = 0;
        if (error instanceof StageFailure) throw error;
        const index = batch.position >= 0 && batch.position < batch.count ? batch.index : batch.indices[Math.max(0, batch.position)];
        throw new StageFailure('ERR_STAGE_FAILED', `${where} threw on ${indexLabel} ${batch.index} (in a batch): ${messageOf(error)}`, batch.index === -1 ? index : batch.index, error);
      }
      // Close the record the handler stopped at, and give every record it skipped its (empty) item.
      while (batch.next());
      batch.count = 0;
    };
    const onBatchRecord = (type: number, data: Uint8Array, offset: number, length: number, item: number): void => {
      const batch = cursor!;
      const position = batch.count++;
      batch.offsets[position] = offset;
      batch.lengths[position] = length;
      batch.types[position] = type;
      batch.items[position] = item;
      batch.indices[position] = task.orderedInput ? item : inputIndex;
      inputIndex++;
      stats[slot + NODE_RECORDS_IN]++;
      if ((!singleInput && lastOfPoll(offset, length)) || batch.count === batch.offsets.length) runBatch();
    };

    const onControl = (code: number, item: number, offset: number, length: number): void => {
      if (cursor !== undefined) {
        // Output for the records before it comes first; then the framing travels.
        if (!singleInput) lastOfPoll(offset, length);
        runBatch();
        if (!task.orderedInput) return;
      } else if (!task.orderedInput) {
        return;
      }
      if (code === GROUP_BEGIN) output.inUpstreamGroup = true;
      else if (code === GROUP_END) output.inUpstreamGroup = false;
      output.forwardControl(code, item);
    };

    const input = new FanIn(
      consumers,
      { ordered: task.orderedInput, first: task.worker, stride: task.workers, parker: inputParker, stats, ringStats: task.inputRingStats },
      cursor !== undefined ? onBatchRecord : onRecordCall,
      onControl,
    );
    // One input ring is read in batches that end with a call (FanIn.pumpSingle); several are polled.
    if (cursor !== undefined && singleInput) {
      cursor.buffer = consumers[0].data;
      input.onBatchEnd = runBatch;
    } else if (cursor !== undefined) {
      input.onPollStart = onPollStart;
    }

    // Publishing: the producers publish only when this loop says (and when a claim finds a ring full):
    // every `batchRecords` records, before it waits for input, and whenever a millisecond has passed
    // since it last did, so a slow stage function never holds finished results back for long. Batches
    // shrink when they take over a millisecond (down to one record for a slow function) and grow back
    // while they are quick. Publishing after every short batch instead would wake a parked consumer per
    // batch: on a machine with fewer cores than threads that costs more than half the throughput.
    // While input keeps coming, a publish wakes a parked consumer at most once per WAKE_INTERVAL_MS
    // (the others leave it parked: RingProducer.publishTail); the publish before this loop waits for
    // input, before it blocks on any full output ring (FanOut.beforeBlocking) and at the end wakes
    // every ring's reader. A parked consumer so gets a millisecond of records per wake instead of a
    // batch: the CSV app's parse worker spent 10-15 % of its time in Atomics.notify waking the
    // aggregate worker per batch (--cpu-prof, Node 26).
    const maxBatch = task.batchRecords;
    let batch = 1;
    let busyMs = 0;
    let inputWaitMs = 0;
    let lastFlush = performance.now();
    let lastWake = lastFlush;
    let sinceFlush = 0;
    for (;;) {
      const started = performance.now();
      output.outputWaitMs = 0;
      const handled = input.pump(batch);
      const finished = performance.now();
      const elapsed = finished - started - output.outputWaitMs;
      busyMs += elapsed;
      stats[slot + NODE_BUSY_MS] = busyMs;
      stats[slot + NODE_OUTPUT_WAIT_MS] += output.outputWaitMs;
      if (handled < 0) break;
      if (handled > 0) {
        if (elapsed > 1) batch = Math.max(1, batch >> 1);
        else if (handled === batch && batch < maxBatch) batch = Math.min(maxBatch, batch * 2);
        sinceFlush += handled;
        if (sinceFlush >= maxBatch || finished - lastFlush > 1) {
          const wake = finished - lastWake >= WAKE_INTERVAL_MS;
          out.flush(wake);
          if (wake) lastWake = finished;
          lastFlush = finished;
          sinceFlush = 0;
        }
        continue;
      }
      // Nothing to read: publish what we wrote (waking the consumer), then wait for input.
      out.flush();
      sinceFlush = 0;
      const waitStarted = performance.now();
      lastFlush = waitStarted;
      lastWake = waitStarted;
      if (input.canBlock) input.waitSync(task.spin);
      else await input.waitAsync();
      inputWaitMs += performance.now() - waitStarted;
      stats[slot + NODE_INPUT_WAIT_MS] = inputWaitMs;
    }
    stats[slot + NODE_BUSY_MS] = busyMs;
    stats[slot + NODE_INPUT_WAIT_MS] = inputWaitMs;
    if (definition.end !== undefined) {
      // While order is kept, every worker of the tier adds exactly one item (empty or not) after the
      // last one it read: the next tier's round-robin collect then finds items N .. N + workers - 1.
      output.beginEnd(task.orderedInput ? input.nextItemIndex : -1);
      try {
        definition.end(context);
      } catch (error) {
        if (error instanceof StageFailure) throw error;
        throw new StageFailure('ERR_STAGE_END', `${where} end hook threw: ${messageOf(error)}`, -1, error);
      }
      output.endItem();
    }
    out.close(true);
    input.close();
    for (const file of files) file.close();
    return { ok: true, recordsIn: stats[slot + NODE_RECORDS_IN], recordsOut: stats[slot + NODE_RECORDS_OUT] };
  } catch (error) {
    // A failure leaves the rings as they are: no end of stream (downstream must not mistake a failure
    // for a clean end) and no close (upstream would fail with ERR_CLOSED and race this report). The
    // main thread terminates every worker as soon as it receives this outcome.
    const index = stats[slot + NODE_CURRENT_INDEX];
    if (error instanceof StageFailure) {
      return {
        ok: false,
        code: error.code,
        message: error.message,
        recordIndex: error.recordIndex,
        indexKind: kind,
        cause: error.failureCause === undefined ? undefined : serializeError(error.failureCause),
      };
    }
    const protocol = error instanceof PipelineProtocolError;
    return {
      ok: false,
      code: 'ERR_STAGE_RING',
      message: `${where}: ${protocol ? '' : 'ring failure: '}${messageOf(error)}${writer !== undefined && writer.recordIndex >= 0 ? ` (on record ${writer.recordIndex})` : ''}`,
      recordIndex: index,
      indexKind: kind,
      cause: serializeError(error),
    };
  }
}
