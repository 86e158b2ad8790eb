/**
 * Worker-thread pipelines over shmring rings: source -> stage 1 -> ... -> stage n -> sink.
 *
 * The source and the sink run on the calling thread (ends.ts); each stage runs in its own worker
 * threads (thread-stage.ts, worker.ts), next to its input rings, and writes its results straight into
 * the next rings (io.ts has the topology, the ordered round-robin collect and the framing). Records
 * cross threads through shared memory only: no postMessage, no structured clone, no copy beyond
 * writing each result once. examples/pipeline/compare.mjs runs the same stages as ordinary piscina
 * tasks for comparison.
 *
 * A stage may also be another process (process-stage.ts): the rings next to it are then ring files
 * in /dev/shm, which the workers beside it open themselves and wait on with futexes. A futex wait is
 * a system call terminate() cannot interrupt, so a failing pipeline rings those files' doorbells
 * until its workers have exited (wiring.ts, wakeFileWaiters).
 *
 * This file is the lifecycle: run, abort, the first failure wins, and nothing is left behind.
 */
import type { Worker } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { RingConsumer, type ChainedConsumerOptions } from '../consumer.js';
import { RingProducer } from '../producer.js';
import { CHAIN_DOORBELL, CHAIN_POSITION, CHAIN_WAITING, chainLine } from './chain.js';
import { runSink, runSource } from './ends.js';
import { readFromCursor } from './io.js';
import { PipelinePlan } from './plan.js';
import { killProcesses, newProcessState, startProcess } from './process-stage.js';
import { snapshotStats, statsBufferLength } from './stats.js';
import { loadPiscina, startThreadStage, type ThreadCounter } from './thread-stage.js';
import type { PipelineOptions, PipelineResult, PipelineState, PipelineStats } from './types.js';
import { createRings, liveRingCount, loadRingFile, releaseRings, wakeFileWaiters, type RunContext } from './wiring.js';

let liveThreadCount = 0;

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
  private readonly run_: RunContext;
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
  /** The stats at the end: taken before the rings are released. */
  private finalStats: PipelineStats | undefined;

  constructor(options: PipelineOptions) {
    const plan = new PipelinePlan(options);
    this.options = options;
    const statsBuffer = new SharedArrayBuffer(statsBufferLength(plan.layout));
    this.run_ = {
      plan,
      boundaries: [],
      statsBuffer,
      stats64: new Float64Array(statsBuffer),
      stop: this.stopController.signal,
      processes: plan.stages.map(newProcessState),
      chain: undefined,
      failed: () => this.failure !== undefined,
      fail: (error) => this.fail(error),
    };
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
    return liveRingCount();
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
    killProcesses(this.run_);
    wakeFileWaiters(this.run_, this.destroyPools());
  }

  /** Terminates every worker thread; settles once each has exited. Idempotent. */
  private destroyPools(): Promise<unknown> {
    this.poolsDestroyed ??= Promise.allSettled(this.pools.map((pool) => pool.destroy()));
    return this.poolsDestroyed;
  }

  private readonly threadCounter: ThreadCounter = {
    track: (worker) => {
      if (this.trackedWorkers.has(worker)) return;
      this.trackedWorkers.add(worker);
      this.liveThreads++;
      liveThreadCount++;
      worker.once('exit', () => {
        this.liveThreads--;
        liveThreadCount--;
      });
    },
  };

  private async execute(): Promise<PipelineResult> {
    const run = this.run_;
    const { plan } = run;
    const signal = this.options.signal;
    if (signal?.aborted) throw signal.reason;
    this.state = 'running';
    this.startedAt = performance.now();
    const onAbort = (): void => this.fail(signal!.reason, 'aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    const tasks: Promise<void>[] = [];
    try {
      const PiscinaPool = plan.stages.some((stage) => stage.kind === 'worker') ? await loadPiscina() : undefined;
      const ringFile = plan.stages.some((stage) => stage.kind === 'process') ? await loadRingFile() : undefined;
      if (this.failure !== undefined) throw this.failure;
      createRings(run, ringFile);
      plan.stages.forEach((stage, s) => {
        if (this.failure !== undefined) return;
        if (stage.kind === 'process') tasks.push(startProcess(run, s));
        else this.pools.push(startThreadStage(run, s, PiscinaPool!, this.threadCounter, tasks));
      });
      this.sourceProducers = run.boundaries[0][0].map((ring) =>
        ring.file !== undefined
          ? ring.file.producer({ spin: plan.spin, batchRecords: plan.batchRecords })
          : new RingProducer(ring.buffer, { spin: plan.spin, batchRecords: plan.batchRecords }),
      );
      const last = run.boundaries[run.boundaries.length - 1];
      this.sinkConsumers = last.map((row) =>
        row[0].file !== undefined ? row[0].file.consumer({ spin: plan.spin }) : this.sinkConsumer(row[0].buffer),
      );
      tasks.push(runSource(run, this.options.source, this.sourceProducers).catch((error) => this.fail(error)));
      tasks.push(runSink(run, this.options.sink, this.sinkConsumers).catch((error) => this.fail(error)));
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
    releaseRings(run);
    this.sourceProducers = [];
    this.sinkConsumers = [];
    if (this.failure !== undefined) throw this.failure;
    return this.finalStats;
  }

  /** The sink's consumer of an in-memory ring; in an in-place chain it reads up to the last stage's cursor. */
  private sinkConsumer(buffer: SharedArrayBuffer): RingConsumer {
    const { plan, chain } = this.run_;
    if (chain === undefined) return new RingConsumer(buffer, { spin: plan.spin });
    const cursors = new Int32Array(chain);
    const line = chainLine(plan.stages.length);
    const options: ChainedConsumerOptions = { spin: plan.spin, tail: { words: cursors, index: line + CHAIN_POSITION } };
    const consumer = new RingConsumer(buffer, options);
    readFromCursor(consumer, cursors, line, { position: CHAIN_POSITION, waiting: CHAIN_WAITING, doorbell: CHAIN_DOORBELL });
    return consumer;
  }

  /** A snapshot: per stage records in/out, time busy and waiting, and the depth of its input rings. */
  stats(): PipelineStats {
    if (this.finalStats !== undefined) return { ...this.finalStats, threads: this.liveThreads };
    const end = this.endedAt !== 0 ? this.endedAt : performance.now();
    return snapshotStats(this.run_, this.state, this.startedAt === 0 ? 0 : end - this.startedAt, this.liveThreads);
  }
}

/** Runs a pipeline to the end: `new Pipeline(options).run()`. Bad options reject (never throw). */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  return new Pipeline(options).run();
}
