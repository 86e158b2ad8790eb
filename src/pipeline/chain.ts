/**
 * In-place chains: when every stage of a pipeline changes its records where they lie (stage option
 * `inPlace`, one worker each), the whole pipeline is one ring, as in the Disruptor: the source
 * writes a record once, each stage in turn reads and modifies it in the ring, and the sink reads it
 * and releases it. No stage copies a record and no stage writes a header.
 *
 * Positions. The source is the ring's producer and publishes the ring's tail; the sink is its
 * consumer and releases the ring's head (the producer's room, as in any ring). Between them, stage
 * k (1 .. n) has a cursor: the ring position up to which it has finished. Stage k reads the records
 * between its cursor and the one before it (stage 1: the tail), and the sink reads up to stage n's
 * cursor. So head <= cursor n <= ... <= cursor 1 <= tail at every instant, each stage owns the
 * bytes between its cursor and the one before it, and a record is reused only after the sink has
 * released it.
 *
 * Happens-before (docs/FORMAT.md §11). Stage k publishes its cursor with a sequentially consistent
 * store after its writes to the records, and the next reader loads it with acquire before reading
 * them: each stage's writes happen before the next stage's reads, and the sink's release (a store
 * of the head) happens after its reads, before the producer reuses the bytes.
 *
 * Waiting. Each cursor has a waiting flag and a doorbell in its own cache line, used as the ring's
 * data doorbell is (FORMAT.md §6): the reader flags waiting, rechecks the cursor, and parks on the
 * doorbell; the stage stores its cursor, then rings the doorbell if the flag is set. Stage 1 waits
 * for the source on the ring's own data doorbell, which the producer rings. A stage that ends rings
 * its doorbell whatever the flag says, so its reader sees the end.
 *
 * Untrusted records. Every header a stage reads is checked against the ring's geometry before use
 * (a stage may scribble over the ring: it has the whole data area), as a consumer checks it.
 */
import { fetchAddSeqCst, loadAcquire, loadSeqCst, storeSeqCst } from '../atomics.js';
import { validateRing } from '../header.js';
import {
  CONSUMER_WAITING_INDEX,
  DATA_DOORBELL_INDEX,
  HEADER_LENGTH,
  MAX_TYPE,
  PADDING_TYPE_I32,
  PRODUCER_STATE_INDEX,
  RECORD_HEADER_LENGTH,
  ROLE_CLOSED,
  TAIL_INDEX,
} from '../layout.js';
import { atomicsParker } from '../parker.js';
import { BatchCursor } from './cursor.js';
import { stageContext } from './context.js';
import { PipelineProtocolError, WAKE_INTERVAL_MS } from './io.js';
import { StageFailure } from './output.js';
import { NODE_BUSY_MS, NODE_CURRENT_INDEX, NODE_INPUT_WAIT_MS, NODE_RECORDS_IN, NODE_RECORDS_OUT, RING_READ, RING_WRITTEN } from './stats.js';
import type { StageContext, StageDefinition, StageTask } from './worker.js';

/** Int32 words per cursor line (64 bytes: each cursor on a cache line of its own). */
export const CHAIN_LINE_WORDS = 16;
export const CHAIN_POSITION = 0;
export const CHAIN_WAITING = 1;
export const CHAIN_DOORBELL = 2;

/** The cursor block of an n-stage chain: line k is stage k's (line 0 is unused). */
export function chainBufferLength(stages: number): number {
  return (stages + 1) * CHAIN_LINE_WORDS * Int32Array.BYTES_PER_ELEMENT;
}

/** Index of stage k's cursor line in the block's Int32Array. */
export function chainLine(stage: number): number {
  return stage * CHAIN_LINE_WORDS;
}

/** What a chain stage's worker is given besides its StageTask. */
export interface ChainRef {
  ring: SharedArrayBuffer;
  cursors: SharedArrayBuffer;
  /** This stage's number in the chain, 1 .. n. */
  stage: number;
}

/** Longest single park (ms): a bound on a lost wake-up, as the rings' own waits have. */
const PARK_SLICE_MS = 50;

function messageOf(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}

/** The context of a chain stage: no output of its own (its records move on where they are). */
function chainContext(task: StageTask, where: string, current: { index: number }): StageContext {
  const refuse = (): never => {
    throw new StageFailure(
      'ERR_BAD_OUTPUT',
      `${where} is an in-place stage: it changes its records where they lie and cannot write new ones (claim/commit/write); drop inPlace to emit records`,
      current.index,
    );
  };
  return stageContext(task, {
    recordIndex: () => current.index,
    output: refuse,
    claim: refuse,
    commit: refuse,
    write: refuse,
    batch: refuse,
    waitForRoom: refuse,
  });
}

/**
 * Runs one stage of an in-place chain to the end of its input: init, the records (batch handler
 * or record function, each record changed in place), end. Throws StageFailure or
 * PipelineProtocolError; the caller reports them.
 */
export async function runChainStage(task: StageTask, chain: ChainRef, definition: StageDefinition, where: string): Promise<{ recordsIn: number; recordsOut: number }> {
  const stats = new Float64Array(task.stats);
  const slot = task.statsSlot;
  const geometry = validateRing(chain.ring);
  const capacity = geometry.capacity;
  const mask = capacity - 1;
  const maxRecordLength = geometry.maxRecordLength;
  const header = new Int32Array(chain.ring, 0, HEADER_LENGTH >> 2);
  const words = new Int32Array(chain.ring, HEADER_LENGTH, capacity >> 2);
  const data = new Uint8Array(chain.ring, HEADER_LENGTH, capacity);
  const cursors = new Int32Array(chain.cursors);
  const mine = chainLine(chain.stage);
  // Where this stage waits: the ring's tail and data doorbell (stage 1), else the stage before it.
  const upWords = chain.stage === 1 ? header : cursors;
  const upPosition = chain.stage === 1 ? TAIL_INDEX : chainLine(chain.stage - 1) + CHAIN_POSITION;
  const upWaiting = chain.stage === 1 ? CONSUMER_WAITING_INDEX : chainLine(chain.stage - 1) + CHAIN_WAITING;
  const upDoorbell = chain.stage === 1 ? DATA_DOORBELL_INDEX : chainLine(chain.stage - 1) + CHAIN_DOORBELL;
  const current = { index: -1 };
  const context = chainContext(task, where, current);

  if (definition.init !== undefined) {
    try {
      context.state = await definition.init(task.options, context);
    } catch (error) {
      if (error instanceof StageFailure) throw error;
      throw new StageFailure('ERR_STAGE_INIT', `${where} init threw: ${messageOf(error)}`, -1, error);
    }
  }

  /** The input has ended: the producer closed, and everything up to its last tail has reached this stage. */
  const upstreamEnded = (position: number): boolean =>
    loadSeqCst(header, PRODUCER_STATE_INDEX) === ROLE_CLOSED &&
    loadAcquire(header, TAIL_INDEX) === position &&
    loadAcquire(upWords, upPosition) === position;

  /** Waits until the stage before this one has moved past `position` or the input has ended (one park at most). */
  const waitForInput = (position: number): void => {
    for (let i = 0; i < task.spin; i++) if (loadAcquire(upWords, upPosition) !== position) return;
    const bell = loadSeqCst(upWords, upDoorbell);
    storeSeqCst(upWords, upWaiting, 1);
    try {
      if (loadSeqCst(upWords, upPosition) !== position || upstreamEnded(position)) return;
      atomicsParker.waitSync(upWords, upDoorbell, bell, PARK_SLICE_MS);
    } finally {
      storeSeqCst(upWords, upWaiting, 0);
    }
  };

  /** Stage k's cursor moves to `position`: the records before it are the next reader's. */
  const publish = (position: number): void => {
    storeSeqCst(cursors, mine + CHAIN_POSITION, position);
  };
  /**
   * Wakes the next reader if it is parked (after a publish: the second half of FORMAT.md §6), or
   * whatever its flag says. While input keeps coming this runs at most once per WAKE_INTERVAL_MS
   * (as a stage worker's flush, worker.ts); before this stage waits and at its end, always.
   */
  const wakeReader = (anyway: boolean): void => {
    if (anyway || loadSeqCst(cursors, mine + CHAIN_WAITING) !== 0) {
      fetchAddSeqCst(cursors, mine + CHAIN_DOORBELL, 1);
      atomicsParker.wake(cursors, mine + CHAIN_DOORBELL);
    }
  };
  let lastWake = performance.now();

  const corrupt = (field: string, value: number, expected: string, position: number): PipelineProtocolError =>
    new PipelineProtocolError(
      `shmring pipeline: in-place ring: record ${field} ${value} at ring position ${position >>> 0} is invalid; expected ${expected} (a stage before this one wrote over a record header?)`,
    );

  const limit = task.batchRecords;
  const cursor = new BatchCursor(limit);
  cursor.buffer = data;
  cursor.onEnter = (position) => {
    current.index = cursor.indices[position];
  };
  const batchFunction = definition.batch;
  const recordFunction = definition.record;
  let position = loadAcquire(cursors, mine + CHAIN_POSITION);
  let inputIndex = 0;
  let busyMs = 0;
  let inputWaitMs = 0;

  for (;;) {
    const upstream = loadAcquire(upWords, upPosition);
    const available = (upstream - position) | 0;
    if (available < 0 || available > capacity || (upstream & 7) !== 0) {
      throw corrupt('cursor', upstream >>> 0, `a multiple of 8 within ${capacity} bytes ahead of ${position >>> 0}`, position);
    }
    if (available === 0) {
      if (upstreamEnded(position)) break;
      wakeReader(false);
      const waitStarted = performance.now();
      waitForInput(position);
      inputWaitMs += performance.now() - waitStarted;
      stats[slot + NODE_INPUT_WAIT_MS] = inputWaitMs;
      continue;
    }
    const started = performance.now();
    // Gather up to `limit` records (each header checked), stepping over wrap padding.
    let end = position;
    let count = 0;
    while (end !== upstream && count < limit) {
      const offset = end & mask;
      const length = words[offset >> 2];
      const type = words[(offset >> 2) + 1];
      const left = (upstream - end) | 0;
      if (type === PADDING_TYPE_I32) {
        const toEnd = capacity - offset;
        if (length !== toEnd - RECORD_HEADER_LENGTH || left < toEnd) throw corrupt('padding length', length, `${toEnd - RECORD_HEADER_LENGTH} (to the end of the ring)`, end);
        end = (end + toEnd) | 0;
        continue;
      }
      if ((type & MAX_TYPE) !== type) throw corrupt('type', type >>> 0, `0 .. ${MAX_TYPE}`, end);
      if (!(length >= 0 && length <= maxRecordLength) || offset + RECORD_HEADER_LENGTH + length > capacity) {
        throw corrupt('length', length, `0 .. ${maxRecordLength}, within the ring`, end);
      }
      const slotLength = (length + RECORD_HEADER_LENGTH + 7) & ~7;
      if (left < slotLength) throw corrupt('length', length, `a record that ends before the cursor ahead (${left} bytes)`, end);
      cursor.offsets[count] = offset + RECORD_HEADER_LENGTH;
      cursor.lengths[count] = length;
      cursor.types[count] = type;
      cursor.indices[count] = inputIndex++;
      count++;
      end = (end + slotLength) | 0;
    }
    if (count > 0) {
      stats[slot + NODE_CURRENT_INDEX] = cursor.indices[0];
      if (batchFunction !== undefined) {
        cursor.count = count;
        cursor.position = -1;
        current.index = cursor.indices[0];
        let result: unknown;
        try {
          result = batchFunction(cursor, context);
        } catch (error) {
          if (error instanceof StageFailure) throw error;
          const index = cursor.position >= 0 && cursor.position < count ? cursor.index : current.index;
          throw new StageFailure('ERR_STAGE_FAILED', `${where} threw on source record ${index} (in a batch): ${messageOf(error)}`, index, error);
        }
        if (result !== undefined) {
          // About the call, not a record: no record index.
          throw new StageFailure('ERR_BAD_OUTPUT', `${where}: an in-place batch handler changes its records where they lie and returns nothing; it returned ${typeof result}`, -1);
        }
        cursor.count = 0;
      } else {
        for (let i = 0; i < count; i++) {
          const at = cursor.offsets[i];
          const index = cursor.indices[i];
          current.index = index;
          let result: unknown;
          // A view of the record in the ring, to change in place.
          const record = data.subarray(at, at + cursor.lengths[i]);
          try {
            result = recordFunction!(record, cursor.types[i], context);
          } catch (error) {
            if (error instanceof StageFailure) throw error;
            throw new StageFailure('ERR_STAGE_FAILED', `${where} threw on source record ${index}: ${messageOf(error)}`, index, error);
          }
          if (result !== undefined && result !== record) {
            throw new StageFailure(
              'ERR_BAD_OUTPUT',
              `${where} is an in-place stage and returned a value for source record ${index}; it changes the record it was given and returns nothing (or that record)`,
              index,
            );
          }
        }
      }
      stats[slot + NODE_RECORDS_IN] += count;
      stats[slot + NODE_RECORDS_OUT] += count;
      stats[task.inputRingStats[0] + RING_READ] += count;
      stats[task.outputRingStats[0] + RING_WRITTEN] += count;
    }
    position = end;
    publish(position);
    const finished = performance.now();
    if (finished - lastWake >= WAKE_INTERVAL_MS) {
      wakeReader(false);
      lastWake = finished;
    }
    busyMs += finished - started;
    stats[slot + NODE_BUSY_MS] = busyMs;
  }
  current.index = -1;
  if (definition.end !== undefined) {
    try {
      definition.end(context);
    } catch (error) {
      if (error instanceof StageFailure) throw error;
      throw new StageFailure('ERR_STAGE_END', `${where} end hook threw: ${messageOf(error)}`, -1, error);
    }
  }
  // The next reader may be parked having seen no end yet: ring whatever its flag says.
  wakeReader(true);
  return { recordsIn: stats[slot + NODE_RECORDS_IN], recordsOut: stats[slot + NODE_RECORDS_OUT] };
}
