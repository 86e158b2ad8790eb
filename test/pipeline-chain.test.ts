/**
 * In-place chains (stage option inPlace): every stage changes its records where they lie in one
 * ring (src/pipeline/chain.ts). Every record is checked at every stage and in the sink (seeded
 * stream: index, type, length and every payload byte), over many laps of a small ring; failures
 * name the stage and the record; a stage that writes over a header is caught by the next one;
 * shapes that cannot be one ring are refused. Also batch sinks ({ batch }), after a chain and after
 * copying stages. No timing assertions. Workers run dist/: build first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Pipeline, runPipeline, type StageDescriptor } from '../src/pipeline/index.js';
// @ts-expect-error -- plain JS fixture shared with the workers
import { MAX_LENGTH, SCRAMBLE, sourceRecord } from './fixtures/stages/seeded.mjs';
import { failure, seededSource } from './support/pipeline.js';

const chain = new URL('./fixtures/stages/chain.mjs', import.meta.url);

afterEach(() => {
  expect(Pipeline.liveThreads()).toBe(0);
  expect(Pipeline.liveRings()).toBe(0);
});

/** A sink that checks record n arrives n-th with every payload byte XOR key. */
function keyedSink(key: number) {
  const state = { received: 0, mismatch: undefined as string | undefined };
  const sink = (data: Uint8Array, type: number): void => {
    const n = state.received++;
    const expected = sourceRecord(n) as Uint8Array;
    if (type !== n % 0xffff) state.mismatch ??= `record ${n}: type ${type}`;
    if (data.length !== expected.length) state.mismatch ??= `record ${n}: ${data.length} bytes, expected ${expected.length}`;
    for (let k = 0; k < expected.length; k++) {
      const want = k < 4 ? expected[k] : expected[k] ^ key;
      if (data[k] !== want) {
        state.mismatch ??= `record ${n}: byte ${k} is ${data[k]}, expected ${want}`;
        break;
      }
    }
  };
  return { sink, state };
}

const stage = (name: string, exportName: string, extra: Partial<StageDescriptor> = {}): StageDescriptor =>
  ({ name, module: chain, export: exportName, inPlace: true, ...extra }) as StageDescriptor;

// 50,000 records of 4 .. 44 bytes through a 4 KiB ring: hundreds of laps, wraps with padding.
const COUNT = 50_000;
const SMALL_RING = { ringCapacity: 4096, maxRecordLength: 4 + MAX_LENGTH };

describe('in-place chains: every record, every stage', () => {
  it.each([
    ['record functions', [stage('check', 'check'), stage('scramble', 'scramble'), stage('verify', 'checkScrambled')]],
    ['batch handlers', [stage('check', 'checkBatch', { batch: true }), stage('scramble', 'scrambleBatch', { batch: true }), stage('verify', 'checkScrambledBatch', { batch: true })]],
    ['one stage', [stage('scramble', 'scramble')]],
  ])('%s: the sink sees every record changed once, in order, across many laps', async (_label, stages) => {
    const { sink, state } = keyedSink(SCRAMBLE);
    const result = await runPipeline({ ...SMALL_RING, stages, source: seededSource(COUNT), sink, batchRecords: 64 });
    expect(state.mismatch).toBeUndefined();
    expect(state.received).toBe(COUNT);
    for (const s of result.stages) {
      expect(s.recordsIn).toBe(COUNT);
      expect(s.recordsOut).toBe(COUNT);
      // Each stage's queue is the part of the one ring between its cursor and the one before it: empty at the end.
      expect(s.queue).toMatchObject({ rings: 1, bytes: 0, records: 0 });
    }
    expect(result.sink.queue).toMatchObject({ rings: 1, bytes: 0, records: 0 });
    expect(result.sink.recordsIn).toBe(COUNT);
  });

  it('init gives the stage its state, records see their source index, end runs after the last record', async () => {
    const { sink, state } = keyedSink(0x3c);
    await runPipeline({
      ...SMALL_RING,
      stages: [stage('check', 'check'), stage('keyed', 'keyed', { options: { key: 0x3c, count: COUNT } })],
      source: seededSource(COUNT),
      sink,
    });
    expect(state.mismatch).toBeUndefined();
    expect(state.received).toBe(COUNT);
  });

  it('oversubscribed (spin 0 and spin 2000, 4 threads and more than the cores): every record checked', async () => {
    for (const spin of [0, 2000]) {
      const { sink, state } = keyedSink(SCRAMBLE);
      await runPipeline({
        ...SMALL_RING,
        spin,
        stages: [stage('a', 'check'), stage('b', 'check'), stage('c', 'scramble'), stage('d', 'checkScrambled')],
        source: seededSource(20_000),
        sink,
      });
      expect(state.mismatch).toBeUndefined();
      expect(state.received).toBe(20_000);
    }
  });
});

describe('in-place chains: failures', () => {
  it.each([
    ['a record function', 'throwAt', false],
    ['a batch handler', 'throwAtBatch', true],
  ])('%s that throws names the stage and the source record', async (_label, exportName, batch) => {
    const error = await failure(
      new Pipeline({
        ...SMALL_RING,
        stages: [stage('check', 'check'), stage('picky', exportName as string, { batch: batch as boolean, options: { at: 3210 } })],
        source: seededSource(COUNT),
        sink: () => {},
      }),
    );
    expect(error.code).toBe('ERR_STAGE_FAILED');
    expect(error.stage).toBe('picky');
    expect(error.recordIndex).toBe(3210);
    expect(error.message).toMatch(/threw on source record 3210.*refused record 3210/);
  });

  it('a stage that writes over a record header is stopped by the next stage, with the field and value', async () => {
    const error = await failure(
      new Pipeline({
        ...SMALL_RING,
        stages: [stage('vandal', 'corruptHeader', { options: { at: 777 } }), stage('check', 'check')],
        source: seededSource(COUNT),
        sink: () => {},
      }),
    );
    expect(error.code).toBe('ERR_STAGE_RING');
    expect(error.stage).toBe('check');
    expect(error.message).toMatch(/record length 2147483647 .* is invalid/);
  });

  it.each([
    ['returns a new array', 'returnsCopy', /returned a value for source record 0/],
    ['writes through its context', 'writes', /cannot write new ones/],
  ])('a stage that %s is refused (ERR_BAD_OUTPUT)', async (_label, exportName, message) => {
    const error = await failure(new Pipeline({ ...SMALL_RING, stages: [stage('odd', exportName as string)], source: seededSource(100), sink: () => {} }));
    expect(error.code).toBe('ERR_BAD_OUTPUT');
    expect(error.stage).toBe('odd');
    expect(error.message).toMatch(message as RegExp);
  });

  it('an end hook that throws: ERR_STAGE_END naming the stage', async () => {
    const error = await failure(new Pipeline({ ...SMALL_RING, stages: [stage('ender', 'endThrows')], source: seededSource(100), sink: () => {} }));
    expect(error.code).toBe('ERR_STAGE_END');
    expect(error.stage).toBe('ender');
    expect(error.message).toMatch(/end hook threw: end hook failed on purpose/);
  });

  it('abort while records flow: rejects with the reason, every thread and ring gone', async () => {
    let written = 0;
    const pipeline = new Pipeline({
      ...SMALL_RING,
      stages: [stage('check', 'check'), stage('scramble', 'scramble')],
      source: async (out) => {
        for (let n = 0; ; n++) {
          const pending = out.write(sourceRecord(n), n % 0xffff);
          if (pending !== undefined) await pending;
          if (++written === 5000) pipeline.abort(new Error('enough'));
          if (out.signal.aborted) return;
        }
      },
      sink: () => {},
    });
    await expect(pipeline.run()).rejects.toThrow('enough');
  });

  it.each([
    ['a stage that is not in place', [stage('a', 'check'), { name: 'b', module: chain, export: 'check' }], /'b' is not in place/],
    ['two workers', [stage('a', 'check'), stage('b', 'check', { workers: 2 })], /'b' has 2 workers/],
    ['a process stage', [stage('a', 'check'), { name: 'p', command: ['true', '{input}', '{output}'], inPlace: true }], /'p': a process stage cannot be in place/],
  ])('refuses an in-place stage next to %s (ERR_BAD_ARGUMENT)', async (_label, stages, message) => {
    const error = await runPipeline({ stages: stages as StageDescriptor[], source: [], sink: () => {} }).then(
      () => undefined,
      (reason: unknown) => reason as { code: string; message: string },
    );
    expect(error?.code).toBe('ERR_BAD_ARGUMENT');
    expect(error?.message).toMatch(message as RegExp);
  });
});

/** A batch sink ({ batch }) that checks record n arrives n-th with every payload byte XOR key, read in place. */
function keyedBatchSink(key: number) {
  const { sink, state } = keyedSink(key);
  const batches = { count: 0, records: 0 };
  return {
    sink: {
      batch(batch: { next(): boolean; buffer: Uint8Array; offset: number; length: number; type: number; count: number }) {
        batches.count++;
        batches.records += batch.count;
        while (batch.next()) sink(batch.buffer.subarray(batch.offset, batch.offset + batch.length), batch.type);
      },
    },
    state,
    batches,
  };
}

describe('batch sinks ({ batch })', () => {
  it.each([
    ['an in-place chain', [stage('scramble', 'scramble')], SCRAMBLE],
    ['a copying stage', [{ name: 'copy', module: new URL('./fixtures/stages/seeded.mjs', import.meta.url), export: 'verify' }], 0],
    ['a last stage of three workers (three sink rings)', [{ name: 'copy', module: new URL('./fixtures/stages/seeded.mjs', import.meta.url), export: 'verify', workers: 3 }], 0],
  ])('after %s: every record, in order, in batches', async (_label, stages, key) => {
    const { sink, state, batches } = keyedBatchSink(key as number);
    await runPipeline({ ...SMALL_RING, stages: stages as StageDescriptor[], source: seededSource(COUNT), sink });
    expect(state.mismatch).toBeUndefined();
    expect(state.received).toBe(COUNT);
    expect(batches.records).toBe(COUNT);
    expect(batches.count).toBeGreaterThan(0);
  });

  it('one sink ring: batches of more than one record', async () => {
    const { sink, batches } = keyedBatchSink(SCRAMBLE);
    await runPipeline({ ...SMALL_RING, stages: [stage('scramble', 'scramble')], source: seededSource(COUNT), sink });
    expect(batches.count).toBeLessThan(COUNT);
  });

  it('a batch sink that throws names the record; one that returns a Promise is refused', async () => {
    const thrower = await failure(
      new Pipeline({
        ...SMALL_RING,
        stages: [stage('check', 'check')],
        source: seededSource(COUNT),
        sink: {
          batch(batch) {
            while (batch.next()) if (batch.index === 4321) throw new Error('sink refuses 4321');
          },
        },
      }),
    );
    expect(thrower.code).toBe('ERR_SINK_FAILED');
    expect(thrower.recordIndex).toBe(4321);
    expect(thrower.message).toMatch(/sink threw on record 4321 \(in a batch\): sink refuses 4321/);
    const promised = await failure(
      new Pipeline({
        ...SMALL_RING,
        stages: [stage('check', 'check')],
        source: seededSource(100),
        sink: { batch: (async () => {}) as unknown as () => void },
      }),
    );
    expect(promised.code).toBe('ERR_SINK_FAILED');
    expect(promised.message).toMatch(/synchronous and returns nothing; it returned a Promise/);
    expect(promised.recordIndex).toBe(-1);
  });
});
