/**
 * Node stream adapters over ring sides: stream.pipeline round trips in both modes (one thread, and a
 * writer in a worker thread), bounded memory with a slow reader, no busy polling, errors in both
 * directions, async iteration, keeping the process alive while parked.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRing, RingClosedError, RingConsumer, RingProducer, RingUsageError } from '../src/index.js';
import { fillStreamPayload } from '../src/teststream.js';
import { createRingReadable, createRingWritable, RingStreamError, STREAM_ERROR_TYPE, type RingRecord } from '../src/streams.js';

const gc = (globalThis as { gc?: () => void }).gc;

function ringPair(capacity = 4096, maxRecordLength?: number): { producer: RingProducer; consumer: RingConsumer } {
  const ring = createRing({ capacity, maxRecordLength });
  return { producer: new RingProducer(ring), consumer: new RingConsumer(ring) };
}

function collector(objectMode: boolean, onChunk?: (chunk: unknown) => void): { sink: Writable; chunks: unknown[] } {
  const chunks: unknown[] = [];
  const sink = new Writable({
    objectMode,
    write(chunk, _encoding, callback) {
      chunks.push(chunk);
      try {
        onChunk?.(chunk);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  return { sink, chunks };
}

describe('round trips through stream.pipeline', () => {
  it("'records' mode: objectMode records with their types, in order", async () => {
    const { producer, consumer } = ringPair(4096);
    const input: Array<RingRecord | Uint8Array> = [];
    for (let n = 0; n < 5000; n++) input.push(n % 3 === 0 ? new Uint8Array([n & 0xff]) : { type: n % 1000, data: new Uint8Array([n & 0xff, n >> 8]) });
    const { sink, chunks } = collector(true);
    await Promise.all([
      pipeline(Readable.from(input), createRingWritable(producer, { mode: 'records', type: 7 })),
      pipeline(createRingReadable(consumer, { mode: 'records' }), sink),
    ]);
    expect(chunks).toHaveLength(5000);
    chunks.forEach((chunk, n) => {
      const record = chunk as RingRecord;
      expect(record.type).toBe(n % 3 === 0 ? 7 : n % 1000);
      expect([...record.data]).toEqual(n % 3 === 0 ? [n & 0xff] : [n & 0xff, n >> 8]);
    });
  });

  it("'bytes' mode from a worker thread: 8 MiB arrive byte-exact through a 64 KiB ring", async () => {
    const ring = createRing({ capacity: 65536 });
    const consumer = new RingConsumer(ring);
    const worker = new Worker(new URL('./workers/pipeline-stream-writer.mjs', import.meta.url), {
      workerData: { ring, bytes: 8 << 20, chunk: 100_000, seed: 99 },
    });
    const reported = new Promise<{ digest: string; sent: number }>((resolve) => worker.once('message', resolve));
    const hash = createHash('sha256');
    let received = 0;
    await pipeline(
      createRingReadable(consumer),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          received += chunk.length;
          callback();
        },
      }),
    );
    const { digest, sent } = await reported;
    await worker.terminate();
    expect(received).toBe(8 << 20);
    expect(sent).toBe(8 << 20);
    expect(hash.digest('hex')).toBe(digest);
  });

  it('the Readable is async-iterable', async () => {
    const { producer, consumer } = ringPair();
    for (let n = 0; n < 10; n++) producer.tryWrite(new Uint8Array([n]), n);
    producer.close();
    const seen: number[] = [];
    for await (const record of createRingReadable(consumer, { mode: 'records' })) seen.push((record as RingRecord).type);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('backpressure', () => {
  it('a slow reader bounds what is in flight and the memory used, whatever the traffic', async () => {
    const ringCapacity = 65536;
    const chunkLength = 64 * 1024;
    const total = 128 << 20;
    const { producer, consumer } = ringPair(ringCapacity);
    let produced = 0;
    let received = 0;
    let maxInFlight = 0;
    const chunk = Buffer.alloc(chunkLength, 1);
    const source = new Readable({
      read() {
        if (produced >= total) {
          this.push(null);
          return;
        }
        produced += chunkLength;
        this.push(chunk);
      },
    });
    gc?.();
    const before = process.memoryUsage();
    const growth: number[] = [];
    const slowReader = new Writable({
      write(data: Buffer, _encoding, callback) {
        received += data.length;
        maxInFlight = Math.max(maxInFlight, produced - received);
        if (received % (16 << 20) === 0) {
          gc?.();
          const now = process.memoryUsage();
          growth.push(now.heapUsed + now.arrayBuffers - before.heapUsed - before.arrayBuffers);
        }
        setImmediate(callback); // slow: one chunk per turn of the event loop
      },
    });
    await Promise.all([pipeline(source, createRingWritable(producer)), pipeline(createRingReadable(consumer), slowReader)]);
    expect(received).toBe(total);
    // The ring, both streams' buffers (16 KiB highWaterMarks, one 64 KiB chunk each) and the chunk in
    // hand: a bound set by the ring and the streams, not by the 128 MiB that went through.
    expect(maxInFlight).toBeLessThanOrEqual(ringCapacity + 4 * chunkLength);
    expect(maxInFlight).toBeGreaterThan(ringCapacity / 2);
    // Heap and buffers after a collection stay flat while 128 MiB pass (the median: external memory is
    // sometimes released a collection late, which shows as a lone spike).
    if (gc !== undefined) {
      growth.sort((a, b) => a - b);
      expect(growth).toHaveLength(8);
      expect(growth[4]).toBeLessThan(8 << 20);
    }
  });

  it('a Readable on an empty ring parks instead of polling', async () => {
    const { producer, consumer } = ringPair();
    let polls = 0;
    const poll = consumer.poll.bind(consumer);
    consumer.poll = (handler, limit) => {
      polls++;
      return poll(handler, limit);
    };
    const readable = createRingReadable(consumer, { mode: 'records' });
    const first = new Promise<RingRecord>((resolve) => readable.once('data', resolve));
    for (let turn = 0; turn < 200; turn++) await new Promise((resolve) => setImmediate(resolve));
    // One poll when the stream asked for data, one inside pollAsync before it parked.
    expect(polls).toBeLessThanOrEqual(2);
    producer.tryWrite(new Uint8Array([42]), 3);
    producer.flush();
    expect(await first).toMatchObject({ type: 3, data: Buffer.from([42]) });
    readable.destroy();
  });

  it('a Readable parked on a ring keeps its process alive until data comes', () => {
    const script = fileURLToPath(new URL('./workers/pipeline-stream-keepalive.mjs', import.meta.url));
    const child = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('hello from a parked ring\n');
    expect(child.status).toBe(0);
  });
});

describe('errors propagate both ways', () => {
  it('reader fails downstream: its consumer closes and the writing pipeline fails with ERR_CLOSED', async () => {
    const { producer, consumer } = ringPair(4096);
    let count = 0;
    const { sink } = collector(true, () => {
      if (++count === 50) throw new Error('reader broke');
    });
    const endless = Readable.from(
      (function* () {
        for (;;) yield new Uint8Array(8);
      })(),
    );
    const [writing, reading] = await Promise.allSettled([
      pipeline(endless, createRingWritable(producer, { mode: 'records' })),
      pipeline(createRingReadable(consumer, { mode: 'records' }), sink),
    ]);
    expect(reading).toMatchObject({ status: 'rejected', reason: { message: 'reader broke' } });
    expect(writing.status).toBe('rejected');
    expect((writing as PromiseRejectedResult).reason).toBeInstanceOf(RingClosedError);
    expect((writing as PromiseRejectedResult).reason.code).toBe('ERR_CLOSED');
    expect(consumer.isClosed).toBe(true);
  });

  it('writer fails upstream: the reader gets every record sent before, then RingStreamError with the message and code', async () => {
    const { producer, consumer } = ringPair(4096);
    const source = Readable.from(
      (function* () {
        for (let n = 0; n < 1000; n++) {
          if (n === 500) throw Object.assign(new Error('source broke'), { code: 'E_SOURCE' });
          yield new Uint8Array([n & 0xff]);
        }
      })(),
    );
    const { sink, chunks } = collector(true);
    const [writing, reading] = await Promise.allSettled([
      pipeline(source, createRingWritable(producer, { mode: 'records' })),
      pipeline(createRingReadable(consumer, { mode: 'records' }), sink),
    ]);
    expect(writing).toMatchObject({ status: 'rejected', reason: { code: 'E_SOURCE' } });
    expect(reading.status).toBe('rejected');
    const error = (reading as PromiseRejectedResult).reason as RingStreamError;
    expect(error).toBeInstanceOf(RingStreamError);
    expect(error).toMatchObject({ code: 'E_SOURCE', remoteName: 'Error' });
    expect(error.message).toBe('shmring stream: the writing side failed: source broke');
    expect(chunks).toHaveLength(500);
  });

  it('writer fails in a worker thread while the ring is full: the reader gets an exact prefix, then the error', async () => {
    const ring = createRing({ capacity: 4096 });
    const consumer = new RingConsumer(ring);
    const worker = new Worker(new URL('./workers/pipeline-stream-writer.mjs', import.meta.url), {
      workerData: { ring, bytes: 1 << 20, chunk: 1000, seed: 5, failAfter: 300_000 },
    });
    const reported = new Promise<{ error: string; sent: number; highWaterMarks: number[] }>((resolve) => worker.once('message', resolve));
    const received: Buffer[] = [];
    const readable = createRingReadable(consumer);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setImmediate(callback); // slow, so the ring is full when the writer fails
      },
    });
    const reading = pipeline(readable, sink);
    await expect(reading).rejects.toMatchObject({ name: 'RingStreamError', code: 'E_WRITER', message: /writer failed after 300000 bytes/ });
    const report = await reported;
    await worker.terminate();
    expect(report.error).toBe('writer failed after 300000 bytes');
    // stream.pipeline discards what was still buffered when it fails: the writer's source and ring
    // Writable, the ring, the ring Readable and the sink, each at most its highWaterMark plus one chunk
    // (16 KiB each on Node 20, 64 KiB from Node 22). Everything that reached the ring arrived, in order
    // and intact, and the error came after it (not a clean end).
    const buffered = [...report.highWaterMarks, readable.readableHighWaterMark, sink.writableHighWaterMark];
    const discardable = 4096 + buffered.reduce((sum, highWaterMark) => sum + highWaterMark + 1000, 0);
    const bytes = Buffer.concat(received);
    expect(bytes.length).toBeGreaterThan(300_000 - discardable);
    expect(bytes.length).toBeLessThanOrEqual(300_000);
    const expected = Buffer.alloc(bytes.length);
    for (let n = 0; n * 1000 < bytes.length; n++) fillStreamPayload(expected, n * 1000, Math.min(1000, bytes.length - n * 1000), 5, n);
    expect(bytes.equals(expected)).toBe(true);
  });

  it('a Writable destroyed before end() fails the reader rather than ending it cleanly', async () => {
    const { producer, consumer } = ringPair();
    const writable = createRingWritable(producer, { mode: 'records' });
    writable.write(new Uint8Array([1]));
    await new Promise((resolve) => setImmediate(resolve));
    writable.destroy();
    const { sink, chunks } = collector(true);
    await expect(pipeline(createRingReadable(consumer, { mode: 'records' }), sink)).rejects.toThrow(/destroyed before end\(\)/);
    expect(chunks).toHaveLength(1);
  });

  it('aborting the Readable closes the consumer; the writer then fails with ERR_CLOSED', async () => {
    const { producer, consumer } = ringPair();
    const controller = new AbortController();
    const readable = createRingReadable(consumer, { signal: controller.signal });
    const closed = new Promise((resolve) => readable.once('close', resolve));
    controller.abort();
    await closed;
    expect(consumer.isClosed).toBe(true);
    const writable = createRingWritable(producer);
    await expect(pipeline(Readable.from([Buffer.from('late')]), writable)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('refuses what a ring stream cannot carry', async () => {
    const { producer } = ringPair(4096, 100);
    expect(() => createRingWritable(producer, { type: STREAM_ERROR_TYPE })).toThrow(RingUsageError);
    expect(() => createRingWritable(producer, { mode: 'lines' as never })).toThrow(/mode lines is invalid/);
    const writable = createRingWritable(producer, { mode: 'records' });
    await expect(pipeline(Readable.from([new Uint8Array(101)]), writable)).rejects.toMatchObject({ code: 'ERR_RECORD_TOO_LONG' });
    const another = ringPair(4096, 100);
    await expect(pipeline(Readable.from([{ type: 0xffff, data: new Uint8Array(1) }]), createRingWritable(another.producer, { mode: 'records' }))).rejects.toMatchObject({
      code: 'ERR_BAD_TYPE',
    });
  });

  it("'bytes' mode cuts large chunks into records of maxRecordLength", async () => {
    const { producer, consumer } = ringPair(4096, 100);
    await pipeline(Readable.from([Buffer.alloc(250, 9)]), createRingWritable(producer, { type: 5 }));
    const lengths: number[] = [];
    consumer.poll((type, _data, _offset, length) => {
      expect(type).toBe(5);
      lengths.push(length);
    });
    expect(lengths).toEqual([100, 100, 50]);
    expect(consumer.ended).toBe(true);
  });
});
