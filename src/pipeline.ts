/**
 * Worker-thread pipelines over shmring rings: source -> stage 1 -> ... -> stage n -> sink.
 *
 * The source and the sink run on the calling thread; each stage runs in its own worker threads, next
 * to its input rings, and writes its results straight into the next rings (src/pipeline-io.ts has the
 * topology, the ordered round-robin collect and the framing). Records cross threads through shared
 * memory only: no postMessage, no structured clone, no copy beyond writing each result once.
 *
 * Why piscina: it owns the thread lifecycle the pipeline would otherwise hand-roll: a fixed-size pool
 * per stage (minThreads = maxThreads = workers), loading the task module in each thread, turning a
 * worker's crash or exit into the rejection of the task it was running, resource limits, and
 * destroy() that terminates every thread (even one stuck in a stage function or parked in
 * Atomics.wait) and resolves once they have exited. Each worker runs one long task that loops over
 * its rings; piscina's per-task messaging is used twice per worker (start, outcome), never per record.
 * examples/pipeline/compare.mjs runs the same stages as ordinary piscina tasks for comparison.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { loadAcquire } from './atomics.js';
import { RingConsumer } from './consumer.js';
import { createRing } from './header.js';
import { HEADER_LENGTH, HEAD_INDEX, TAIL_INDEX } from './layout.js';
import { atomicsParker } from './parker.js';
import {
  FanIn,
  FanOut,
  MAX_PIPELINE_TYPE,
  NODE_BUSY_MS,
  NODE_CURRENT_INDEX,
  NODE_INPUT_WAIT_MS,
  NODE_OUTPUT_WAIT_MS,
  NODE_RECORDS_IN,
  NODE_RECORDS_OUT,
  NODE_SLOT_LENGTH,
  RING_READ,
  RING_WRITTEN,
  ringStatsIndex,
  statsBufferLength,
  type StatsLayout,
} from './pipeline-io.js';
import type { StageOutcome, StageTask, SerializedError } from './pipeline-worker.js';
import { RingProducer } from './producer.js';

export { MAX_PIPELINE_TYPE } from './pipeline-io.js';
export type { StageContext, StageFunction, StageOutput } from './pipeline-worker.js';

export interface StageDescriptor {
  /** Names the stage in errors and stats; unique within the pipeline. */
  name: string;
  /**
   * The module that exports the stage function: a URL (e.g. `new URL('./parse.mjs', import.meta.url)`),
   * an absolute path, a path relative to the current directory ('./stages/parse.mjs'), or a package name.
   */
  module: string | URL;
  /** Which export is the stage function. Default 'default'. */
  export?: string;
  /** Worker threads for this stage. Default 1. */
  workers?: number;
  /**
   * Keep the order of records (default true). With several workers, records are dealt round-robin
   * and collected round-robin. `false` lets each worker take whatever is available: faster when
   * records cost unevenly, and the order is gone from this stage on.
   */
  ordered?: boolean;
  /** Any structured-cloneable value, handed to the stage function as `context.options`. */
  options?: unknown;
}

/** A source record: bytes (type 0) or bytes with a type (0 ..= 0xFFFE). */
export type PipelineInput = Uint8Array | { data: Uint8Array; type?: number };

export interface SourceWriter {
  /**
   * Copies one record into the pipeline. Returns undefined when it was written at once, or a Promise
   * when the pipeline is full: await it before writing again and before reusing `data` (backpressure).
   * `await writer.write(...)` is always correct.
   */
  write(data: Uint8Array, type?: number): Promise<void> | undefined;
  /** Aborts when the pipeline stops early (failure or abort): a source may stop producing. */
  readonly signal: AbortSignal;
}

export type PipelineSource =
  | Iterable<PipelineInput>
  | AsyncIterable<PipelineInput>
  | ((writer: SourceWriter) => void | Promise<void>);

/**
 * Receives each record that leaves the last stage, in source order when every stage is ordered.
 * `data` is a view of ring memory (zero-copy), valid only during the synchronous part of the call:
 * copy what must outlive it. Returning a Promise holds the next record back until it settles.
 */
export type PipelineSink = (data: Uint8Array, type: number) => void | Promise<void>;

export interface PipelineOptions {
  source: PipelineSource;
  stages: StageDescriptor[];
  sink: PipelineSink;
  /** Data bytes of each ring (power of two). Default 256 KiB. Memory in flight is bounded by the rings. */
  ringCapacity?: number;
  /** Largest record in bytes. Default ringCapacity / 4. */
  maxRecordLength?: number;
  /** Stops the whole pipeline; run() rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Records handled per batch between publishes and stats updates. Default 256. */
  batchRecords?: number;
  /** Polls before a side parks (see SideOptions.spin). Default 200: workers often outnumber cores. */
  spin?: number;
}

export type PipelineErrorCode =
  | 'ERR_BAD_ARGUMENT'
  | 'ERR_STAGE_MODULE'
  | 'ERR_STAGE_EXPORT'
  | 'ERR_STAGE_FAILED'
  | 'ERR_BAD_OUTPUT'
  | 'ERR_RECORD_TOO_LONG'
  | 'ERR_STAGE_RING'
  | 'ERR_WORKER_EXIT'
  | 'ERR_SOURCE_FAILED'
  | 'ERR_SINK_FAILED';

/**
 * Why a pipeline failed. `stage` names the stage ('source' and 'sink' for the ends); `recordIndex`
 * is the source record the failure happened on while every stage before it keeps order
 * (`indexKind: 'item'`), else the index of the record in that worker's input (`indexKind: 'worker'`),
 * or -1 when no record was involved.
 */
export class PipelineError extends Error {
  readonly code: PipelineErrorCode;
  readonly stage: string | undefined;
  readonly stageIndex: number | undefined;
  readonly worker: number | undefined;
  readonly recordIndex: number;
  readonly indexKind: 'item' | 'worker';

  constructor(
    code: PipelineErrorCode,
    message: string,
    details: { stage?: string; stageIndex?: number; worker?: number; recordIndex?: number; indexKind?: 'item' | 'worker'; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PipelineError';
    this.code = code;
    this.stage = details.stage;
    this.stageIndex = details.stageIndex;
    this.worker = details.worker;
    this.recordIndex = details.recordIndex ?? -1;
    this.indexKind = details.indexKind ?? 'item';
  }
}

export interface QueueStats {
  /** Input rings of this node. */
  rings: number;
  /** Their total data capacity in bytes. */
  capacity: number;
  /** Published bytes not yet released by the reader. */
  bytes: number;
  /** Records written and not yet read (framing records included). */
  records: number;
}

export interface StageStats {
  name: string;
  workers: number;
  ordered: boolean;
  recordsIn: number;
  recordsOut: number;
  /** Milliseconds spent handling records, summed over the stage's workers (excludes waiting). */
  busyMs: number;
  /** Milliseconds waiting for input / for room in the output rings, summed over the workers. */
  inputWaitMs: number;
  outputWaitMs: number;
  queue: QueueStats;
}

export type PipelineState = 'idle' | 'running' | 'done' | 'failed' | 'aborted';

export interface PipelineStats {
  state: PipelineState;
  elapsedMs: number;
  source: { recordsOut: number; outputWaitMs: number };
  stages: StageStats[];
  sink: { recordsIn: number; busyMs: number; inputWaitMs: number; queue: QueueStats };
  /** Worker threads of this pipeline still alive. */
  threads: number;
}

export type PipelineResult = PipelineStats;

interface Ring {
  buffer: SharedArrayBuffer;
  statsIndex: number;
}

/** Every in-memory ring a running pipeline has created and not yet released. */
const liveRingBuffers = new Set<SharedArrayBuffer>();
let liveThreadCount = 0;

const DEFAULT_RING_CAPACITY = 256 * 1024;

type PiscinaClass = typeof Piscina;
let piscinaClass: PiscinaClass | undefined;

/** piscina is loaded on first use, so importing shmring never requires it (an optional peer dependency). */
async function loadPiscina(): Promise<PiscinaClass> {
  if (piscinaClass !== undefined) return piscinaClass;
  try {
    piscinaClass = (await import('piscina')).Piscina;
  } catch (cause) {
    throw new PipelineError('ERR_BAD_ARGUMENT', 'shmring pipeline: pipelines run their stages on piscina; install it with `npm install piscina@5`', {
      cause,
    });
  }
  return piscinaClass;
}

function workerEntry(): string {
  const compiled = new URL('./pipeline-worker.js', import.meta.url);
  if (existsSync(compiled)) return fileURLToPath(compiled);
  // Running from the TypeScript sources (tests): workers always run the compiled code in dist/.
  const built = new URL('../dist/pipeline-worker.js', import.meta.url);
  if (existsSync(built)) return fileURLToPath(built);
  throw new PipelineError(
    'ERR_BAD_ARGUMENT',
    `shmring pipeline: the worker entry ${fileURLToPath(compiled)} does not exist; build with \`npx tsc -p tsconfig.json\``,
  );
}

function badArgument(message: string, stage?: string, stageIndex?: number): PipelineError {
  return new PipelineError('ERR_BAD_ARGUMENT', `shmring pipeline: ${message}`, { stage, stageIndex });
}

/** Resolves a stage's module to what the worker will import(); checks file modules exist. */
function resolveModule(stage: StageDescriptor, index: number): string {
  const where = `stage '${stage.name}'`;
  let specifier: string;
  const module = stage.module as unknown;
  if (module instanceof URL) specifier = module.href;
  else if (typeof module === 'string' && module.length > 0) {
    if (/^(file|data|node):/.test(module)) specifier = module;
    else if (path.isAbsolute(module) || module.startsWith('./') || module.startsWith('../')) specifier = pathToFileURL(path.resolve(module)).href;
    else specifier = module;
  } else {
    throw badArgument(`${where}: module must be a URL, a path or a package name; got ${String(module)}`, stage.name, index);
  }
  if (specifier.startsWith('file:') && !existsSync(fileURLToPath(specifier))) {
    throw new PipelineError('ERR_STAGE_MODULE', `shmring pipeline: ${where}: module ${fileURLToPath(specifier)} does not exist`, {
      stage: stage.name,
      stageIndex: index,
    });
  }
  return specifier;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function reviveError(serialized: SerializedError | undefined): Error | undefined {
  if (serialized === undefined) return undefined;
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  if (serialized.code !== undefined) (error as Error & { code?: string }).code = serialized.code;
  return error;
}

/** Thrown inside a sink batch to stop it after a record whose sink call returned a Promise. */
const SINK_PENDING = Symbol('sink pending');

interface StagePlan {
  name: string;
  module: string;
  export: string;
  workers: number;
  ordered: boolean;
  options: unknown;
}

/**
 * A pipeline of worker-thread stages joined by rings. `run()` once; `abort()` and `stats()` any time.
 *
 * ```js
 * const result = await new Pipeline({
 *   source: records,                                   // iterable, async iterable, or (writer) => ...
 *   stages: [
 *     { name: 'parse', module: new URL('./parse.mjs', import.meta.url), workers: 2 },
 *     { name: 'enrich', module: new URL('./enrich.mjs', import.meta.url) },
 *   ],
 *   sink: (data, type) => { ... },                    // zero-copy view, valid during the call
 * }).run();
 * ```
 */
export class Pipeline {
  private readonly options: PipelineOptions;
  private readonly stages: StagePlan[];
  private readonly ringCapacity: number;
  private readonly maxRecordLength: number;
  private readonly batchRecords: number;
  private readonly spin: number;
  private readonly layout: StatsLayout;
  private readonly statsBuffer: SharedArrayBuffer;
  private readonly stats64: Float64Array;
  /** boundaries[b][p][c]: the ring from node p of tier b to node c of tier b + 1 (tier 0 = source). */
  private readonly boundaries: Ring[][][] = [];
  private readonly ownedRings: SharedArrayBuffer[] = [];
  private readonly pools: Piscina[] = [];
  private poolsDestroyed: Promise<unknown> | undefined;
  private readonly stopController = new AbortController();
  private readonly trackedWorkers = new WeakSet<Worker>();
  private liveThreads = 0;
  private state: PipelineState = 'idle';
  private failure: unknown;
  private startedAt = 0;
  private endedAt = 0;
  private running: Promise<PipelineResult> | undefined;
  private sourceProducers: RingProducer[] = [];
  private sinkConsumers: RingConsumer[] = [];

  constructor(options: PipelineOptions) {
    if (options === null || typeof options !== 'object') throw badArgument('options must be an object');
    this.options = options;
    if (!Array.isArray(options.stages) || options.stages.length === 0) throw badArgument('stages must be a non-empty array');
    if (typeof options.sink !== 'function') throw badArgument(`sink must be a function (data, type) => void; got ${typeof options.sink}`);
    const source = options.source as unknown;
    if (
      typeof source !== 'function' &&
      !(source !== null && typeof source === 'object' && (Symbol.iterator in source || Symbol.asyncIterator in source))
    ) {
      throw badArgument('source must be an iterable, an async iterable or a function (writer) => ...');
    }
    const names = new Set<string>();
    this.stages = options.stages.map((stage, index) => {
      if (stage === null || typeof stage !== 'object') throw badArgument(`stage ${index} must be an object`);
      if (typeof stage.name !== 'string' || stage.name.length === 0) throw badArgument(`stage ${index} needs a name`);
      if (names.has(stage.name) || stage.name === 'source' || stage.name === 'sink') {
        throw badArgument(`stage name '${stage.name}' is used twice or reserved ('source', 'sink')`, stage.name, index);
      }
      names.add(stage.name);
      if ('command' in stage) {
        throw badArgument(`stage '${stage.name}': process stages ({ command }) are not supported yet`, stage.name, index);
      }
      const workers = stage.workers ?? 1;
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
        throw badArgument(`stage '${stage.name}': workers ${String(workers)} is invalid; expected an integer from 1 to 256`, stage.name, index);
      }
      const exportName = stage.export ?? 'default';
      if (typeof exportName !== 'string') throw badArgument(`stage '${stage.name}': export must be a string`, stage.name, index);
      if (stage.ordered !== undefined && typeof stage.ordered !== 'boolean') {
        throw badArgument(`stage '${stage.name}': ordered must be a boolean`, stage.name, index);
      }
      return { name: stage.name, module: resolveModule(stage, index), export: exportName, workers, ordered: stage.ordered ?? true, options: stage.options };
    });
    this.ringCapacity = options.ringCapacity ?? DEFAULT_RING_CAPACITY;
    this.maxRecordLength = options.maxRecordLength ?? Math.floor(this.ringCapacity / 4);
    this.batchRecords = options.batchRecords ?? 256;
    this.spin = options.spin ?? 200;
    if (!Number.isInteger(this.batchRecords) || this.batchRecords < 1) throw badArgument(`batchRecords ${this.batchRecords} is invalid; expected an integer >= 1`);
    if (!Number.isInteger(this.spin) || this.spin < 0) throw badArgument(`spin ${this.spin} is invalid; expected an integer >= 0`);
    // Validates capacity and maxRecordLength the same way createRing does, before any thread starts.
    createRing({ capacity: this.ringCapacity, maxRecordLength: this.maxRecordLength });
    const tiers = this.tierSizes();
    let rings = 0;
    for (let b = 0; b + 1 < tiers.length; b++) rings += tiers[b] * tiers[b + 1];
    // Node slots: source, each stage worker, sink.
    this.layout = { nodes: tiers.reduce((sum, size) => sum + size, 0), rings };
    this.statsBuffer = new SharedArrayBuffer(statsBufferLength(this.layout));
    this.stats64 = new Float64Array(this.statsBuffer);
  }

  /** Nodes per tier: the source, each stage's workers, the sink. */
  private tierSizes(): number[] {
    return [1, ...this.stages.map((stage) => stage.workers), 1];
  }

  /** Whether tier t (1 = first stage, stages + 1 = sink) reads in source order. */
  private readsOrdered(tier: number): boolean {
    for (let s = 0; s < Math.min(tier, this.stages.length); s++) if (!this.stages[s].ordered) return false;
    return true;
  }

  private nodeSlot(tier: number, node: number): number {
    const tiers = this.tierSizes();
    let slot = 0;
    for (let t = 0; t < tier; t++) slot += tiers[t];
    return (slot + node) * NODE_SLOT_LENGTH;
  }

  /** Worker threads of this pipeline that have not exited. */
  get threads(): number {
    return this.liveThreads;
  }

  /** In-memory rings created by pipelines in this process and not yet released (0 when all are settled). */
  static liveRings(): number {
    return liveRingBuffers.size;
  }

  /** Worker threads started by pipelines in this process that have not exited. */
  static liveThreads(): number {
    return liveThreadCount;
  }

  /** Runs the pipeline to the end. Resolves with the final stats; rejects with the first failure. */
  run(): Promise<PipelineResult> {
    this.running ??= this.execute();
    return this.running;
  }

  /** Stops the pipeline: run() rejects with `reason` (default an AbortError) once every thread has exited. */
  abort(reason?: unknown): void {
    this.fail(reason ?? new DOMException('The pipeline was aborted', 'AbortError'), 'aborted');
  }

  private fail(error: unknown, state: PipelineState = 'failed'): void {
    if (this.failure !== undefined || this.state === 'done') return;
    this.failure = error;
    if (this.state === 'running' || this.state === 'idle') this.state = state;
    // Wakes the source and sink loops (their waits reject) and tells a source function to stop.
    this.stopController.abort(error);
    // Terminates every worker at once, whatever it is doing (parked, or inside a stage function).
    void this.destroyPools();
  }

  /** Terminates every worker thread; settles once each has exited. Idempotent. */
  private destroyPools(): Promise<unknown> {
    this.poolsDestroyed ??= Promise.allSettled(this.pools.map((pool) => pool.destroy()));
    return this.poolsDestroyed;
  }

  private async execute(): Promise<PipelineResult> {
    const signal = this.options.signal;
    if (signal?.aborted) throw signal.reason;
    this.state = 'running';
    this.startedAt = performance.now();
    const onAbort = (): void => this.fail(signal!.reason, 'aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    const tasks: Promise<void>[] = [];
    try {
      const PiscinaPool = await loadPiscina();
      if (this.failure !== undefined) throw this.failure;
      this.createRings();
      const entry = workerEntry();
      this.startStages(PiscinaPool, entry, tasks);
      this.sourceProducers = this.boundaries[0][0].map((ring) => new RingProducer(ring.buffer, { spin: this.spin, batchRecords: this.batchRecords }));
      const last = this.boundaries[this.boundaries.length - 1];
      this.sinkConsumers = last.map((row) => new RingConsumer(row[0].buffer, { spin: this.spin }));
      tasks.push(this.runSource().catch((error) => this.fail(error)));
      tasks.push(this.runSink().catch((error) => this.fail(error)));
    } catch (error) {
      this.fail(error);
    }
    await Promise.allSettled(tasks);
    signal?.removeEventListener('abort', onAbort);
    this.endedAt = performance.now();
    if (this.failure === undefined) this.state = 'done';
    for (const producer of this.sourceProducers) producer.close({ end: this.failure === undefined });
    for (const consumer of this.sinkConsumers) consumer.close();
    // Every worker is done (or terminated); wait until each thread has exited before resolving.
    await this.destroyPools();
    for (const buffer of this.ownedRings) liveRingBuffers.delete(buffer);
    if (this.failure !== undefined) throw this.failure;
    return this.stats();
  }

  private createRings(): void {
    const tiers = this.tierSizes();
    let ringNumber = 0;
    for (let b = 0; b + 1 < tiers.length; b++) {
      const boundary: Ring[][] = [];
      for (let p = 0; p < tiers[b]; p++) {
        const row: Ring[] = [];
        for (let c = 0; c < tiers[b + 1]; c++) {
          const buffer = createRing({ capacity: this.ringCapacity, maxRecordLength: this.maxRecordLength });
          this.ownedRings.push(buffer);
          liveRingBuffers.add(buffer);
          row.push({ buffer, statsIndex: ringStatsIndex(this.layout, ringNumber++) });
        }
        boundary.push(row);
      }
      this.boundaries.push(boundary);
    }
  }

  private trackThreads(pool: Piscina): void {
    const track = (): void => {
      for (const worker of pool.threads) {
        if (this.trackedWorkers.has(worker)) continue;
        this.trackedWorkers.add(worker);
        this.liveThreads++;
        liveThreadCount++;
        worker.once('exit', () => {
          this.liveThreads--;
          liveThreadCount--;
        });
      }
    };
    pool.on('workerCreate', track);
    track();
  }

  private startStages(PiscinaPool: PiscinaClass, entry: string, tasks: Promise<void>[]): void {
    this.stages.forEach((stage, s) => {
      const tier = s + 1;
      const pool = new PiscinaPool({
        filename: entry,
        minThreads: stage.workers,
        maxThreads: stage.workers,
        concurrentTasksPerWorker: 1,
        idleTimeout: Number.MAX_SAFE_INTEGER,
        // The task never returns to piscina's task loop until the stage ends; no Atomics task polling.
        atomics: 'disabled',
      });
      // A worker error outside any task would otherwise be an unhandled 'error' event.
      pool.on('error', (error: unknown) => this.fail(this.workerExitError(s, -1, error)));
      this.pools.push(pool);
      this.trackThreads(pool);
      const inputs = this.boundaries[tier - 1];
      const outputs = this.boundaries[tier];
      for (let worker = 0; worker < stage.workers; worker++) {
        const inputRings = inputs.map((row) => row[worker]);
        const outputRings = outputs[worker];
        const task: StageTask = {
          stage: stage.name,
          stageIndex: s,
          worker,
          workers: stage.workers,
          module: stage.module,
          export: stage.export,
          options: stage.options,
          inputs: inputRings.map((ring) => ring.buffer),
          outputs: outputRings.map((ring) => ring.buffer),
          inputRingStats: inputRings.map((ring) => ring.statsIndex),
          outputRingStats: outputRings.map((ring) => ring.statsIndex),
          orderedInput: this.readsOrdered(tier),
          orderedOutput: this.readsOrdered(tier + 1),
          stats: this.statsBuffer,
          statsSlot: this.nodeSlot(tier, worker),
          batchRecords: this.batchRecords,
          spin: this.spin,
        };
        tasks.push(
          (pool.run(task) as Promise<StageOutcome>).then(
            (outcome) => {
              if (!outcome.ok) {
                this.fail(
                  new PipelineError(outcome.code, `shmring pipeline: ${outcome.message}`, {
                    stage: stage.name,
                    stageIndex: s,
                    worker,
                    recordIndex: outcome.recordIndex,
                    indexKind: outcome.indexKind,
                    cause: reviveError(outcome.cause),
                  }),
                );
              }
            },
            (error: unknown) => this.fail(this.workerExitError(s, worker, error)),
          ),
        );
      }
    });
  }

  private workerExitError(stageIndex: number, worker: number, cause: unknown): PipelineError {
    const stage = this.stages[stageIndex];
    const recordIndex = worker >= 0 ? this.stats64[this.nodeSlot(stageIndex + 1, worker) + NODE_CURRENT_INDEX] : -1;
    const indexKind = this.readsOrdered(stageIndex + 1) ? 'item' : 'worker';
    const handled = worker >= 0 ? this.stats64[this.nodeSlot(stageIndex + 1, worker) + NODE_RECORDS_IN] : 0;
    return new PipelineError(
      'ERR_WORKER_EXIT',
      `shmring pipeline: stage '${stage.name}' (worker ${worker}) stopped: ${(cause as Error)?.message ?? String(cause)}` +
        (handled > 0 ? ` (while handling ${indexKind === 'item' ? 'source record' : 'input record'} ${recordIndex})` : ''),
      { stage: stage.name, stageIndex, worker, recordIndex: handled > 0 ? recordIndex : -1, indexKind, cause },
    );
  }

  private async runSource(): Promise<void> {
    const stop = this.stopController.signal;
    const slot = this.nodeSlot(0, 0);
    const stats = this.stats64;
    const out = new FanOut(this.sourceProducers, {
      ordered: this.readsOrdered(1),
      stats,
      ringStats: this.boundaries[0][0].map((ring) => ring.statsIndex),
    });
    const maxRecordLength = out.maxRecordLength;
    let item = 0;
    let waiting = false;
    const sourceError = (message: string, cause?: unknown): PipelineError =>
      new PipelineError(cause === undefined ? 'ERR_BAD_ARGUMENT' : 'ERR_SOURCE_FAILED', `shmring pipeline: source: ${message}`, {
        stage: 'source',
        recordIndex: item,
        cause,
      });
    const wait = async (ring: number, data: Uint8Array, type: number): Promise<void> => {
      const started = performance.now();
      try {
        await out.producers[ring].write(data, type, { signal: stop });
        out.countWritten(ring);
      } finally {
        waiting = false;
        stats[slot + NODE_OUTPUT_WAIT_MS] += performance.now() - started;
      }
    };
    const writer: SourceWriter = {
      signal: stop,
      write(data: Uint8Array, type = 0): Promise<void> | undefined {
        if (stop.aborted) throw stop.reason;
        if (waiting) throw sourceError('write() called while the previous write is still waiting; await it first');
        if (!(data instanceof Uint8Array)) throw sourceError(`record ${item} is ${data === null ? 'null' : typeof data}; expected a Uint8Array`);
        if (!Number.isInteger(type) || type < 0 || type > MAX_PIPELINE_TYPE) {
          throw sourceError(`record ${item} has type ${String(type)}; expected an integer from 0 to ${MAX_PIPELINE_TYPE} (0xFFFF is reserved)`);
        }
        if (data.length > maxRecordLength) {
          throw new PipelineError(
            'ERR_RECORD_TOO_LONG',
            `shmring pipeline: source: record ${item} is ${data.length} bytes; the rings hold records of at most ${maxRecordLength} bytes (pipeline option maxRecordLength)`,
            { stage: 'source', recordIndex: item },
          );
        }
        const ring = out.tryWrite(data, type, item);
        stats[slot + NODE_CURRENT_INDEX] = item;
        item++;
        stats[slot + NODE_RECORDS_OUT] = item;
        if (ring < 0) return undefined;
        waiting = true;
        return wait(ring, data, type);
      },
    };
    const source = this.options.source;
    try {
      if (typeof source === 'function') {
        await source(writer);
      } else if (Symbol.asyncIterator in source) {
        for await (const input of source as AsyncIterable<PipelineInput>) {
          const pending = writeInput(writer, input);
          if (pending !== undefined) await pending;
          if (stop.aborted) break;
        }
      } else {
        for (const input of source as Iterable<PipelineInput>) {
          const pending = writeInput(writer, input);
          if (pending !== undefined) await pending;
          if (stop.aborted) break;
        }
      }
    } catch (error) {
      if (stop.aborted) return;
      if (error instanceof PipelineError) throw error;
      throw sourceError(`failed at record ${item}: ${(error as Error)?.message ?? String(error)}`, error);
    }
    if (stop.aborted) return;
    out.close(true);
  }

  private async runSink(): Promise<void> {
    const stop = this.stopController.signal;
    const sink = this.options.sink;
    const stats = this.stats64;
    const tier = this.stages.length + 1;
    const slot = this.nodeSlot(tier, 0);
    let pending: PromiseLike<unknown> | undefined;
    let received = 0;
    const onRecord = (type: number, data: Uint8Array, offset: number, length: number): void => {
      stats[slot + NODE_CURRENT_INDEX] = received;
      received++;
      stats[slot + NODE_RECORDS_IN] = received;
      let result: unknown;
      try {
        result = sink(data.subarray(offset, offset + length), type);
      } catch (error) {
        throw new PipelineError('ERR_SINK_FAILED', `shmring pipeline: sink threw on record ${received - 1}: ${(error as Error)?.message ?? String(error)}`, {
          stage: 'sink',
          recordIndex: received - 1,
          cause: error,
        });
      }
      if (isThenable(result)) {
        pending = result;
        throw SINK_PENDING;
      }
    };
    const ordered = this.readsOrdered(tier);
    const input = new FanIn(
      this.sinkConsumers,
      {
        ordered,
        first: 0,
        stride: 1,
        parker: atomicsParker,
        stats,
        ringStats: this.boundaries[tier - 1].map((row) => row[0].statsIndex),
      },
      onRecord,
      () => {},
    );
    for (;;) {
      if (stop.aborted) return;
      let handled: number;
      const started = performance.now();
      try {
        handled = input.pump(this.batchRecords);
      } catch (error) {
        if (error !== SINK_PENDING) throw error;
        const settled = pending!;
        pending = undefined;
        try {
          await settled;
        } catch (cause) {
          throw new PipelineError('ERR_SINK_FAILED', `shmring pipeline: sink rejected record ${received - 1}: ${(cause as Error)?.message ?? String(cause)}`, {
            stage: 'sink',
            recordIndex: received - 1,
            cause,
          });
        }
        handled = 1;
      }
      stats[slot + NODE_BUSY_MS] += performance.now() - started;
      if (handled < 0) break;
      if (handled > 0) continue;
      const waitStarted = performance.now();
      await input.waitAsync(stop);
      stats[slot + NODE_INPUT_WAIT_MS] += performance.now() - waitStarted;
    }
    input.close();
  }

  private queueOf(rings: Ring[]): QueueStats {
    let bytes = 0;
    let records = 0;
    for (const ring of rings) {
      const words = new Int32Array(ring.buffer, 0, HEADER_LENGTH >> 2);
      bytes += (loadAcquire(words, TAIL_INDEX) - loadAcquire(words, HEAD_INDEX)) >>> 0;
      records += this.stats64[ring.statsIndex + RING_WRITTEN] - this.stats64[ring.statsIndex + RING_READ];
    }
    return { rings: rings.length, capacity: rings.length * this.ringCapacity, bytes, records: Math.max(0, records) };
  }

  /** A snapshot: per stage records in/out, time busy and waiting, and the depth of its input rings. */
  stats(): PipelineStats {
    const stats = this.stats64;
    const sum = (tier: number, workers: number, field: number): number => {
      let total = 0;
      for (let worker = 0; worker < workers; worker++) total += stats[this.nodeSlot(tier, worker) + field];
      return total;
    };
    const inputRings = (tier: number): Ring[] => this.boundaries[tier - 1]?.flat() ?? [];
    const sinkTier = this.stages.length + 1;
    const sinkSlot = this.nodeSlot(sinkTier, 0);
    const sourceSlot = this.nodeSlot(0, 0);
    const end = this.endedAt !== 0 ? this.endedAt : performance.now();
    return {
      state: this.state,
      elapsedMs: this.startedAt === 0 ? 0 : end - this.startedAt,
      source: { recordsOut: stats[sourceSlot + NODE_RECORDS_OUT], outputWaitMs: stats[sourceSlot + NODE_OUTPUT_WAIT_MS] },
      stages: this.stages.map((stage, s) => ({
        name: stage.name,
        workers: stage.workers,
        ordered: stage.ordered,
        recordsIn: sum(s + 1, stage.workers, NODE_RECORDS_IN),
        recordsOut: sum(s + 1, stage.workers, NODE_RECORDS_OUT),
        busyMs: sum(s + 1, stage.workers, NODE_BUSY_MS),
        inputWaitMs: sum(s + 1, stage.workers, NODE_INPUT_WAIT_MS),
        outputWaitMs: sum(s + 1, stage.workers, NODE_OUTPUT_WAIT_MS),
        queue: this.queueOf(inputRings(s + 1)),
      })),
      sink: {
        recordsIn: stats[sinkSlot + NODE_RECORDS_IN],
        busyMs: stats[sinkSlot + NODE_BUSY_MS],
        inputWaitMs: stats[sinkSlot + NODE_INPUT_WAIT_MS],
        queue: this.queueOf(inputRings(sinkTier)),
      },
      threads: this.liveThreads,
    };
  }
}

function writeInput(writer: SourceWriter, input: PipelineInput): Promise<void> | undefined {
  if (input instanceof Uint8Array) return writer.write(input, 0);
  if (input !== null && typeof input === 'object' && 'data' in input) return writer.write(input.data, input.type ?? 0);
  return writer.write(input as unknown as Uint8Array, 0);
}

/** Runs a pipeline to the end: `new Pipeline(options).run()`. Bad options reject (never throw). */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  return new Pipeline(options).run();
}
