/**
 * The two ends of a pipeline, on the calling thread: the source writes records into the first tier's
 * rings (waiting without blocking the thread when they are full), and the sink reads the last tier's
 * rings in place and hands each record to the user's function.
 */
import type { RingConsumer } from '../consumer.js';
import type { RingProducer } from '../producer.js';
import { atomicsParker } from '../parker.js';
import { FanIn, FanOut, MAX_PIPELINE_TYPE, type ItemRecordHandler } from './io.js';
import type { RecordBatchWriter } from '../batch.js';
import { NODE_BUSY_MS, NODE_CURRENT_INDEX, NODE_INPUT_WAIT_MS, NODE_OUTPUT_WAIT_MS, NODE_RECORDS_IN, NODE_RECORDS_OUT, RING_WRITTEN } from './stats.js';
import { PipelineError, type PipelineInput, type PipelineSink, type PipelineSource, type SourceWriter } from './types.js';
import { futexParkerOf, type RunContext } from './wiring.js';
import { BatchCursor } from './cursor.js';
import type { StageBatch } from './worker.js';

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/** Thrown inside a sink batch to stop it after a record whose sink call returned a Promise. */
const SINK_PENDING = Symbol('sink pending');

export async function runSource(run: RunContext, source: PipelineSource, producers: RingProducer[]): Promise<void> {
  const { plan } = run;
  const stop = run.stop;
  const slot = plan.nodeSlot(0, 0);
  const stats = run.stats64;
  const out = new FanOut(producers, {
    ordered: plan.writesFramed(0),
    stats,
    ringStats: run.boundaries[0][0].map((ring) => ring.statsIndex),
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
  // writer.batch(): the first ring's batch writer while a batch is open; its records become items when published.
  let batch: RecordBatchWriter | undefined;
  const publishBatch = (): void => {
    if (batch === undefined) return;
    const records = batch.publish();
    batch = undefined;
    item += records;
    stats[slot + NODE_RECORDS_OUT] = item;
    stats[out.ringStatsOf(0) + RING_WRITTEN] += records;
  };
  const writer: SourceWriter = {
    signal: stop,
    batch(): RecordBatchWriter {
      if (stop.aborted) throw stop.reason;
      if (waiting) throw sourceError('batch() called while a write is still waiting; await it first');
      if (producers.length !== 1) throw sourceError(`batch() writes one ring, and the first stage has ${producers.length} workers (a ring each); use write()`);
      return (batch ??= producers[0].batch());
    },
    publish(): RecordBatchWriter {
      publishBatch();
      return writer.batch();
    },
    async waitForRoom(length: number): Promise<RecordBatchWriter> {
      writer.batch();
      if (!Number.isInteger(length) || length < 0 || length > maxRecordLength) {
        throw new PipelineError(
          'ERR_RECORD_TOO_LONG',
          `shmring pipeline: source: waitForRoom(${String(length)}): the rings hold records of at most ${maxRecordLength} bytes (pipeline option maxRecordLength)`,
          { stage: 'source', recordIndex: item },
        );
      }
      publishBatch();
      const producer = producers[0];
      const started = performance.now();
      waiting = true;
      try {
        // A claim that waits for room, then gives it back: nothing is written (a wrap's padding may be).
        await producer.claimAsync(length, 0, { signal: stop });
        producer.abort();
      } finally {
        waiting = false;
        stats[slot + NODE_OUTPUT_WAIT_MS] += performance.now() - started;
      }
      return writer.batch();
    },
    write(data: Uint8Array, type = 0): Promise<void> | undefined {
      if (stop.aborted) throw stop.reason;
      if (waiting) throw sourceError('write() called while the previous write is still waiting; await it first');
      publishBatch();
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
  publishBatch();
  out.close(true);
}

export async function runSink(run: RunContext, sink: PipelineSink, consumers: RingConsumer[]): Promise<void> {
  const { plan } = run;
  const stop = run.stop;
  const stats = run.stats64;
  const tier = plan.stages.length + 1;
  const slot = plan.nodeSlot(tier, 0);
  let pending: PromiseLike<unknown> | undefined;
  let received = 0;
  let onRecord: ItemRecordHandler;
  let onBatchEnd: (() => void) | undefined;
  if (typeof sink !== 'function') {
    ({ onRecord, runBatch: onBatchEnd } = batchSink(run, sink.batch, consumers.length === 1));
  } else {
    onRecord = (type, data, offset, length) => {
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
  }
  const input = new FanIn(
    consumers,
    {
      ordered: plan.readsOrdered(tier),
      first: 0,
      stride: 1,
      parker: run.boundaries[tier - 1][0][0].file !== undefined ? await futexParkerOf() : atomicsParker,
      stats,
      ringStats: run.boundaries[tier - 1].map((row) => row[0].statsIndex),
    },
    onRecord,
    () => {},
  );
  // A batch sink reading one ring runs its batch at the end of each of the ring's batches.
  if (onBatchEnd !== undefined && consumers.length === 1) input.onBatchEnd = onBatchEnd;
  for (;;) {
    if (stop.aborted) return;
    let handled: number;
    const started = performance.now();
    try {
      handled = input.pump(plan.batchRecords);
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

/**
 * A batch sink ({ batch }): the records of each read are gathered (offsets, no view) and handed over
 * together before the read releases them. With one input ring (`single`) a read is a batch of the
 * ring's batch reader, and runBatch is its FanIn.onBatchEnd; with several, each record is its own
 * batch (a poll releases its records before the next ring is polled).
 */
function batchSink(run: RunContext, handler: (batch: StageBatch) => void, single: boolean): { onRecord: ItemRecordHandler; runBatch: () => void } {
  const { plan } = run;
  const stats = run.stats64;
  const slot = plan.nodeSlot(plan.stages.length + 1, 0);
  const cursor = new BatchCursor(plan.batchRecords);
  let received = 0;
  cursor.onEnter = (position) => {
    stats[slot + NODE_CURRENT_INDEX] = cursor.indices[position];
  };
  const runBatch = (): void => {
    const count = cursor.count;
    if (count === 0) return;
    cursor.position = -1;
    let result: unknown;
    try {
      result = handler(cursor);
    } catch (error) {
      const index = cursor.position >= 0 && cursor.position < count ? cursor.index : cursor.indices[0];
      cursor.count = 0;
      throw new PipelineError('ERR_SINK_FAILED', `shmring pipeline: sink threw on record ${index} (in a batch): ${(error as Error)?.message ?? String(error)}`, {
        stage: 'sink',
        recordIndex: index,
        cause: error,
      });
    }
    cursor.count = 0;
    stats[slot + NODE_RECORDS_IN] = received;
    if (result !== undefined) {
      // About the call, not a record: no record index.
      throw new PipelineError('ERR_SINK_FAILED', `shmring pipeline: a batch sink is synchronous and returns nothing; it returned ${isThenable(result) ? 'a Promise' : typeof result}`, {
        stage: 'sink',
        recordIndex: -1,
      });
    }
  };
  const onRecord = (type: number, data: Uint8Array, offset: number, length: number): void => {
    const position = cursor.count++;
    cursor.buffer = data;
    cursor.offsets[position] = offset;
    cursor.lengths[position] = length;
    cursor.types[position] = type;
    cursor.indices[position] = received++;
    if (!single || cursor.count === cursor.offsets.length) runBatch();
  };
  return { onRecord, runBatch };
}

function writeInput(writer: SourceWriter, input: PipelineInput): Promise<void> | undefined {
  if (input instanceof Uint8Array) return writer.write(input, 0);
  if (input !== null && typeof input === 'object' && 'data' in input) return writer.write(input.data, input.type ?? 0);
  return writer.write(input as unknown as Uint8Array, 0);
}

