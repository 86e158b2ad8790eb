/**
 * The stats block of a pipeline and the snapshot Pipeline.stats() builds from it.
 *
 * Shared statistics block: one Float64Array over a SharedArrayBuffer, written with plain stores by
 * whichever thread owns a slot and read by the main thread for stats(). Diagnostics only: nothing
 * synchronises on these values.
 */
import { loadAcquire } from '../atomics.js';
import { HEADER_LENGTH, HEAD_INDEX, TAIL_INDEX } from '../layout.js';
import type { PipelineState, PipelineStats, QueueStats, StageStats } from './types.js';
import type { Ring, RunContext } from './wiring.js';
import { CHAIN_POSITION, chainLine } from './chain.js';

/**
 * Every counter is written by one thread only, and counters of different threads are at least 64
 * bytes apart, so never on one cache line whatever the buffer's alignment: a node's slot (128 bytes)
 * is its thread's, and a ring's written and read counters (its producer's and its consumer's) sit
 * 128 bytes apart.
 * Packed (8 doubles per node, 2 per ring), the four rings of a three-stage pipeline shared one line
 * that every thread wrote once per record: each stage worker of a 3-stage in-place pipeline was busy
 * ~400 ns per 64 B record, ~225 ns with the counters apart (Node 26, 2 M records, same hour).
 */
export const STATS_LINE_DOUBLES = 16;
export const NODE_SLOT_LENGTH = STATS_LINE_DOUBLES;
export const NODE_RECORDS_IN = 0;
export const NODE_RECORDS_OUT = 1;
export const NODE_BUSY_MS = 2;
export const NODE_INPUT_WAIT_MS = 3;
export const NODE_OUTPUT_WAIT_MS = 4;
/** The item (source record) index, or the worker-local input index once order is gone, being handled. */
export const NODE_CURRENT_INDEX = 5;
export const RING_SLOT_LENGTH = 2 * STATS_LINE_DOUBLES;
export const RING_WRITTEN = 0;
export const RING_READ = STATS_LINE_DOUBLES;

export interface StatsLayout {
  /** Node slots first (source, every stage worker, sink), then ring slots. */
  nodes: number;
  rings: number;
}

export function statsBufferLength(layout: StatsLayout): number {
  return (layout.nodes * NODE_SLOT_LENGTH + layout.rings * RING_SLOT_LENGTH) * Float64Array.BYTES_PER_ELEMENT;
}

export function ringStatsIndex(layout: StatsLayout, ring: number): number {
  return layout.nodes * NODE_SLOT_LENGTH + ring * RING_SLOT_LENGTH;
}

/** An in-place chain (one ring): the bytes between the cursor of tier `tier` (the sink's: head) and the one before it (the source's: tail). */
function chainQueueOf(run: RunContext, tier: number): QueueStats {
  const ring = run.boundaries[tier - 1][0][0];
  const words = new Int32Array(ring.buffer, 0, HEADER_LENGTH >> 2);
  const cursors = new Int32Array(run.chain!);
  const stages = run.plan.stages.length;
  // The reader's position first: it only trails the writer's, so a writer's read after it is never behind.
  const reader = tier === stages + 1 ? loadAcquire(words, HEAD_INDEX) : loadAcquire(cursors, chainLine(tier) + CHAIN_POSITION);
  const writer = tier === 1 ? loadAcquire(words, TAIL_INDEX) : loadAcquire(cursors, chainLine(tier - 1) + CHAIN_POSITION);
  const records = run.stats64[ring.statsIndex + RING_WRITTEN] - run.stats64[ring.statsIndex + RING_READ];
  return { rings: 1, capacity: run.plan.ringCapacity, bytes: (writer - reader) >>> 0, records: Math.max(0, records) };
}

function queueOf(run: RunContext, rings: Ring[], processReads: boolean, tier = -1): QueueStats {
  if (run.chain !== undefined && tier > 0) return chainQueueOf(run, tier);
  let bytes = 0;
  let records = 0;
  for (const ring of rings) {
    if (processReads) records = NaN;
    const words = new Int32Array(ring.buffer, 0, HEADER_LENGTH >> 2);
    // Head first: both only grow and head <= tail at every instant, so a tail read after the head
    // is never behind it. Read the other way round, the consumer can pass the stale tail between
    // the two loads and the difference wraps to ~4 GiB.
    const head = loadAcquire(words, HEAD_INDEX);
    bytes += (loadAcquire(words, TAIL_INDEX) - head) >>> 0;
    records += run.stats64[ring.statsIndex + RING_WRITTEN] - run.stats64[ring.statsIndex + RING_READ];
  }
  return { rings: rings.length, capacity: rings.length * run.plan.ringCapacity, bytes, records: Math.max(0, records) };
}

/** A snapshot of the stats block: per stage records in/out, time busy and waiting, and the depth of its input rings. */
export function snapshotStats(run: RunContext, state: PipelineState, elapsedMs: number, threads: number): PipelineStats {
  const { plan, stats64: stats, boundaries } = run;
  const sum = (tier: number, workers: number, field: number): number => {
    let total = 0;
    for (let worker = 0; worker < workers; worker++) total += stats[plan.nodeSlot(tier, worker) + field];
    return total;
  };
  const inputRings = (tier: number): Ring[] => boundaries[tier - 1]?.flat() ?? [];
  const sinkTier = plan.stages.length + 1;
  const sinkSlot = plan.nodeSlot(sinkTier, 0);
  const sourceSlot = plan.nodeSlot(0, 0);
  return {
    state,
    elapsedMs,
    source: { recordsOut: stats[sourceSlot + NODE_RECORDS_OUT], outputWaitMs: stats[sourceSlot + NODE_OUTPUT_WAIT_MS] },
    stages: plan.stages.map((stage, s): StageStats => {
      if (stage.kind === 'process') {
        const input = inputRings(s + 1);
        const output = boundaries[s + 1]?.flat() ?? [];
        const process = run.processes[s];
        return {
          name: stage.name,
          workers: 1,
          ordered: stage.ordered,
          recordsIn: input.reduce((total, ring) => total + stats[ring.statsIndex + RING_WRITTEN], 0),
          recordsOut: output.reduce((total, ring) => total + stats[ring.statsIndex + RING_READ], 0),
          busyMs: NaN,
          inputWaitMs: NaN,
          outputWaitMs: NaN,
          queue: queueOf(run, input, true),
          process: { pid: process.pid, exitCode: process.exitCode },
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
        queue: queueOf(run, inputRings(s + 1), false, s + 1),
      };
    }),
    sink: {
      recordsIn: stats[sinkSlot + NODE_RECORDS_IN],
      busyMs: stats[sinkSlot + NODE_BUSY_MS],
      inputWaitMs: stats[sinkSlot + NODE_INPUT_WAIT_MS],
      queue: queueOf(run, inputRings(sinkTier), false, sinkTier),
    },
    threads,
    spin: plan.spin,
  };
}
