/**
 * Cross-thread stress of the in-memory ring: a real producer and a real consumer on different
 * threads (worker_threads over one SharedArrayBuffer), released together by a start barrier, moving
 * millions of records of the seeded test stream (random lengths 0..maxRecordLength) through a small
 * ring so that it laps thousands of times. The consumer checks every record — sequence through the
 * type, every payload byte — so a lost, duplicated, reordered, torn or aborted-but-visible record
 * fails. Covers 'auto' (batched) and 'eager' publishing, spinning and parked (spin: 0) waits, copy-in
 * and zero-copy claims, and a main-thread side on async APIs against a worker on blocking ones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RingConsumer, RingProducer, createRing, type PublishPolicy } from '../src/index.js';
import { checkStreamRecord, fillStreamPayload, streamLength } from '../src/teststream.js';
import { testSeed } from './support/ring.js';
import { controlBuffer, openBarrier, startWorker, terminateWorkers } from './support/workers.js';

interface Report {
  role: 'producer' | 'consumer';
  records: number;
  bytes: number;
  ended: boolean;
  error: string | null;
  aborted?: number;
}

/** Upper bound for one wait of a side; a run that needs it has hung. */
const HANG_GUARD_MS = 60_000;

afterEach(terminateWorkers);

function expectComplete(producer: Report, consumer: Report, count: number): void {
  expect(producer.error).toBeNull();
  expect(consumer.error).toBeNull();
  expect(producer.records).toBe(count);
  expect(producer.ended).toBe(true);
  expect(consumer.records).toBe(count);
  expect(consumer.bytes).toBe(producer.bytes);
  expect(consumer.ended).toBe(true);
}

interface WorkerPairOptions {
  count: number;
  capacity: number;
  maxLength: number;
  publish: PublishPolicy;
  producerSpin?: number;
  consumerSpin?: number;
  mode: 'copy' | 'claim' | 'batch';
  abortEvery?: number;
  api: 'readSync' | 'pollSync' | 'batch';
  limit?: number;
}

async function workerPair(label: string, options: WorkerPairOptions): Promise<void> {
  const seed = testSeed(label);
  const buffer = createRing({ capacity: options.capacity, maxRecordLength: options.maxLength });
  const control = controlBuffer();
  const common = { buffer, control, seed, maxLength: options.maxLength };
  const consumer = startWorker<Report>('ring-consumer.mjs', { ...common, api: options.api, limit: options.limit, spin: options.consumerSpin });
  const producer = startWorker<Report>('ring-producer.mjs', {
    ...common,
    count: options.count,
    mode: options.mode,
    abortEvery: options.abortEvery ?? 0,
    publish: options.publish,
    spin: options.producerSpin,
  });
  await openBarrier(control, 2);
  const [produced, consumed] = await Promise.all([producer.report, consumer.report]);
  expectComplete(produced, consumed, options.count);
  if (options.abortEvery && options.mode === 'batch') expect(produced.aborted).toBeGreaterThan(0);
  else if (options.abortEvery) expect(produced.aborted).toBe(Math.ceil(options.count / options.abortEvery));
}

describe('worker producer, worker consumer', () => {
  it("copy-in writeSync, publish 'auto', both sides spinning then parking (default spin), readSync", async () => {
    await workerPair('auto/spin/copy/readSync', {
      count: 2_500_000,
      capacity: 64 * 1024,
      maxLength: 1024,
      publish: 'auto',
      mode: 'copy',
      api: 'readSync',
    });
  });

  it("zero-copy claimSync/commit with aborts, publish 'eager' (unbatched), both sides parked at once (spin 0), pollSync", async () => {
    await workerPair('eager/parked/claim/pollSync', {
      count: 2_500_000,
      capacity: 64 * 1024,
      maxLength: 2048,
      publish: 'eager',
      producerSpin: 0,
      consumerSpin: 0,
      mode: 'claim',
      abortEvery: 97,
      api: 'pollSync',
      limit: 64,
    });
  });

  it("zero-copy claims, publish 'auto' parked producer, eager-spinning consumer with readSync", async () => {
    await workerPair('auto/parked/claim/readSync', {
      count: 500_000,
      capacity: 64 * 1024,
      maxLength: 4096,
      publish: 'auto',
      producerSpin: 0,
      mode: 'claim',
      api: 'readSync',
    });
  });

  it('batch paths both sides: producer.batch() claims in place with aborted batches, consumer.batch() with one release per batch, spinning', async () => {
    await workerPair('batch/spin/batch', {
      count: 2_500_000,
      capacity: 64 * 1024,
      maxLength: 1024,
      publish: 'auto',
      mode: 'batch',
      abortEvery: 13,
      api: 'batch',
      limit: 256,
    });
  });

  it('batch paths with records up to the whole ring, both sides parked at once (spin 0)', async () => {
    await workerPair('batch/parked/huge', {
      count: 100_000,
      capacity: 4096,
      maxLength: 4096 - 8,
      publish: 'auto',
      producerSpin: 0,
      consumerSpin: 0,
      mode: 'batch',
      api: 'batch',
    });
  });

  it('records longer than half the ring (maxRecordLength = capacity - 8): every wrap pads and waits for the padding to be read', async () => {
    await workerPair('huge/eager/readSync', {
      count: 100_000,
      capacity: 4096,
      maxLength: 4096 - 8,
      publish: 'eager',
      producerSpin: 0,
      mode: 'copy',
      api: 'readSync',
    });
    await workerPair('huge/auto/pollSync', {
      count: 100_000,
      capacity: 4096,
      maxLength: 4096 - 8,
      publish: 'auto',
      consumerSpin: 0,
      mode: 'claim',
      api: 'pollSync',
    });
  });
});

describe('main-thread side on async APIs, worker on blocking ones', () => {
  it('main thread: async write(); worker: parked readSync()', async () => {
    const seed = testSeed('main write -> worker readSync');
    const count = 2_500_000;
    const maxLength = 1024;
    const buffer = createRing({ capacity: 64 * 1024, maxRecordLength: maxLength });
    const control = controlBuffer();
    const consumer = startWorker<Report>('ring-consumer.mjs', { buffer, control, seed, maxLength, api: 'readSync', spin: 0 });
    const producer = new RingProducer(buffer, { publish: 'auto' });
    await openBarrier(control, 1);
    const scratch = new Uint8Array(maxLength);
    let bytes = 0;
    let written = 0;
    for (let n = 0; n < count; n++) {
      const length = streamLength(seed, n, maxLength);
      fillStreamPayload(scratch, 0, length, seed, n);
      await producer.write(scratch.subarray(0, length), n & 0xffff, { timeout: HANG_GUARD_MS });
      bytes += length;
      written++;
    }
    producer.close();
    expectComplete({ role: 'producer', records: written, bytes, ended: producer.isClosed, error: null }, await consumer.report, count);
  });

  it('main thread: async iteration (for await); worker: zero-copy claimSync, eager, spinning', async () => {
    const seed = testSeed('worker claim -> main for await');
    const count = 2_500_000;
    const maxLength = 1024;
    const buffer = createRing({ capacity: 64 * 1024, maxRecordLength: maxLength });
    const control = controlBuffer();
    const consumer = new RingConsumer(buffer);
    const producer = startWorker<Report>('ring-producer.mjs', { buffer, control, seed, count, maxLength, mode: 'claim', publish: 'eager' });
    await openBarrier(control, 1);
    let records = 0;
    let bytes = 0;
    let error: string | null = null;
    for await (const record of consumer) {
      if (error === null) error = checkStreamRecord(seed, records, maxLength, record.type, record.data, 0, record.length);
      records++;
      bytes += record.length;
    }
    expectComplete(await producer.report, { role: 'consumer', records, bytes, ended: consumer.ended, error }, count);
  });

  it('main thread: pollAsync() in batches; worker: copy-in writeSync, auto, parked', async () => {
    const seed = testSeed('worker writeSync -> main pollAsync');
    const count = 1_000_000;
    const maxLength = 2048;
    const buffer = createRing({ capacity: 64 * 1024, maxRecordLength: maxLength });
    const control = controlBuffer();
    const consumer = new RingConsumer(buffer);
    const producer = startWorker<Report>('ring-producer.mjs', { buffer, control, seed, count, maxLength, mode: 'copy', publish: 'auto', spin: 0 });
    await openBarrier(control, 1);
    let records = 0;
    let bytes = 0;
    let error: string | null = null;
    const handler = (type: number, data: Uint8Array, offset: number, length: number): void => {
      if (error === null) error = checkStreamRecord(seed, records, maxLength, type, data, offset, length);
      records++;
      bytes += length;
    };
    while ((await consumer.pollAsync(handler, 256, { timeout: HANG_GUARD_MS })) > 0);
    expectComplete(await producer.report, { role: 'consumer', records, bytes, ended: consumer.ended, error }, count);
  });
});
