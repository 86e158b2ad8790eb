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
  CONTROL_TYPE,
  FanIn,
  FanOut,
  GROUP_BEGIN,
  GROUP_END,
  ITEM_EMPTY,
  MAX_PIPELINE_TYPE,
  PipelineProtocolError,
} from './io.js';
import { RingProducer } from '../producer.js';
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
}

/** Error codes a worker reports (the main thread turns them into a PipelineError). */
export type StageFailureCode =
  | 'ERR_STAGE_MODULE'
  | 'ERR_STAGE_EXPORT'
  | 'ERR_STAGE_FAILED'
  | 'ERR_BAD_OUTPUT'
  | 'ERR_RECORD_TOO_LONG'
  | 'ERR_STAGE_RING';

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

/** The `this`-free context a stage function receives as its third argument. */
export interface StageContext {
  readonly stage: string;
  readonly stageIndex: number;
  readonly worker: number;
  readonly workers: number;
  /** The stage descriptor's `options` (a structured clone). */
  readonly options: unknown;
}

export type StageOutput = Uint8Array | { data: Uint8Array; type?: number } | null | undefined;
export type StageFunction = (
  data: Uint8Array,
  type: number,
  context: StageContext,
) => StageOutput | ReadonlyArray<Uint8Array | { data: Uint8Array; type?: number }>;

class StageFailure extends Error {
  constructor(
    readonly code: StageFailureCode,
    message: string,
    readonly recordIndex: number,
    readonly failureCause?: unknown,
  ) {
    super(message);
  }
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

export default async function runStageWorker(task: StageTask): Promise<StageOutcome> {
  const where = `stage '${task.stage}' (worker ${task.worker})`;
  const kind: 'item' | 'worker' = task.orderedInput ? 'item' : 'worker';
  let stageFunction: StageFunction;
  try {
    const module = (await import(task.module)) as Record<string, unknown>;
    const candidate = module[task.export];
    if (typeof candidate !== 'function') {
      const names = Object.keys(module).filter((name) => typeof module[name] === 'function');
      return {
        ok: false,
        code: 'ERR_STAGE_EXPORT',
        message: `${where}: module ${task.module} has no function export '${task.export}' (${
          task.export in module ? `it is ${describe(module[task.export])}` : 'no such export'
        }; function exports: ${names.length > 0 ? names.join(', ') : 'none'})`,
        recordIndex: -1,
        indexKind: kind,
      };
    }
    stageFunction = candidate as StageFunction;
  } catch (error) {
    return {
      ok: false,
      code: 'ERR_STAGE_MODULE',
      message: `${where}: cannot load module ${task.module}: ${(error as Error)?.message ?? String(error)}`,
      recordIndex: -1,
      indexKind: kind,
      cause: serializeError(error),
    };
  }

  const stats = new Float64Array(task.stats);
  const slot = task.statsSlot;
  const context: StageContext = Object.freeze({
    stage: task.stage,
    stageIndex: task.stageIndex,
    worker: task.worker,
    workers: task.workers,
    options: task.options,
  });
  const consumers: RingConsumer[] = [];
  const producers: RingProducer[] = [];
  const files: RingFile[] = [];
  let inputParker: Parker = atomicsParker;
  try {
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
      const options = { spin: task.spin, publish: 'auto' as const, batchRecords: task.batchRecords };
      producers.push(ref.path === undefined ? new RingProducer(ref.buffer, options) : open(ref.path).producer(options));
    }
    const out = new FanOut(producers, { ordered: task.orderedOutput, stats, ringStats: task.outputRingStats });
    const orderedOutput = task.orderedOutput;
    const maxRecordLength = out.maxRecordLength;
    let inputIndex = 0;
    let inGroup = false;
    let outputWaitMs = 0;

    const writeRecord = (payload: Uint8Array, type: number, item: number): void => {
      const ring = out.tryWrite(payload, type, item);
      if (ring < 0) return;
      const started = performance.now();
      // Blocks this thread until the consumer makes room (backpressure); throws ERR_CLOSED if it left.
      out.producers[ring].writeSync(payload, type);
      out.countWritten(ring);
      outputWaitMs += performance.now() - started;
    };

    const checkOutput = (payload: unknown, inputType: number, index: number): number => {
      if (!(payload instanceof Uint8Array)) {
        throw new StageFailure(
          'ERR_BAD_OUTPUT',
          `${where} returned ${describe(payload)} for record ${index}; expected a Uint8Array, { data: Uint8Array, type }, an array of those, or null to drop it`,
          index,
        );
      }
      if (payload.length > maxRecordLength) {
        throw new StageFailure(
          'ERR_RECORD_TOO_LONG',
          `${where} returned a record of ${payload.length} bytes for record ${index}; the next ring holds records of at most ${maxRecordLength} bytes (pipeline option maxRecordLength)`,
          index,
        );
      }
      return inputType;
    };

    /** Writes one element of a stage's result: a Uint8Array (keeps the input type) or { data, type }. */
    const emit = (element: unknown, inputType: number, index: number, item: number): void => {
      let payload = element;
      let type = inputType;
      if (element !== null && typeof element === 'object' && !(element instanceof Uint8Array) && 'data' in element) {
        payload = (element as { data: unknown }).data;
        const declared = (element as { type?: unknown }).type;
        if (declared !== undefined) {
          if (typeof declared !== 'number' || !Number.isInteger(declared) || declared < 0 || declared > MAX_PIPELINE_TYPE) {
            throw new StageFailure(
              'ERR_BAD_OUTPUT',
              `${where} returned record type ${String(declared)} for record ${index}; expected an integer from 0 to ${MAX_PIPELINE_TYPE} (0xFFFF is reserved for the pipeline's framing)`,
              index,
            );
          }
          type = declared;
        }
      }
      checkOutput(payload, type, index);
      writeRecord(payload as Uint8Array, type, item);
      stats[slot + NODE_RECORDS_OUT]++;
    };

    const onRecord = (type: number, data: Uint8Array, offset: number, length: number, item: number): void => {
      const index = task.orderedInput ? item : inputIndex;
      inputIndex++;
      stats[slot + NODE_RECORDS_IN]++;
      stats[slot + NODE_CURRENT_INDEX] = index;
      let result: ReturnType<StageFunction>;
      try {
        // A view of the record in the input ring: valid during this call (the ring reuses it after).
        result = stageFunction(data.subarray(offset, offset + length), type, context);
      } catch (error) {
        throw new StageFailure(
          'ERR_STAGE_FAILED',
          `${where} threw on ${task.orderedInput ? task.itemLabel : 'input record'} ${index}: ${(error as Error)?.message ?? String(error)}`,
          index,
          error,
        );
      }
      // An item of exactly one record travels unframed; zero or several records are framed when the
      // next tier reads in order. Inside a group, the group's own framing is forwarded as it comes.
      const frame = orderedOutput && !inGroup;
      if (result instanceof Uint8Array) {
        emit(result, type, index, item);
      } else if (result === null || result === undefined) {
        if (frame) writeRecord(out.controlPayload(ITEM_EMPTY), CONTROL_TYPE, item);
      } else if (Array.isArray(result)) {
        if (frame && result.length === 1) {
          emit(result[0], type, index, item);
        } else if (frame && result.length === 0) {
          writeRecord(out.controlPayload(ITEM_EMPTY), CONTROL_TYPE, item);
        } else {
          if (frame) writeRecord(out.controlPayload(GROUP_BEGIN), CONTROL_TYPE, item);
          for (const element of result) emit(element, type, index, item);
          if (frame) writeRecord(out.controlPayload(GROUP_END), CONTROL_TYPE, item);
        }
      } else if (typeof result === 'object' && 'data' in result) {
        emit(result, type, index, item);
      } else {
        checkOutput(result, type, index);
      }
    };

    const onControl = (code: number, item: number): void => {
      if (code === GROUP_BEGIN) inGroup = true;
      else if (code === GROUP_END) inGroup = false;
      if (orderedOutput) writeRecord(out.controlPayload(code), CONTROL_TYPE, item);
    };

    const input = new FanIn(
      consumers,
      { ordered: task.orderedInput, first: task.worker, stride: task.workers, parker: inputParker, stats, ringStats: task.inputRingStats },
      onRecord,
      onControl,
    );

    // Publishing: the producers publish every `batchRecords` records on their own ('auto' policy); on
    // top of that the loop publishes before it waits for input and whenever a millisecond has passed
    // since it last did, so a slow stage function never holds finished results back for long. Batches
    // shrink when they take over a millisecond (down to one record for a slow function) and grow back
    // while they are quick. Publishing after every short batch instead would wake a parked consumer per
    // batch: on a machine with fewer cores than threads that costs more than half the throughput.
    const maxBatch = task.batchRecords;
    let batch = 1;
    let busyMs = 0;
    let inputWaitMs = 0;
    let lastFlush = performance.now();
    for (;;) {
      const started = performance.now();
      outputWaitMs = 0;
      const handled = input.pump(batch);
      const finished = performance.now();
      const elapsed = finished - started - outputWaitMs;
      busyMs += elapsed;
      stats[slot + NODE_BUSY_MS] = busyMs;
      stats[slot + NODE_OUTPUT_WAIT_MS] += outputWaitMs;
      if (handled < 0) break;
      if (handled > 0) {
        if (elapsed > 1) batch = Math.max(1, batch >> 1);
        else if (handled === batch && batch < maxBatch) batch = Math.min(maxBatch, batch * 2);
        if (finished - lastFlush > 1) {
          out.flush();
          lastFlush = finished;
        }
        continue;
      }
      // Nothing to read: publish what we wrote, then wait for input.
      out.flush();
      const waitStarted = performance.now();
      lastFlush = waitStarted;
      if (input.canBlock) input.waitSync(task.spin);
      else await input.waitAsync();
      inputWaitMs += performance.now() - waitStarted;
      stats[slot + NODE_INPUT_WAIT_MS] = inputWaitMs;
    }
    stats[slot + NODE_BUSY_MS] = busyMs;
    stats[slot + NODE_INPUT_WAIT_MS] = inputWaitMs;
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
      message: `${where}: ${protocol ? '' : 'ring failure: '}${(error as Error)?.message ?? String(error)}`,
      recordIndex: index,
      indexKind: kind,
      cause: serializeError(error),
    };
  }
}
