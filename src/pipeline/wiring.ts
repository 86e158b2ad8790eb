/**
 * Wiring: the rings between the tiers of a running pipeline (in-memory rings, or ring files next to
 * a process stage), their bookkeeping across pipelines, and their release. Also the state every
 * part of a running pipeline shares (RunContext), so each part reads alone.
 */
import { randomBytes } from 'node:crypto';
import { fetchAddSeqCst } from '../atomics.js';
import type { RingFile } from '../file.js';
import { createRing } from '../header.js';
import { DATA_DOORBELL_INDEX, HEADER_LENGTH, SPACE_DOORBELL_INDEX } from '../layout.js';
import type { Parker } from '../parker.js';
import type { PipelinePlan } from './plan.js';
import type { ProcessState } from './process-stage.js';
import { chainBufferLength } from './chain.js';
import { ringStatsIndex } from './stats.js';
import { PipelineError } from './types.js';

/** A ring between two nodes: in memory (a SharedArrayBuffer), or a ring file next to a process stage. */
export interface Ring {
  statsIndex: number;
  buffer: SharedArrayBuffer;
  /** Ring files: the path, and this thread's handle (created here, unlinked at the end). */
  path?: string;
  file?: RingFile;
}

/** What the parts of one running pipeline share. Owned by Pipeline; the parts only read it and call fail(). */
export interface RunContext {
  readonly plan: PipelinePlan;
  /** boundaries[b][p][c]: the ring from node p of tier b to node c of tier b + 1 (tier 0 = source). */
  readonly boundaries: Ring[][][];
  readonly statsBuffer: SharedArrayBuffer;
  readonly stats64: Float64Array;
  /** Aborts (with the failure) when the pipeline stops early. */
  readonly stop: AbortSignal;
  readonly processes: ProcessState[];
  /** An in-place chain (plan.chained): the stages' cursor block (chain.ts); every boundary is then one ring. */
  chain: SharedArrayBuffer | undefined;
  /** Whether the pipeline has already failed or been aborted. */
  failed(): boolean;
  /** Records the first failure and stops everything; later calls are ignored. */
  fail(error: unknown): void;
}

/** Every in-memory ring and ring file a running pipeline has created and not yet released. */
const liveRingBuffers = new Set<SharedArrayBuffer>();
const liveRingFiles = new Set<string>();
let ringFileCounter = 0;

export function liveRingCount(): number {
  return liveRingBuffers.size + liveRingFiles.size;
}

type RingFileModule = typeof import('../file.js');
let fileModule: RingFileModule | undefined;

/** Ring files (and the native addon) are loaded only by pipelines that have a process stage. */
async function loadFileModule(): Promise<RingFileModule> {
  fileModule ??= await import('../file.js');
  return fileModule;
}

export async function loadRingFile(): Promise<typeof RingFile> {
  try {
    const { RingFile: ringFile } = await loadFileModule();
    ringFile.liveMappings(); // loads the addon now: a clear error before anything starts
    return ringFile;
  } catch (cause) {
    throw new PipelineError('ERR_BAD_ARGUMENT', `shmring pipeline: process stages need ring files: ${(cause as Error).message}`, { cause });
  }
}

export async function futexParkerOf(): Promise<Parker> {
  return (await loadFileModule()).futexParker();
}

export function createRings(run: RunContext, ringFile: typeof RingFile | undefined): void {
  const { plan } = run;
  const tiers = plan.tierSizes();
  if (plan.chained) {
    // One ring for the whole chain; each boundary keeps its own counters (records written by the
    // tier before it, read by the tier after it).
    const buffer = createRing({ capacity: plan.ringCapacity, maxRecordLength: plan.maxRecordLength });
    liveRingBuffers.add(buffer);
    run.chain = new SharedArrayBuffer(chainBufferLength(plan.stages.length));
    for (let b = 0; b + 1 < tiers.length; b++) run.boundaries.push([[{ buffer, statsIndex: ringStatsIndex(plan.layout, b) }]]);
    return;
  }
  let ringNumber = 0;
  for (let b = 0; b + 1 < tiers.length; b++) {
    const boundary: Ring[][] = [];
    for (let p = 0; p < tiers[b]; p++) {
      const row: Ring[] = [];
      for (let c = 0; c < tiers[b + 1]; c++) {
        const statsIndex = ringStatsIndex(plan.layout, ringNumber++);
        if (plan.isFileBoundary(b) && ringFile !== undefined) {
          const name = `shmring-pipeline-${process.pid}-${++ringFileCounter}-${randomBytes(4).toString('hex')}-${b}`;
          const path = ringFile.shmPath(name);
          const file = ringFile.create(path, { capacity: plan.ringCapacity, maxRecordLength: plan.maxRecordLength });
          liveRingFiles.add(path);
          row.push({ buffer: file.buffer, statsIndex, path, file });
          continue;
        }
        const buffer = createRing({ capacity: plan.ringCapacity, maxRecordLength: plan.maxRecordLength });
        liveRingBuffers.add(buffer);
        row.push({ buffer, statsIndex });
      }
      boundary.push(row);
    }
    run.boundaries.push(boundary);
  }
}

/** Closes and unlinks ring files, and drops every reference to ring memory (a file's mapping goes with the last). */
export function releaseRings(run: RunContext): void {
  for (const ring of run.boundaries.flat(2)) {
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
  run.boundaries.length = 0;
}

/** How often a failing pipeline rings the doorbells of its ring files until its workers have exited. */
const FILE_WAKE_INTERVAL_MS = 10;

/**
 * A worker parked on a ring file sleeps in a futex syscall, which terminate() cannot interrupt (unlike
 * Atomics.wait): ring every doorbell of every ring file so that it returns to JavaScript and is
 * terminated there. Repeated until `threadsExited` settles, for a worker that was between its last
 * check and its park when the first ring came (a doorbell bump makes that park return at once too).
 */
export function wakeFileWaiters(run: RunContext, threadsExited: Promise<unknown>): void {
  const files = run.boundaries.flat(2).filter((ring) => ring.file !== undefined);
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
  void threadsExited.finally(() => clearInterval(repeat));
}
