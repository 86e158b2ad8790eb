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
} from './io.js';
import { loadAcquire } from '../atomics.js';
import { HEAD_INDEX, RECORD_HEADER_LENGTH, TAIL_INDEX } from '../layout.js';
import { RingProducer } from '../producer.js';
import { ChainLink, StageFailure, StageOutputWriter, type ChainBatchTarget, type ChainHandler, type StageFailureCode, type RecordOutput } from './output.js';
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
  /**
   * The stages chained after this one (pipeline option `chain`), run in this worker in order: each
   * record this stage writes goes to the next by call; the last writes to `outputs`. Empty: none.
   */
  chain: ChainedStageTask[];
}

/** A stage run in the worker of the stage before it (StageTask.chain). */
export interface ChainedStageTask {
  stage: string;
  stageIndex: number;
  module: string;
  export: string;
  options: unknown;
  batch: boolean;
  orderedInput: boolean;
  itemLabel: string;
  statsSlot: number;
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
      /** The stage that failed: the task's own, or one chained to it. */
      stageIndex: number;
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
   * In-place output, the fastest way out: reserves a record of `length` bytes in the next ring and
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
async function loadStage(task: ChainedStageTask, where: string): Promise<StageDefinition> {
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

/** The reusable cursor behind StageBatch: integer bookkeeping in typed arrays, no object per record. */
class BatchCursor implements StageBatch {
  count = 0;
  buffer: Uint8Array = new Uint8Array(0);
  offset = 0;
  length = 0;
  type = 0;
  index = -1;
  position = -1;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly types: Int32Array;
  readonly items: Float64Array;
  readonly indices: Float64Array;
  /** Called when the cursor leaves a record and when it reaches the next one (output framing). */
  onLeave: () => void = () => {};
  onEnter: (position: number) => void = () => {};

  constructor(capacity: number) {
    this.offsets = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    this.types = new Int32Array(capacity);
    this.items = new Float64Array(capacity);
    this.indices = new Float64Array(capacity);
  }

  next(): boolean {
    if (this.position >= 0 && this.position < this.count) this.onLeave();
    if (this.position < this.count) this.position++;
    if (this.position >= this.count) return false;
    const position = this.position;
    this.offset = this.offsets[position];
    this.length = this.lengths[position];
    this.type = this.types[position];
    this.index = this.indices[position];
    this.onEnter(position);
    return true;
  }

  get data(): Uint8Array {
    return this.buffer.subarray(this.offset, this.offset + this.length);
  }
}

/** One stage as a worker runs it: the first of its task, or one chained after it. */
interface StageRun {
  readonly spec: ChainedStageTask;
  readonly where: string;
  readonly definition: StageDefinition;
  readonly context: StageContext;
  /** Where its context writes: the next rings (the last stage of the task) or the next stage's handler. */
  readonly out: RecordOutput;
  readonly indexLabel: string;
}

function makeContext(spec: ChainedStageTask, task: StageTask, out: RecordOutput, where: string): StageContext {
  const context: StageContext = {
    stage: spec.stage,
    stageIndex: spec.stageIndex,
    worker: task.worker,
    workers: task.workers,
    options: spec.options,
    state: undefined,
    get recordIndex() {
      return out.recordIndex;
    },
    get output() {
      return out.output;
    },
    claim: (length, type) => out.claim(length, type),
    commit: () => out.commit(),
    write: (data, type) => {
      if (!(data instanceof Uint8Array)) {
        throw new StageFailure('ERR_BAD_OUTPUT', `${where} wrote ${describe(data)} for record ${out.recordIndex}; expected a Uint8Array`, out.recordIndex);
      }
      out.write(data, type);
    },
  };
  return Object.seal(context);
}

/**
 * Writes what a record function returned: a Uint8Array (keeps the input type), { data, type }, an
 * array of those, or null/undefined (dropped, or written through the context). `single`: the output
 * may take the one-record shortcut (the item ends with this stage's return).
 */
function emitResult(run: StageRun, result: unknown, inputType: number, index: number, single: boolean): void {
  if (result === null || result === undefined) return;
  if (Array.isArray(result)) {
    for (let k = 0; k < result.length; k++) emitOne(run, result[k], inputType, index, single && k === result.length - 1);
  } else {
    emitOne(run, result, inputType, index, single);
  }
}

function emitOne(run: StageRun, element: unknown, inputType: number, index: number, last: boolean): void {
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
      `${run.where} returned ${describe(payload)} for record ${index}; expected a Uint8Array, { data: Uint8Array, type }, an array of those, or null to drop it`,
      index,
    );
  }
  run.out.write(payload, type, last);
}

/** Calls a batch handler over `batch` and closes every record it did not move to. */
function runBatchFunction(run: StageRun, batch: BatchCursor): void {
  batch.position = -1;
  try {
    const result = run.definition.batch!(batch, run.context) as unknown;
    if (result !== undefined) {
      throw new StageFailure('ERR_BAD_OUTPUT', `${run.where}: a batch handler writes through its context and returns nothing; it returned ${describe(result)}`, batch.index);
    }
  } catch (error) {
    batch.count = 0;
    if (error instanceof StageFailure) throw error;
    const index = batch.position >= 0 && batch.position < batch.count ? batch.index : batch.indices[Math.max(0, batch.position)];
    throw new StageFailure('ERR_STAGE_FAILED', `${run.where} threw on ${run.indexLabel} ${batch.index} (in a batch): ${messageOf(error)}`, batch.index === -1 ? index : batch.index, error);
  }
  // Close the record the handler stopped at, and give every record it skipped its (empty) item.
  while (batch.next());
  batch.count = 0;
}

export default async function runStageWorker(task: StageTask): Promise<StageOutcome> {
  const whereOf = (spec: ChainedStageTask): string => `stage '${spec.stage}' (worker ${task.worker})`;
  const where = whereOf(task);
  const stats = new Float64Array(task.stats);
  const slot = task.statsSlot;
  const consumers: RingConsumer[] = [];
  const producers: RingProducer[] = [];
  const files: RingFile[] = [];
  let inputParker: Parker = atomicsParker;
  let writer: StageOutputWriter | undefined;
  // A chain: the first failure in it, with its stage, even if a stage function caught what a later
  // stage threw through its commit(); and the stage being run when something else failed.
  let chainFailure: StageFailure | undefined;
  let active = task.stageIndex;
  const specs: ChainedStageTask[] = [task, ...task.chain];
  try {
    const definitions: StageDefinition[] = [];
    for (const spec of specs) {
      active = spec.stageIndex;
      definitions.push(await loadStage(spec, whereOf(spec)));
    }
    active = task.stageIndex;
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
    const out = new FanOut(producers, { ordered: task.orderedOutput, stats, ringStats: task.outputRingStats });
    const lastSpec = specs[specs.length - 1];
    // The writer frames items for the next rings: the chain's first stage begins and ends each item,
    // whatever the stages after it write for it.
    const output = new StageOutputWriter(out, {
      orderedOutput: task.orderedOutput,
      stats,
      recordsOutIndex: lastSpec.statsSlot + NODE_RECORDS_OUT,
      where: whereOf(lastSpec),
    });
    writer = output;

    // Built from the last stage back, so each link knows the handler of the stage after it.
    const runs: StageRun[] = new Array<StageRun>(specs.length);
    let nextInput: ChainHandler | ChainBatchTarget | undefined;
    for (let j = specs.length - 1; j >= 0; j--) {
      const spec = specs[j];
      const stageWhere = whereOf(spec);
      const stageOut: RecordOutput =
        j === specs.length - 1
          ? output
          : new ChainLink(nextInput!, { maxRecordLength: out.maxRecordLength, stats, recordsOutIndex: spec.statsSlot + NODE_RECORDS_OUT, where: stageWhere });
      runs[j] = {
        spec,
        where: stageWhere,
        definition: definitions[j],
        context: makeContext(spec, task, stageOut, stageWhere),
        out: stageOut,
        indexLabel: spec.orderedInput ? spec.itemLabel : 'input record',
      };
      if (j > 0) nextInput = definitions[j].batch !== undefined ? chainedBatchTarget(runs[j]) : chainedHandler(runs[j]);
    }

    /** Records the first failure inside a chain (with its stage), whoever catches it on the way out. */
    const chainFailed = (error: unknown, stageIndex: number): void => {
      if (!(error instanceof StageFailure)) return;
      if (error.stageIndex < 0) error.stageIndex = stageIndex;
      chainFailure ??= error;
    };

    /** A chained batch handler: the link before it gathers records and flushes them as one batch. */
    function chainedBatchTarget(run: StageRun): ChainBatchTarget {
      const { spec, out: stageOut } = run;
      const statsSlot = spec.statsSlot;
      const cursor = new BatchCursor(task.batchRecords);
      cursor.onEnter = (position) => {
        stats[statsSlot + NODE_CURRENT_INDEX] = cursor.indices[position];
        stageOut.setInput(cursor.items[position], cursor.indices[position], cursor.types[position]);
      };
      let inputIndex = 0;
      return {
        get pending() {
          return cursor.count;
        },
        add(type, offset, length, item) {
          const position = cursor.count++;
          cursor.offsets[position] = offset;
          cursor.lengths[position] = length;
          cursor.types[position] = type;
          cursor.items[position] = item;
          cursor.indices[position] = spec.orderedInput ? item : inputIndex;
          inputIndex++;
          stats[statsSlot + NODE_RECORDS_IN]++;
          return cursor.count < cursor.offsets.length;
        },
        flush(buffer) {
          const previous = active;
          active = spec.stageIndex;
          cursor.buffer = buffer;
          try {
            runBatchFunction(run, cursor);
            stageOut.finishRecord();
          } catch (error) {
            chainFailed(error, spec.stageIndex);
            throw error;
          }
          active = previous;
        },
      };
    }

    /** The handler of a chained record function: a record handed to it by the stage before, while that one waits. */
    function chainedHandler(run: StageRun): ChainHandler {
      const { spec, definition, context, out: stageOut } = run;
      const recordFunction = definition.record!;
      const statsSlot = spec.statsSlot;
      let inputIndex = 0;
      return (type, data, offset, length, item) => {
        const previous = active;
        active = spec.stageIndex;
        const index = spec.orderedInput ? item : inputIndex;
        inputIndex++;
        stats[statsSlot + NODE_RECORDS_IN]++;
        stats[statsSlot + NODE_CURRENT_INDEX] = index;
        try {
          stageOut.setInput(item, index, type);
          let result: ReturnType<StageFunction>;
          try {
            // The link's scratch view of a whole record (fixed-size records: the same view each
            // time) is passed as it is: no view made per record.
            result = recordFunction(offset === 0 && length === data.length ? data : data.subarray(offset, offset + length), type, context);
          } catch (error) {
            if (error instanceof StageFailure) throw error;
            throw new StageFailure('ERR_STAGE_FAILED', `${run.where} threw on ${run.indexLabel} ${index}: ${messageOf(error)}`, index, error);
          }
          emitResult(run, result, type, index, false);
          stageOut.finishRecord();
        } catch (error) {
          chainFailed(error, spec.stageIndex);
          throw error;
        }
        active = previous;
      };
    }

    for (const run of runs) {
      if (run.definition.init === undefined) continue;
      active = run.spec.stageIndex;
      try {
        run.context.state = await run.definition.init(run.spec.options, run.context);
      } catch (error) {
        throw new StageFailure('ERR_STAGE_INIT', `${run.where} init threw: ${messageOf(error)}`, -1, error);
      }
    }
    active = task.stageIndex;

    const first = runs[0];
    const firstOut = first.out;
    const chained = firstOut !== output;
    const context = first.context;
    const definition = first.definition;
    let inputIndex = 0;
    const indexLabel = first.indexLabel;

    const recordFunction = definition.record;
    const onRecordCall = (type: number, data: Uint8Array, offset: number, length: number, item: number): void => {
      const index = task.orderedInput ? item : inputIndex;
      inputIndex++;
      stats[slot + NODE_RECORDS_IN]++;
      stats[slot + NODE_CURRENT_INDEX] = index;
      output.beginRecord(item, index, type);
      if (chained) firstOut.setInput(item, index, type);
      let result: ReturnType<StageFunction>;
      try {
        // A view of the record in the input ring: valid during this call (the ring reuses it after).
        result = recordFunction!(data.subarray(offset, offset + length), type, context);
      } catch (error) {
        if (error instanceof StageFailure) throw error;
        throw new StageFailure('ERR_STAGE_FAILED', `${where} threw on ${indexLabel} ${index}: ${messageOf(error)}`, index, error);
      }
      if (result !== null && result !== undefined) emitResult(first, result, type, index, !chained);
      if (chained) firstOut.finishRecord();
      output.endItem();
    };

    // Batch handlers: the records of one poll are gathered (their memory stays valid until the poll
    // returns, when the ring releases them) and handed over together when the poll's last record
    // arrives. Which record is last is counted in bytes from the ring's head and tail at the start of
    // the poll: the poll delivers at least what the tail said then, or its limit.
    const cursor = definition.batch !== undefined ? new BatchCursor(task.batchRecords) : undefined;
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
        if (chained) firstOut.setInput(cursor.items[position], cursor.indices[position], cursor.types[position]);
      };
      cursor.onLeave = () => {
        if (chained) firstOut.finishRecord();
        output.endItem();
      };
    }
    const runBatch = (): void => {
      if (cursor!.count > 0) runBatchFunction(first, cursor!);
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
      if (lastOfPoll(offset, length) || batch.count === batch.offsets.length) runBatch();
    };

    const onControl = (code: number, item: number, offset: number, length: number): void => {
      if (cursor !== undefined) {
        // Output for the records before it comes first; then the framing travels.
        lastOfPoll(offset, length);
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
    if (cursor !== undefined) input.onPollStart = onPollStart;

    // Publishing: the producers publish only when this loop says (and when a claim finds a ring full):
    // every `batchRecords` records, before it waits for input, and whenever a millisecond has passed
    // since it last did, so a slow stage function never holds finished results back for long. Batches
    // shrink when they take over a millisecond (down to one record for a slow function) and grow back
    // while they are quick. Publishing after every short batch instead would wake a parked consumer per
    // batch: on a machine with fewer cores than threads that costs more than half the throughput.
    const maxBatch = task.batchRecords;
    let batch = 1;
    let busyMs = 0;
    let inputWaitMs = 0;
    let lastFlush = performance.now();
    let sinceFlush = 0;
    for (;;) {
      const started = performance.now();
      output.outputWaitMs = 0;
      const handled = input.pump(batch);
      // A stage function may have caught what a later stage of its chain threw: the failure stands.
      if (chainFailure !== undefined) throw chainFailure;
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
          out.flush();
          lastFlush = finished;
          sinceFlush = 0;
        }
        continue;
      }
      // Nothing to read: publish what we wrote, then wait for input.
      out.flush();
      sinceFlush = 0;
      const waitStarted = performance.now();
      lastFlush = waitStarted;
      if (input.canBlock) input.waitSync(task.spin);
      else await input.waitAsync();
      inputWaitMs += performance.now() - waitStarted;
      stats[slot + NODE_INPUT_WAIT_MS] = inputWaitMs;
    }
    stats[slot + NODE_BUSY_MS] = busyMs;
    stats[slot + NODE_INPUT_WAIT_MS] = inputWaitMs;
    // End hooks, in chain order. While order is kept, every worker of a tier adds exactly one item
    // (empty or not) after the last one it read: the next tier's round-robin collect then finds items
    // N .. N + workers - 1. In a chain, the items a stage's end hook adds are read by the stages after
    // it as they would be through rings, so each later end item is one stride further.
    let endItem = task.orderedInput ? input.nextItemIndex : -1;
    for (const run of runs) {
      const end = run.definition.end;
      if (end === undefined) continue;
      active = run.spec.stageIndex;
      const item = run.spec.orderedInput ? endItem : -1;
      output.beginEnd(item);
      if (run.out !== output) run.out.beginEnd(item);
      try {
        end(run.context);
      } catch (error) {
        if (error instanceof StageFailure) throw error;
        throw new StageFailure('ERR_STAGE_END', `${run.where} end hook threw: ${messageOf(error)}`, -1, error);
      }
      if (chainFailure !== undefined) throw chainFailure;
      if (run.out !== output) run.out.finishRecord();
      output.endItem();
      if (run.spec.orderedInput) endItem += task.workers;
    }
    out.close(true);
    input.close();
    for (const file of files) file.close();
    return { ok: true, recordsIn: stats[slot + NODE_RECORDS_IN], recordsOut: stats[lastSpec.statsSlot + NODE_RECORDS_OUT] };
  } catch (caught) {
    // A failure leaves the rings as they are: no end of stream (downstream must not mistake a failure
    // for a clean end) and no close (upstream would fail with ERR_CLOSED and race this report). The
    // main thread terminates every worker as soon as it receives this outcome.
    const error = chainFailure ?? caught;
    const stageIndex = error instanceof StageFailure && error.stageIndex >= 0 ? error.stageIndex : active;
    const spec = specs.find((each) => each.stageIndex === stageIndex) ?? task;
    const index = stats[spec.statsSlot + NODE_CURRENT_INDEX];
    const indexKind: 'item' | 'worker' = spec.orderedInput ? 'item' : 'worker';
    if (error instanceof StageFailure) {
      return {
        ok: false,
        code: error.code,
        message: error.message,
        recordIndex: error.recordIndex,
        indexKind,
        stageIndex,
        cause: error.failureCause === undefined ? undefined : serializeError(error.failureCause),
      };
    }
    const protocol = error instanceof PipelineProtocolError;
    return {
      ok: false,
      code: 'ERR_STAGE_RING',
      message: `${whereOf(spec)}: ${protocol ? '' : 'ring failure: '}${messageOf(error)}${writer !== undefined && writer.recordIndex >= 0 ? ` (on record ${writer.recordIndex})` : ''}`,
      recordIndex: index,
      indexKind,
      stageIndex,
      cause: serializeError(error),
    };
  }
}
