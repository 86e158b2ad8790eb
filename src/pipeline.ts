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
 *
 * A stage may also be another process (ProcessStageDescriptor: a Go peer, a C program): the rings
 * next to it are then ring files in /dev/shm, which the workers beside it open themselves and wait
 * on with futexes. A futex wait is a system call terminate() cannot interrupt, so a failing pipeline
 * rings those files' doorbells until its workers have exited (wakeFileWaiters).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { fetchAddSeqCst, loadAcquire, loadSeqCst } from './atomics.js';
import { RingConsumer } from './consumer.js';
import { createRing } from './header.js';
import type { RingFile } from './file.js';
import {
  DATA_DOORBELL_INDEX,
  HEADER_LENGTH,
  HEAD_INDEX,
  PRODUCER_STATE_INDEX,
  ROLE_CLOSED,
  SPACE_DOORBELL_INDEX,
  TAIL_INDEX,
} from './layout.js';
import { atomicsParker, type Parker } from './parker.js';
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
import type { RingRef, StageOutcome, StageTask, SerializedError } from './pipeline-worker.js';
import { RingProducer } from './producer.js';

export { MAX_PIPELINE_TYPE } from './pipeline-io.js';
export type { StageContext, StageFunction, StageOutput } from './pipeline-worker.js';

/** A stage run by worker threads: a function exported by a module. */
export interface WorkerStageDescriptor {
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
  command?: undefined;
}

/**
 * A stage run by another process (a Go peer, a C program, another Node) through two ring files in
 * /dev/shm that the pipeline creates: the process consumes the ring file `{input}` until its end of
 * stream, produces its results into the ring file `{output}`, ends that stream (producer close with
 * end) and exits 0. `{input}` and `{output}` in any argument of `command` are replaced by the paths,
 * which are also in the environment as SHMRING_PIPELINE_INPUT and SHMRING_PIPELINE_OUTPUT. Records
 * arrive in order without the pipeline's framing (type 0xFFFF never appears; the process must not
 * write it either). One process reads one ring and writes one ring, so the stages next to it must
 * have one worker each. A non-zero exit, a signal, or exiting without ending the output fails the
 * pipeline naming the stage, with the end of the process's stderr.
 */
export interface ProcessStageDescriptor {
  name: string;
  /** argv, e.g. ['go-peer/bin/shmring', 'relay', '{input}', '{output}'] (the Go peer's copying stage). */
  command: string[];
  /** The process keeps the order of records (default true). */
  ordered?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export type StageDescriptor = WorkerStageDescriptor | ProcessStageDescriptor;

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
  | 'ERR_PROCESS_SPAWN'
  | 'ERR_PROCESS_EXIT'
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
  /**
   * Process stages only: its pid and exit code. Their recordsIn counts records written into the
   * process's input ring and recordsOut records read from its output ring; the busy and wait times
   * and queue.records (the process keeps its own counts) are NaN.
   */
  process?: { pid: number | undefined; exitCode: number | null };
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

/** A ring between two nodes: in memory (a SharedArrayBuffer), or a ring file next to a process stage. */
interface Ring {
  statsIndex: number;
  buffer: SharedArrayBuffer;
  /** Ring files: the path, and this thread's handle (created here, unlinked at the end). */
  path?: string;
  file?: RingFile;
}

/** Every in-memory ring and ring file a running pipeline has created and not yet released. */
const liveRingBuffers = new Set<SharedArrayBuffer>();
const liveRingFiles = new Set<string>();
let ringFileCounter = 0;
let liveThreadCount = 0;

const DEFAULT_RING_CAPACITY = 256 * 1024;
/** How often a failing pipeline rings the doorbells of its ring files until its workers have exited. */
const FILE_WAKE_INTERVAL_MS = 10;

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

type RingFileModule = typeof import('./file.js');
let fileModule: RingFileModule | undefined;

/** Ring files (and the native addon) are loaded only by pipelines that have a process stage. */
async function loadFileModule(): Promise<RingFileModule> {
  fileModule ??= await import('./file.js');
  return fileModule;
}

async function loadRingFile(): Promise<typeof RingFile> {
  try {
    const { RingFile: ringFile } = await loadFileModule();
    ringFile.liveMappings(); // loads the addon now: a clear error before anything starts
    return ringFile;
  } catch (cause) {
    throw new PipelineError('ERR_BAD_ARGUMENT', `shmring pipeline: process stages need ring files: ${(cause as Error).message}`, { cause });
  }
}

async function futexParkerOf(): Promise<Parker> {
  return (await loadFileModule()).futexParker();
}

function workerEntry(): string {
  // CommonJS, which import()s pipeline-worker.js: see pipeline-entry.cts for why.
  const compiled = new URL('./pipeline-entry.cjs', import.meta.url);
  if (existsSync(compiled)) return fileURLToPath(compiled);
  // Running from the TypeScript sources (tests): workers always run the compiled code in dist/.
  const built = new URL('../dist/pipeline-entry.cjs', import.meta.url);
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
function resolveModule(stage: WorkerStageDescriptor, index: number): string {
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
  kind: 'worker' | 'process';
  name: string;
  module: string;
  export: string;
  workers: number;
  ordered: boolean;
  options: unknown;
  command: string[];
  env: NodeJS.ProcessEnv | undefined;
  cwd: string | undefined;
}

interface ProcessState {
  /** Set while the process runs (dropped when it has exited: its listeners must not keep ring memory alive). */
  child: ChildProcess | undefined;
  pid: number | undefined;
  exitCode: number | null;
  output: string;
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
  private readonly processes: ProcessState[];
  /** The stats at the end: taken before the rings are released. */
  private finalStats: PipelineStats | undefined;

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
      if (stage.ordered !== undefined && typeof stage.ordered !== 'boolean') {
        throw badArgument(`stage '${stage.name}': ordered must be a boolean`, stage.name, index);
      }
      if (stage.command !== undefined) {
        const command = stage.command as unknown;
        if (!Array.isArray(command) || command.length === 0 || !command.every((part) => typeof part === 'string')) {
          throw badArgument(`stage '${stage.name}': command must be a non-empty array of strings (argv)`, stage.name, index);
        }
        return {
          kind: 'process' as const,
          name: stage.name,
          module: '',
          export: '',
          workers: 1,
          ordered: stage.ordered ?? true,
          options: undefined,
          command: command as string[],
          env: (stage as ProcessStageDescriptor).env,
          cwd: (stage as ProcessStageDescriptor).cwd,
        };
      }
      const workers = stage.workers ?? 1;
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
        throw badArgument(`stage '${stage.name}': workers ${String(workers)} is invalid; expected an integer from 1 to 256`, stage.name, index);
      }
      const exportName = stage.export ?? 'default';
      if (typeof exportName !== 'string') throw badArgument(`stage '${stage.name}': export must be a string`, stage.name, index);
      return {
        kind: 'worker' as const,
        name: stage.name,
        module: resolveModule(stage, index),
        export: exportName,
        workers,
        ordered: stage.ordered ?? true,
        options: stage.options,
        command: [],
        env: undefined,
        cwd: undefined,
      };
    });
    this.stages.forEach((stage, index) => {
      if (stage.kind !== 'process') return;
      for (const neighbour of [this.stages[index - 1], this.stages[index + 1]]) {
        if (neighbour !== undefined && neighbour.workers !== 1) {
          throw badArgument(
            `stage '${stage.name}': a process stage reads one ring and writes one ring, so the stages next to it need one worker; '${neighbour.name}' has ${neighbour.workers}`,
            stage.name,
            index,
          );
        }
      }
    });
    this.processes = this.stages.map(() => ({ child: undefined, pid: undefined, exitCode: null, output: '' }));
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

  /**
   * Whether tier t frames items for the next tier: it reads in order, unless the next tier is a
   * process (which gets plain records in FIFO order, and renumbers the items).
   */
  private writesFramed(tier: number): boolean {
    return this.readsOrdered(tier + 1) && this.stages[tier]?.kind !== 'process';
  }

  /** What item numbers count at tier t: source records, or the output of the last process stage before it. */
  private itemLabel(tier: number): string {
    for (let s = Math.min(tier, this.stages.length) - 1; s >= 0; s--) {
      if (this.stages[s].kind === 'process') return `record (of process stage '${this.stages[s].name}' output)`;
    }
    return 'source record';
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

  /**
   * Rings created by pipelines in this process and not yet released: in-memory rings, and ring files
   * (of process stages) not yet closed and unlinked. 0 whenever every pipeline has settled.
   */
  static liveRings(): number {
    return liveRingBuffers.size + liveRingFiles.size;
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
    // Terminates every worker at once, whatever it is doing (parked, or inside a stage function),
    // and every stage process.
    void this.destroyPools();
    for (const process of this.processes) {
      if (process.child !== undefined && process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGKILL');
    }
    this.wakeFileWaiters();
  }

  /**
   * A worker parked on a ring file sleeps in a futex syscall, which terminate() cannot interrupt (unlike
   * Atomics.wait): ring every doorbell of every ring file so that it returns to JavaScript and is
   * terminated there. Repeated until every thread has exited, for a worker that was between its last
   * check and its park when the first ring came (a doorbell bump makes that park return at once too).
   */
  private wakeFileWaiters(): void {
    const files = this.boundaries.flat(2).filter((ring) => ring.file !== undefined);
    if (files.length === 0 || fileModule === undefined) return;
    const parker = fileModule.futexParker();
    const ring = (): void => {
      for (const { buffer } of files) {
        const words = new Int32Array(buffer, 0, HEADER_LENGTH >> 2);
        for (const doorbell of [DATA_DOORBELL_INDEX, SPACE_DOORBELL_INDEX]) {
          fetchAddSeqCst(words, doorbell, 1);
          parker.wake(words, doorbell);
        }
      }
    };
    ring();
    const repeat = setInterval(ring, FILE_WAKE_INTERVAL_MS);
    void this.destroyPools().finally(() => clearInterval(repeat));
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
      const PiscinaPool = this.stages.some((stage) => stage.kind === 'worker') ? await loadPiscina() : undefined;
      const ringFile = this.stages.some((stage) => stage.kind === 'process') ? await loadRingFile() : undefined;
      if (this.failure !== undefined) throw this.failure;
      this.createRings(ringFile);
      this.startStages(PiscinaPool, tasks);
      this.sourceProducers = this.boundaries[0][0].map((ring) =>
        ring.file !== undefined
          ? ring.file.producer({ spin: this.spin, batchRecords: this.batchRecords })
          : new RingProducer(ring.buffer, { spin: this.spin, batchRecords: this.batchRecords }),
      );
      const last = this.boundaries[this.boundaries.length - 1];
      this.sinkConsumers = last.map((row) =>
        row[0].file !== undefined ? row[0].file.consumer({ spin: this.spin }) : new RingConsumer(row[0].buffer, { spin: this.spin }),
      );
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
    // Every worker and process is done (or terminated); wait until each thread has exited.
    await this.destroyPools();
    this.finalStats = this.stats();
    this.releaseRings();
    if (this.failure !== undefined) throw this.failure;
    return this.finalStats;
  }

  /** Closes and unlinks ring files, and drops every reference to ring memory (a file's mapping goes with the last). */
  private releaseRings(): void {
    for (const ring of this.boundaries.flat(2)) {
      liveRingBuffers.delete(ring.buffer);
      if (ring.path !== undefined) {
        ring.file?.close();
        try {
          fileModule?.RingFile.unlink(ring.path);
        } catch {
          // Already gone: nothing to clean.
        }
        liveRingFiles.delete(ring.path);
      }
    }
    this.boundaries.length = 0;
    this.sourceProducers = [];
    this.sinkConsumers = [];
  }

  /** Boundary b joins tier b and tier b + 1; it is a ring file when either side is a process stage. */
  private isFileBoundary(boundary: number): boolean {
    return this.stages[boundary - 1]?.kind === 'process' || this.stages[boundary]?.kind === 'process';
  }

  private createRings(ringFile: typeof RingFile | undefined): void {
    const tiers = this.tierSizes();
    let ringNumber = 0;
    for (let b = 0; b + 1 < tiers.length; b++) {
      const boundary: Ring[][] = [];
      for (let p = 0; p < tiers[b]; p++) {
        const row: Ring[] = [];
        for (let c = 0; c < tiers[b + 1]; c++) {
          const statsIndex = ringStatsIndex(this.layout, ringNumber++);
          if (this.isFileBoundary(b) && ringFile !== undefined) {
            const name = `shmring-pipeline-${process.pid}-${++ringFileCounter}-${randomBytes(4).toString('hex')}-${b}`;
            const path = ringFile.shmPath(name);
            const file = ringFile.create(path, { capacity: this.ringCapacity, maxRecordLength: this.maxRecordLength });
            liveRingFiles.add(path);
            row.push({ buffer: file.buffer, statsIndex, path, file });
            continue;
          }
          const buffer = createRing({ capacity: this.ringCapacity, maxRecordLength: this.maxRecordLength });
          liveRingBuffers.add(buffer);
          row.push({ buffer, statsIndex });
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

  private startStages(PiscinaPool: PiscinaClass | undefined, tasks: Promise<void>[]): void {
    const entry = PiscinaPool === undefined ? '' : workerEntry();
    const refOf = (ring: Ring): RingRef => (ring.path !== undefined ? { path: ring.path } : { buffer: ring.buffer });
    this.stages.forEach((stage, s) => {
      const tier = s + 1;
      if (this.failure !== undefined) return;
      if (stage.kind === 'process') {
        tasks.push(this.startProcess(s));
        return;
      }
      const pool = new PiscinaPool!({
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
          inputs: inputRings.map(refOf),
          outputs: outputRings.map(refOf),
          inputRingStats: inputRings.map((ring) => ring.statsIndex),
          outputRingStats: outputRings.map((ring) => ring.statsIndex),
          orderedInput: this.readsOrdered(tier),
          orderedOutput: this.writesFramed(tier),
          itemLabel: this.itemLabel(tier),
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

  /** Spawns a process stage; settles when it has exited (failing the pipeline unless it ended cleanly). */
  private startProcess(stageIndex: number): Promise<void> {
    const stage = this.stages[stageIndex];
    const state = this.processes[stageIndex];
    // Paths only: the child's listeners outlive the run, and must not hold the rings' memory.
    const input = this.boundaries[stageIndex][0][0].path!;
    const output = this.boundaries[stageIndex + 1][0][0].path!;
    const fill = (argument: string): string => argument.replaceAll('{input}', input).replaceAll('{output}', output);
    const [command, ...args] = stage.command.map(fill);
    const where = `shmring pipeline: stage '${stage.name}' (process ${stage.command[0]})`;
    const details = { stage: stage.name, stageIndex };
    return new Promise<void>((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(command, args, {
          cwd: stage.cwd,
          env: { ...(stage.env ?? process.env), SHMRING_PIPELINE_INPUT: input, SHMRING_PIPELINE_OUTPUT: output },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        this.fail(new PipelineError('ERR_PROCESS_SPAWN', `${where}: cannot start: ${(error as Error).message}`, { ...details, cause: error }));
        resolve();
        return;
      }
      state.child = child;
      state.pid = child.pid;
      // Keep the end of what the process says, for the error message.
      const keep = (chunk: Buffer): void => {
        state.output = (state.output + chunk.toString('utf8')).slice(-2000);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      // 'error' without a spawn (ENOENT, EACCES) is followed by 'close' (code -2 etc.); report the spawn error first.
      child.once('error', (error) => {
        this.fail(new PipelineError('ERR_PROCESS_SPAWN', `${where}: cannot start: ${error.message}`, { ...details, cause: error }));
        resolve();
      });
      child.once('close', (code, signal) => {
        state.exitCode = code;
        state.child = undefined;
        const said = state.output.trim() === '' ? '' : `; it said: ${state.output.trim()}`;
        if (code !== 0) {
          const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
          this.fail(new PipelineError('ERR_PROCESS_EXIT', `${where} ${how}${said}`, details));
        } else if (!this.producerEnded(stageIndex + 1)) {
          this.fail(
            new PipelineError('ERR_PROCESS_EXIT', `${where} exited with code 0 without ending its output ring (producer close with end of stream)${said}`, details),
          );
        }
        resolve();
      });
    });
  }

  /** Whether the producer of boundary b's (single) ring has ended its stream. */
  private producerEnded(boundary: number): boolean {
    const ring = this.boundaries[boundary]?.[0]?.[0];
    if (ring === undefined) return false;
    return loadSeqCst(new Int32Array(ring.buffer, 0, HEADER_LENGTH >> 2), PRODUCER_STATE_INDEX) === ROLE_CLOSED;
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
      ordered: this.writesFramed(0),
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
        parker: this.boundaries[tier - 1][0][0].file !== undefined ? await futexParkerOf() : atomicsParker,
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

  private queueOf(rings: Ring[], processReads = false): QueueStats {
    let bytes = 0;
    let records = 0;
    for (const ring of rings) {
      if (processReads) records = NaN;
      const words = new Int32Array(ring.buffer, 0, HEADER_LENGTH >> 2);
      bytes += (loadAcquire(words, TAIL_INDEX) - loadAcquire(words, HEAD_INDEX)) >>> 0;
      records += this.stats64[ring.statsIndex + RING_WRITTEN] - this.stats64[ring.statsIndex + RING_READ];
    }
    return { rings: rings.length, capacity: rings.length * this.ringCapacity, bytes, records: Math.max(0, records) };
  }

  /** A snapshot: per stage records in/out, time busy and waiting, and the depth of its input rings. */
  stats(): PipelineStats {
    if (this.finalStats !== undefined) return { ...this.finalStats, threads: this.liveThreads };
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
      stages: this.stages.map((stage, s): StageStats => {
        if (stage.kind === 'process') {
          const input = inputRings(s + 1);
          const output = this.boundaries[s + 1]?.flat() ?? [];
          const state = this.processes[s];
          return {
            name: stage.name,
            workers: 1,
            ordered: stage.ordered,
            recordsIn: input.reduce((total, ring) => total + stats[ring.statsIndex + RING_WRITTEN], 0),
            recordsOut: output.reduce((total, ring) => total + stats[ring.statsIndex + RING_READ], 0),
            busyMs: NaN,
            inputWaitMs: NaN,
            outputWaitMs: NaN,
            queue: this.queueOf(input, true),
            process: { pid: state.pid, exitCode: state.exitCode },
          };
        }
        return {
          name: stage.name,
          workers: stage.workers,
          ordered: stage.ordered,
          recordsIn: sum(s + 1, stage.workers, NODE_RECORDS_IN),
          recordsOut: sum(s + 1, stage.workers, NODE_RECORDS_OUT),
          busyMs: sum(s + 1, stage.workers, NODE_BUSY_MS),
          inputWaitMs: sum(s + 1, stage.workers, NODE_INPUT_WAIT_MS),
          outputWaitMs: sum(s + 1, stage.workers, NODE_OUTPUT_WAIT_MS),
          queue: this.queueOf(inputRings(s + 1)),
        };
      }),
      sink: {
        recordsIn: stats[sinkSlot + NODE_RECORDS_IN],
        busyMs: stats[sinkSlot + NODE_BUSY_MS],
        inputWaitMs: stats[sinkSlot + NODE_INPUT_WAIT_MS],
        queue: this.queueOf(inputRings(sinkTier), false),
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
