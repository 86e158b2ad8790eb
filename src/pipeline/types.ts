import type { StageBatch } from './worker.js';
import type { RecordBatchWriter } from '../batch.js';
/**
 * The public types of pipelines: stage descriptors, sources and sinks, options, errors and stats.
 * Everything here is part of the package's API (src/index.ts re-exports it).
 */
export { MAX_PIPELINE_TYPE } from './io.js';
export type { StageBatch, StageBatchFunction, StageContext, StageDefinition, StageFunction, StageOutput } from './worker.js';

/** A stage run by worker threads: a function or a StageDefinition exported by a module. */
export interface WorkerStageDescriptor {
  /** Names the stage in errors and stats; unique within the pipeline. */
  name: string;
  /**
   * The module that exports the stage function: a URL (e.g. `new URL('./parse.mjs', import.meta.url)`),
   * an absolute path, a path relative to the current directory ('./stages/parse.mjs'), or a package name.
   */
  module: string | URL;
  /** Which export is the stage: a function (data, type, context), or a StageDefinition { init, record | batch, end }. Default 'default'. */
  export?: string;
  /** Worker threads for this stage. Default 1. */
  workers?: number;
  /**
   * Keep the order of records (default true). With several workers, records are dealt round-robin
   * and collected round-robin. `false` lets each worker take whatever is available: faster when
   * records cost unevenly, and the order is gone from this stage on.
   */
  ordered?: boolean;
  /** Any structured-cloneable value, handed to the stage as `context.options` (and to its init). */
  options?: unknown;
  /**
   * The exported function is a batch handler `(batch, context) => void` that moves through many
   * records per call with batch.next() and writes through the context. A StageDefinition export
   * says the same with its `batch` member.
   */
  batch?: boolean;
  /**
   * The stage changes each record where it lies (same length, same type) and writes nothing new:
   * its function gets the record (or its batch handler the batch, with `buffer`, `offset` and
   * `length`) and returns nothing. When every stage of the pipeline is in place, with one worker
   * each, the pipeline is one ring that the source writes, each stage modifies in turn and the sink
   * reads (a Disruptor-style chain): no stage copies a record. In-place stages need exactly that
   * shape (every stage in place, one worker each); anything else is refused (ERR_BAD_ARGUMENT).
   */
  inPlace?: boolean;
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
  /**
   * The first ring's batch writer, open (the first stage has one worker, so there is one ring):
   * `claim(length, type)` returns an offset in its `data` to fill in place, -1 when the ring is full
   * (then `out = await writer.waitForRoom(length)` and claim again). Nothing is visible downstream
   * until published: call `out = writer.publish()` every so many records (a few hundred); the
   * pipeline also publishes in waitForRoom, in write(), and when the source ends. Types are 0 ..=
   * MAX_PIPELINE_TYPE (0xFFFE).
   */
  batch(): RecordBatchWriter;
  /** Publishes the open batch (one store of the tail) and returns the batch writer open again. */
  publish(): RecordBatchWriter;
  /** Publishes, waits (without blocking the thread) until a record of `length` bytes fits, and returns the batch writer open again. */
  waitForRoom(length: number): Promise<RecordBatchWriter>;
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
/**
 * The sink: a function called per record with a view of it (valid during the call; a returned
 * Promise is awaited before the next record), or `{ batch }`: a synchronous batch handler called
 * with many records at a time, walked with batch.next() and read in place through
 * buffer/offset/length (no view per record; the fastest way out of a pipeline).
 */
export type PipelineSink = ((data: Uint8Array, type: number) => void | Promise<void>) | { batch: (batch: StageBatch) => void };

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
  /**
   * Polls before a side parks (see SideOptions.spin). Default: 0 when the pipeline's threads (its
   * workers + the calling thread) outnumber os.availableParallelism(), 2000 when there are at least
   * twice as many cores as threads, 200 in between.
   */
  spin?: number;
}

export type PipelineErrorCode =
  | 'ERR_BAD_ARGUMENT'
  | 'ERR_STAGE_MODULE'
  | 'ERR_STAGE_EXPORT'
  | 'ERR_STAGE_FAILED'
  | 'ERR_STAGE_INIT'
  | 'ERR_STAGE_END'
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
  /** The spin budget every side of this pipeline uses (option `spin`, or derived from threads and cores). */
  spin: number;
}

export type PipelineResult = PipelineStats;
