/**
 * Pipelines end to end: a million seeded records through three worker stages with every record
 * checked (order where ordered, set equality where not), framing of dropped/expanded records across
 * multi-worker tiers, sources of every kind, stats, and end-to-end backpressure. Workers run the
 * compiled dist/ code: run `npx tsc -p tsconfig.json` first (scripts/test.sh does).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Pipeline, runPipeline } from '../src/pipeline/index.js';
// @ts-expect-error -- plain JS fixture shared with the workers
import { checkSink, recordType, reshaped, sourceRecord } from './fixtures/stages/seeded.mjs';
import { seededSource } from './support/pipeline.js';

const seeded = new URL('./fixtures/stages/seeded.mjs', import.meta.url);
const faults = new URL('./fixtures/stages/faults.mjs', import.meta.url);
const MILLION = 1_000_000;

afterEach(() => {
  // Every pipeline of the test has settled: nothing may be left behind.
  expect(Pipeline.liveThreads()).toBe(0);
  expect(Pipeline.liveRings()).toBe(0);
});

describe('a million seeded records through three stages', () => {
  it('ordered, with multi-worker stages that drop and expand records: the sink sees the exact sequence', async () => {
    let nextSource = 0;
    let expected: Array<[number, boolean]> = [];
    let received = 0;
    let mismatch: string | undefined;
    const pipeline = new Pipeline({
      source: seededSource(MILLION),
      stages: [
        { name: 'verify', module: seeded, export: 'verify', workers: 2 },
        { name: 'scramble', module: seeded, export: 'scramble', workers: 2 },
        { name: 'reshape', module: seeded, export: 'reshape', workers: 2 },
      ],
      sink: (data, type) => {
        const [n, echo] = checkSink(data, type) as [number, boolean];
        while (expected.length === 0) expected = reshaped(nextSource++);
        const [expectedN, expectedEcho] = expected.shift()!;
        if (n !== expectedN || echo !== expectedEcho) mismatch ??= `record ${received}: got ${n}/${echo}, expected ${expectedN}/${expectedEcho}`;
        received++;
      },
    });
    const result = await pipeline.run();
    expect(mismatch).toBeUndefined();
    // Everything the sink was owed arrived, and nothing more.
    while (nextSource < MILLION) expected.push(...(reshaped(nextSource++) as Array<[number, boolean]>));
    expect(expected).toEqual([]);
    expect(result.state).toBe('done');
    expect(result.source.recordsOut).toBe(MILLION);
    expect(result.stages.map((stage) => [stage.name, stage.recordsIn, stage.workers])).toEqual([
      ['verify', MILLION, 2],
      ['scramble', MILLION, 2],
      ['reshape', MILLION, 2],
    ]);
    expect(result.stages[2].recordsOut).toBe(received);
    expect(result.sink.recordsIn).toBe(received);
    for (const stage of result.stages) {
      expect(stage.queue).toMatchObject({ bytes: 0, records: 0 });
      expect(stage.busyMs).toBeGreaterThan(0);
    }
    expect(pipeline.threads).toBe(0);
  });

  it('unordered 2-worker stages: every record arrives exactly once (set equality)', async () => {
    const seen = new Uint8Array(MILLION);
    let duplicates = 0;
    let received = 0;
    const result = await runPipeline({
      source: seededSource(MILLION),
      stages: [
        { name: 'verify', module: seeded, export: 'verify' },
        { name: 'scramble', module: seeded, export: 'scramble', workers: 2, ordered: false },
        { name: 'check', module: seeded, export: 'verifyScrambled', workers: 2, ordered: false },
      ],
      sink: (data, type) => {
        const [n] = checkSink(data, type) as [number, boolean];
        if (seen[n] !== 0) duplicates++;
        seen[n] = 1;
        received++;
      },
    });
    expect(duplicates).toBe(0);
    expect(received).toBe(MILLION);
    expect(seen.indexOf(0)).toBe(-1);
    expect(result.stages.map((stage) => stage.recordsOut)).toEqual([MILLION, MILLION, MILLION]);
  });
});

describe('framing across tiers', () => {
  it('groups and drops travel through a later multi-worker stage and keep their order', async () => {
    const count = 100_000;
    let nextSource = 0;
    let expected: Array<[number, boolean]> = [];
    let mismatch: string | undefined;
    let received = 0;
    await runPipeline({
      source: seededSource(count),
      stages: [
        { name: 'scramble', module: seeded, export: 'scramble', workers: 3 },
        { name: 'reshape', module: seeded, export: 'reshape', workers: 2 },
        { name: 'after', module: seeded, export: 'verifyReshaped', workers: 3 },
      ],
      ringCapacity: 4096,
      sink: (data, type) => {
        const [n, echo] = checkSink(data, type) as [number, boolean];
        while (expected.length === 0 && nextSource < count) expected = reshaped(nextSource++);
        const next = expected.shift();
        if (next === undefined || n !== next[0] || echo !== next[1]) mismatch ??= `record ${received}: got ${n}/${echo}, expected ${String(next)}`;
        received++;
      },
    });
    expect(mismatch).toBeUndefined();
    while (nextSource < count) expected.push(...(reshaped(nextSource++) as Array<[number, boolean]>));
    expect(expected).toEqual([]);
  });
});

describe('sources and sinks', () => {
  it('takes iterables and async iterables of bytes or { data, type }, and an empty source', async () => {
    const collected: Array<[number, number[]]> = [];
    const sink = (data: Uint8Array, type: number): void => {
      collected.push([type, [...data]]);
    };
    const stages = [{ name: 'identity', module: faults, export: 'identity' }];
    await runPipeline({ source: [new Uint8Array([1, 2]), { data: new Uint8Array([3]), type: 9 }], stages, sink });
    async function* generate(): AsyncGenerator<{ data: Uint8Array; type: number }> {
      for (let n = 0; n < 3; n++) yield { data: new Uint8Array([n]), type: n };
    }
    await runPipeline({ source: generate(), stages, sink });
    const empty = await runPipeline({ source: [], stages, sink });
    expect(collected).toEqual([
      [0, [1, 2]],
      [9, [3]],
      [0, [0]],
      [1, [1]],
      [2, [2]],
    ]);
    expect(empty.sink.recordsIn).toBe(0);
    expect(empty.stages[0].recordsIn).toBe(0);
  });

  it('an async sink holds the next record back until its promise settles', async () => {
    let inSink = 0;
    let overlapped = false;
    const order: number[] = [];
    await runPipeline({
      source: Array.from({ length: 200 }, (_, n) => new Uint8Array([n])),
      stages: [{ name: 'identity', module: faults, export: 'identity', workers: 2 }],
      sink: async (data) => {
        const n = data[0];
        if (inSink++ > 0) overlapped = true;
        await new Promise((resolve) => setImmediate(resolve));
        order.push(n);
        inSink--;
      },
    });
    expect(overlapped).toBe(false);
    expect(order).toEqual(Array.from({ length: 200 }, (_, n) => n));
  });

  it('passes stage options and context to the stage function', async () => {
    const seen: string[] = [];
    await runPipeline({
      source: [new Uint8Array(0)],
      stages: [
        {
          name: 'describe',
          module: 'data:text/javascript,export default (data, type, c) => new TextEncoder().encode(JSON.stringify([c.stage, c.stageIndex, c.worker, c.workers, c.options]))',
          options: { answer: 42 },
        },
      ],
      sink: (data) => {
        seen.push(new TextDecoder().decode(data));
      },
    });
    expect(seen).toEqual([JSON.stringify(['describe', 0, 0, 1, { answer: 42 }])]);
  });
});

describe('backpressure', () => {
  it('a slow sink slows the source: records in flight stay within what the rings can hold', async () => {
    const ringCapacity = 4096;
    const recordLength = 56; // 64-byte slots
    const count = 20_000;
    let written = 0;
    let received = 0;
    let maxInFlight = 0;
    let queueSamples = 0;
    let maxQueueRecords = 0;
    const pipeline: Pipeline = new Pipeline({
      ringCapacity,
      source: async (out) => {
        const record = new Uint8Array(recordLength);
        for (let n = 0; n < count; n++) {
          const pending = out.write(record, 1);
          written++;
          if (pending !== undefined) await pending;
        }
      },
      stages: [
        { name: 'a', module: faults, export: 'identity' },
        { name: 'b', module: faults, export: 'identity', workers: 2 },
        { name: 'c', module: faults, export: 'identity' },
      ],
      sink: async () => {
        received++;
        maxInFlight = Math.max(maxInFlight, written - received);
        if (received % 500 === 0) {
          const stats = pipeline.stats();
          queueSamples++;
          for (const stage of [...stats.stages.map((s) => s.queue), stats.sink.queue]) {
            expect(stage.bytes).toBeLessThanOrEqual(stage.capacity);
            maxQueueRecords = Math.max(maxQueueRecords, stage.records);
          }
        }
        // Slow: one record per turn of the event loop.
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    await pipeline.run();
    expect(received).toBe(count);
    // Rings: source->a (1), a->b (2), b->c (2), c->sink (1); each holds capacity / 64 records. Add one
    // record in the hand of each node (the source's pending write, a stage function's call).
    const ringSlots = 6 * (ringCapacity / 64);
    expect(maxInFlight).toBeLessThanOrEqual(ringSlots + 6);
    // And the pipeline did fill up (the bound is not vacuous).
    expect(maxInFlight).toBeGreaterThan(ringCapacity / 64);
    expect(queueSamples).toBeGreaterThan(0);
    expect(maxQueueRecords).toBeGreaterThan(0);
  });
});
