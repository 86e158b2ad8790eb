/**
 * Stage lifecycle and in-place output: stages that write through their context (claim/commit,
 * write), init/end hooks with per-worker state, batch handlers, failures and aborts inside the hooks,
 * a heap-growth check of the worker machinery, and oversubscribed runs (more threads than cores).
 * Every record is checked: each stage verifies its input's payload and type (seeded stream), and the
 * sink checks the exact sequence. No timing assertions. Workers run dist/: build first.
 */
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { Pipeline, runPipeline, type PipelineOptions, type SourceWriter, type StageDescriptor } from '../src/pipeline/index.js';
// @ts-expect-error -- plain JS fixture shared with the workers
import { checkSink, reshaped } from './fixtures/stages/seeded.mjs';
// @ts-expect-error -- plain JS fixture shared with the workers
import { SUMMARY_LENGTH, SUMMARY_TYPE } from './fixtures/stages/lifecycle.mjs';
import { failure, seededSource } from './support/pipeline.js';
import { NODE_CURRENT_INDEX, NODE_SLOT_LENGTH, RING_READ, RING_WRITTEN, ringStatsIndex, statsBufferLength } from '../src/pipeline/stats.js';

const seeded = new URL('./fixtures/stages/seeded.mjs', import.meta.url);
const lifecycle = new URL('./fixtures/stages/lifecycle.mjs', import.meta.url);

afterEach(() => {
  expect(Pipeline.liveThreads()).toBe(0);
  expect(Pipeline.liveRings()).toBe(0);
});

/** A sink that checks the sink sees exactly reshape(0 .. count-1), or the plain scrambled sequence. */
function sequenceSink(count: number, reshapedStream: boolean) {
  let nextSource = 0;
  let expected: Array<[number, boolean]> = [];
  const state = { received: 0, mismatch: undefined as string | undefined, summaries: [] as Array<[number, number, number]> };
  const sink: PipelineOptions['sink'] = (data, type) => {
    if (type === SUMMARY_TYPE && data.length === SUMMARY_LENGTH) {
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      state.summaries.push([view.getUint32(0, true), view.getUint32(4, true), view.getUint32(8, true)]);
      return;
    }
    if (state.summaries.length > 0) state.mismatch ??= `record after a summary at ${state.received}`;
    const [n, echo] = checkSink(data, type) as [number, boolean];
    if (reshapedStream) {
      while (expected.length === 0 && nextSource < count) expected = reshaped(nextSource++);
    } else {
      expected = nextSource < count ? [[nextSource++, false]] : [];
    }
    const next = expected.shift();
    if (next === undefined || n !== next[0] || echo !== next[1]) state.mismatch ??= `record ${state.received}: got ${n}/${echo}, expected ${String(next)}`;
    state.received++;
  };
  const rest = (): number => {
    let left = expected.length;
    while (nextSource < count) left += reshapedStream ? reshaped(nextSource++).length : (nextSource++, 1);
    return left;
  };
  return { sink, state, rest };
}

describe('in-place output through the context', () => {
  it.each([
    ['one worker per stage', 1],
    ['multi-worker ordered stages', 2],
  ])('claim/commit and write, with drops and expansions: the exact sequence (%s)', async (_label, workers) => {
    const count = 200_000;
    const check = sequenceSink(count, true);
    const result = await runPipeline({
      source: seededSource(count),
      stages: [
        { name: 'scramble', module: lifecycle, export: 'scrambleInPlace', workers },
        { name: 'reshape', module: lifecycle, export: 'reshapeInPlace', workers },
        { name: 'after', module: seeded, export: 'verifyReshaped', workers: 3 },
      ],
      ringCapacity: 4096,
      sink: check.sink,
    });
    expect(check.state.mismatch).toBeUndefined();
    expect(check.rest()).toBe(0);
    expect(result.stages.map((stage) => stage.recordsIn)).toEqual([count, count, result.stages[2].recordsIn]);
    expect(result.stages[1].recordsOut).toBe(check.state.received);
  });

  it('returning a reused buffer is copied at once: the exact sequence', async () => {
    const count = 100_000;
    const check = sequenceSink(count, false);
    await runPipeline({
      source: seededSource(count),
      stages: [
        { name: 'scramble', module: lifecycle, export: 'scrambleReused', workers: 2 },
        { name: 'check', module: seeded, export: 'verifyScrambled' },
      ],
      ringCapacity: 4096,
      sink: check.sink,
    });
    expect(check.state.mismatch).toBeUndefined();
    expect(check.rest()).toBe(0);
  });

  it('allocates nothing per record in the worker machinery (heap flat over 400,000 in-place records)', async () => {
    const result = new Float64Array(new SharedArrayBuffer(8));
    result[0] = NaN;
    await runPipeline({
      source: seededSource(600_000),
      stages: [{ name: 'probe', module: lifecycle, export: 'heapProbe', options: { from: 100_000, to: 500_000, result: result.buffer } }],
      sink: () => {},
    });
    expect(result[0], 'the worker has gc (vitest runs with --expose-gc, workers inherit it)').not.toBe(-1);
    // One 16-byte object per record would be 6.4 MB.
    expect(result[0]).toBeLessThan(1024 * 1024);
  });
});

describe('init and end hooks', () => {
  it.each([1, 3])('init gives each worker its state; end writes a summary after every record (%i workers)', async (workers) => {
    const count = 50_000;
    const check = sequenceSink(count, false);
    await runPipeline({
      source: seededSource(count),
      stages: [
        { name: 'scramble', module: seeded, export: 'scramble', workers: 2 },
        { name: 'count', module: lifecycle, export: 'counting', workers, options: { tag: 'counting' } },
      ],
      ringCapacity: 4096,
      sink: check.sink,
    });
    expect(check.state.mismatch).toBeUndefined();
    expect(check.rest()).toBe(0);
    // One summary per worker, in worker order (each is one more item), covering every record once.
    expect(check.state.summaries.map(([worker]) => worker).sort()).toEqual([...Array(workers).keys()]);
    expect(check.state.summaries.reduce((total, [, seen]) => total + seen, 0)).toBe(count);
    const sum = check.state.summaries.reduce((total, [, , partial]) => (total + partial) >>> 0, 0);
    expect(sum).toBe(((count * (count - 1)) / 2) % 2 ** 32);
  });

  it('the end hook of an unordered stage writes its summary too', async () => {
    const count = 20_000;
    const summaries: number[] = [];
    let records = 0;
    await runPipeline({
      source: seededSource(count),
      stages: [
        { name: 'scramble', module: seeded, export: 'scramble', workers: 2, ordered: false },
        { name: 'count', module: lifecycle, export: 'counting', workers: 2, options: { tag: 'counting' } },
      ],
      sink: (data, type) => {
        if (type === SUMMARY_TYPE && data.length === SUMMARY_LENGTH) summaries.push(new DataView(data.buffer, data.byteOffset).getUint32(4, true));
        else records++;
      },
    });
    expect(records).toBe(count);
    expect(summaries.reduce((a, b) => a + b, 0)).toBe(count);
    expect(summaries).toHaveLength(2);
  });
});

describe('batch handlers', () => {
  it.each([
    ['batch: true on a function', { export: 'scrambleBatch', batch: true }],
    ['a definition with batch and end', { export: 'scrambleBatchDefinition' }],
  ])('%s: every record in order, several workers', async (_label, descriptor) => {
    const count = 200_000;
    const check = sequenceSink(count, true);
    const result = await runPipeline({
      source: seededSource(count),
      stages: [
        { name: 'scramble', module: lifecycle, workers: 2, ...descriptor } as StageDescriptor,
        { name: 'reshape', module: seeded, export: 'reshape' },
      ],
      ringCapacity: 8192,
      sink: check.sink,
    });
    expect(check.state.mismatch).toBeUndefined();
    expect(check.rest()).toBe(0);
    expect(result.stages[0].recordsOut).toBe(count);
  });

  it('a single-ring batch stage sees batches of more than one record', async () => {
    const count = 100_000;
    const check = sequenceSink(count, false);
    const largest = new Int32Array(new SharedArrayBuffer(4));
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const source = seededSource(count) as (writer: SourceWriter) => Promise<void>;
    // The stage's init waits for the gate, which opens once 1000 records (< the ring) are written:
    // its first polls find records waiting, whatever the scheduling.
    let written = 0;
    await runPipeline({
      source: (writer) =>
        source({
          ...writer,
          signal: writer.signal,
          write(data, type) {
            const pending = writer.write(data, type);
            if (++written === 1000) {
              Atomics.store(gate, 0, 1);
              Atomics.notify(gate, 0);
            }
            return pending;
          },
        }),
      stages: [{ name: 'scramble', module: lifecycle, export: 'scrambleBatchMeasured', options: { largest: largest.buffer, gate: gate.buffer } }],
      sink: check.sink,
      batchRecords: 64,
    });
    expect(check.state.mismatch).toBeUndefined();
    expect(check.rest()).toBe(0);
    expect(largest[0]).toBeGreaterThan(1);
    expect(largest[0]).toBeLessThanOrEqual(64);
  });
});

describe('failures and aborts in hooks', () => {
  const stagesWith = (fault: string, extra: object = {}): StageDescriptor[] => [
    { name: 'first', module: seeded, export: 'verify' },
    { name: 'hooked', module: lifecycle, export: 'faulty', workers: 2, options: { fault, ...extra } },
    { name: 'last', module: seeded, export: 'verify' },
  ];

  it.each([
    ['init-throws', 'ERR_STAGE_INIT', /stage 'hooked' \(worker \d\) init threw: planted init failure/],
    ['end-throws', 'ERR_STAGE_END', /stage 'hooked' \(worker \d\) end hook threw: planted end failure after \d+ records/],
    ['end-uncommitted', 'ERR_BAD_OUTPUT', /stage 'hooked' \(worker \d\) returned from its end hook with a claim\(\) it did not commit\(\)/],
  ])('%s: %s naming the stage', async (fault, code, message) => {
    const pipeline = new Pipeline({ source: seededSource(1000), stages: stagesWith(fault), sink: () => {} });
    const error = await failure(pipeline);
    expect(error.code).toBe(code);
    expect(error.stage).toBe('hooked');
    expect(error.recordIndex).toBe(-1);
    expect(error.message).toMatch(message);
    expect(pipeline.threads).toBe(0);
  });

  it('a batch handler that throws names the stage and the record', async () => {
    const pipeline = new Pipeline({
      source: seededSource(5000),
      stages: [{ name: 'batched', module: lifecycle, export: 'batchThrowsAt', batch: true, options: { faultAt: 3210 } }],
      sink: () => {},
    });
    const error = await failure(pipeline);
    expect(error.code).toBe('ERR_STAGE_FAILED');
    expect(error.stage).toBe('batched');
    expect(error.recordIndex).toBe(3210);
    expect(error.message).toMatch(/threw on source record 3210 \(in a batch\): planted batch failure at 3210/);
  });

  it('a claim without commit names the stage and the record', async () => {
    const pipeline = new Pipeline({
      source: seededSource(5000),
      stages: [{ name: 'forgetful', module: lifecycle, export: 'forgetsCommitAt', workers: 2, options: { faultAt: 77 } }],
      sink: () => {},
    });
    const error = await failure(pipeline);
    expect(error.code).toBe('ERR_BAD_OUTPUT');
    expect(error.stage).toBe('forgetful');
    expect(error.recordIndex).toBe(77);
    expect(error.message).toMatch(/returned for record 77 with a claim\(\) it did not commit\(\)/);
  });

  it.each(['init-stuck', 'end-stuck'])('stuck in a hook (%s), then aborted: rejects with the reason, every thread gone', async (fault) => {
    const stuck = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const pipeline = new Pipeline({
      source: seededSource(1000),
      stages: stagesWith(fault, { stuck: stuck.buffer }),
      sink: () => {},
      signal: controller.signal,
    });
    const settled = pipeline.run().then(
      () => 'resolved',
      (reason: unknown) => reason,
    );
    await Atomics.waitAsync(stuck, 0, 0).value;
    controller.abort();
    const reason = await settled;
    expect((reason as Error).name).toBe('AbortError');
    expect(pipeline.threads).toBe(0);
    expect(pipeline.stats().state).toBe('aborted');
  });
});

describe('more busy threads than cores', () => {
  it('the default spin parks at once when oversubscribed, and every record arrives checked', async () => {
    const count = 200_000;
    const check = sequenceSink(count, true);
    const pipeline = new Pipeline({
      source: seededSource(count),
      stages: [
        { name: 'scramble', module: lifecycle, export: 'scrambleInPlace', workers: 2 },
        { name: 'reshape', module: lifecycle, export: 'reshapeInPlace', workers: 2 },
        { name: 'after', module: seeded, export: 'verifyReshaped', workers: 2 },
      ],
      ringCapacity: 4096,
      sink: check.sink,
    });
    const result = await pipeline.run();
    expect(check.state.mismatch).toBeUndefined();
    expect(check.rest()).toBe(0);
    // 6 workers + the calling thread: more than the cores of any machine this runs on, or a spin budget.
    if (7 > availableParallelism()) expect(result.spin).toBe(0);
    else expect(result.spin).toBeGreaterThan(0);
  });
});

describe('the stats block', () => {
  it("keeps every thread's counters off the cache lines of the others (>= 64 bytes apart, whatever the alignment)", () => {
    const layout = { nodes: 5, rings: 4 };
    // [first double, last double] of each thread's counters: one slot per node, and per ring the
    // producer's written counter and the consumer's read counter.
    const ranges: Array<[number, number]> = [];
    for (let node = 0; node < layout.nodes; node++) ranges.push([node * NODE_SLOT_LENGTH, node * NODE_SLOT_LENGTH + NODE_CURRENT_INDEX]);
    for (let ring = 0; ring < layout.rings; ring++) {
      for (const counter of [RING_WRITTEN, RING_READ]) ranges.push([ringStatsIndex(layout, ring) + counter, ringStatsIndex(layout, ring) + counter]);
    }
    const bytes = statsBufferLength(layout);
    for (const [first, last] of ranges) expect((last + 1) * 8).toBeLessThanOrEqual(bytes);
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect((ranges[i][0] - ranges[i - 1][1]) * 8).toBeGreaterThanOrEqual(64);
  });
});
