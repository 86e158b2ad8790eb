/**
 * Thread stages: one piscina pool per stage (minThreads = maxThreads = workers), each worker running
 * one long task (src/pipeline/worker.ts) that loops over its rings until its input ends.
 *
 * Why piscina: it owns the thread lifecycle the pipeline would otherwise hand-roll: loading the task
 * module in each thread, turning a worker's crash or exit into the rejection of the task it was
 * running, resource limits, and destroy() that terminates every thread (even one stuck in a stage
 * function or parked in Atomics.wait) and resolves once they have exited. piscina's per-task
 * messaging is used twice per worker (start, outcome), never per record.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { NODE_CURRENT_INDEX, NODE_RECORDS_IN } from './stats.js';
import { PipelineError } from './types.js';
import type { Ring, RunContext } from './wiring.js';
import type { RingRef, SerializedError, StageOutcome, StageTask } from './worker.js';

export type PiscinaClass = typeof Piscina;
let piscinaClass: PiscinaClass | undefined;

/** piscina is loaded on first use, so importing shmring never requires it (an optional peer dependency). */
export async function loadPiscina(): Promise<PiscinaClass> {
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
  // CommonJS, which import()s worker.js: see entry.cts for why.
  const compiled = new URL('./entry.cjs', import.meta.url);
  if (existsSync(compiled)) return fileURLToPath(compiled);
  // Running from the TypeScript sources (tests): workers always run the compiled code in dist/.
  const built = new URL('../../dist/pipeline/entry.cjs', import.meta.url);
  if (existsSync(built)) return fileURLToPath(built);
  throw new PipelineError(
    'ERR_BAD_ARGUMENT',
    `shmring pipeline: the worker entry ${fileURLToPath(compiled)} does not exist; build with \`npx tsc -p tsconfig.json\``,
  );
}

function reviveError(serialized: SerializedError | undefined): Error | undefined {
  if (serialized === undefined) return undefined;
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  if (serialized.code !== undefined) (error as Error & { code?: string }).code = serialized.code;
  return error;
}

/** The error for a worker that died (exit, crash) instead of reporting an outcome; names the record it was on. */
export function workerExitError(run: RunContext, stageIndex: number, worker: number, cause: unknown): PipelineError {
  const { plan, stats64 } = run;
  const stage = plan.stages[stageIndex];
  const recordIndex = worker >= 0 ? stats64[plan.nodeSlot(stageIndex + 1, worker) + NODE_CURRENT_INDEX] : -1;
  const indexKind = plan.readsOrdered(stageIndex + 1) ? 'item' : 'worker';
  const handled = worker >= 0 ? stats64[plan.nodeSlot(stageIndex + 1, worker) + NODE_RECORDS_IN] : 0;
  return new PipelineError(
    'ERR_WORKER_EXIT',
    `shmring pipeline: stage '${stage.name}' (worker ${worker}) stopped: ${(cause as Error)?.message ?? String(cause)}` +
      (handled > 0 ? ` (while handling ${indexKind === 'item' ? 'source record' : 'input record'} ${recordIndex})` : ''),
    { stage: stage.name, stageIndex, worker, recordIndex: handled > 0 ? recordIndex : -1, indexKind, cause },
  );
}

/** Counts a pool's worker threads while they live (per pipeline and per process). */
export interface ThreadCounter {
  track(worker: Worker): void;
}

/**
 * Starts stage `s`'s pool and one long task per worker; pushes onto `tasks` a promise per worker
 * that settles when it has finished (its failure reported through run.fail).
 */
export function startThreadStage(
  run: RunContext,
  s: number,
  PiscinaPool: PiscinaClass,
  counter: ThreadCounter,
  tasks: Promise<void>[],
): Piscina {
  const { plan } = run;
  const stage = plan.stages[s];
  const tier = s + 1;
  const refOf = (ring: Ring): RingRef => (ring.path !== undefined ? { path: ring.path } : { buffer: ring.buffer });
  const pool = new PiscinaPool({
    filename: workerEntry(),
    minThreads: stage.workers,
    maxThreads: stage.workers,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.MAX_SAFE_INTEGER,
    // The task never returns to piscina's task loop until the stage ends; no Atomics task polling.
    atomics: 'disabled',
  });
  // A worker error outside any task would otherwise be an unhandled 'error' event.
  pool.on('error', (error: unknown) => run.fail(workerExitError(run, s, -1, error)));
  const track = (): void => {
    for (const worker of pool.threads) counter.track(worker);
  };
  pool.on('workerCreate', track);
  track();
  const inputs = run.boundaries[tier - 1];
  const outputs = run.boundaries[tier];
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
      orderedInput: plan.readsOrdered(tier),
      orderedOutput: plan.writesFramed(tier),
      itemLabel: plan.itemLabel(tier),
      stats: run.statsBuffer,
      statsSlot: plan.nodeSlot(tier, worker),
      batchRecords: plan.batchRecords,
      spin: plan.spin,
      batch: stage.batch,
      chain: run.chain === undefined ? undefined : { ring: inputRings[0].buffer, cursors: run.chain, stage: s + 1 },
    };
    tasks.push(
      (pool.run(task) as Promise<StageOutcome>).then(
        (outcome) => {
          if (!outcome.ok) {
            run.fail(
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
        (error: unknown) => run.fail(workerExitError(run, s, worker, error)),
      ),
    );
  }
  return pool;
}
