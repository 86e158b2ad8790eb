/**
 * Chaining (pipeline option `chain`): stages that run in the threads of the stage before them, each
 * record handed on by a call instead of a ring. Every pipeline here runs twice, chained and not, and
 * must give the very same sink stream (records, types, order) and per-stage counts: drops, records
 * that become several (framed groups), in-place output, returned views and arrays, batch handlers
 * first and in the middle of a chain, init/end hooks, several workers per stage, and unordered
 * stages. Then failures inside a chain name the stage that failed, and the 'auto' rule's plan.
 */
import { describe, expect, it } from 'vitest';
import { Pipeline, PipelineError, runPipeline, type PipelineOptions, type StageDescriptor } from '../src/pipeline/index.js';
import { chainGroups, type StagePlan } from '../src/pipeline/plan.js';
import { failure, seededSource } from './support/pipeline.js';

const seeded = new URL('./fixtures/stages/seeded.mjs', import.meta.url);
const lifecycle = new URL('./fixtures/stages/lifecycle.mjs', import.meta.url);
const faults = new URL('./fixtures/stages/faults.mjs', import.meta.url);
const chainFixture = new URL('./fixtures/stages/chain.mjs', import.meta.url);

const hex = (data: Uint8Array): string => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');

interface Outcome {
  records: string[];
  counts: Array<[string, number, number]>;
  chainedTo: Array<string | undefined>;
  threadsSeen: number;
}

async function runOnce(stages: StageDescriptor[], count: number, chain: boolean, extra: Partial<PipelineOptions> = {}): Promise<Outcome> {
  const records: string[] = [];
  let threadsSeen = 0;
  const pipeline: Pipeline = new Pipeline({
    source: seededSource(count),
    stages,
    ringCapacity: 4096,
    chain,
    sink: (data, type) => {
      if (records.length === 0) threadsSeen = pipeline.threads;
      records.push(`${type}:${hex(data)}`);
    },
    ...extra,
  });
  const result = await pipeline.run();
  return {
    records,
    counts: result.stages.map((stage) => [stage.name, stage.recordsIn, stage.recordsOut]),
    chainedTo: result.stages.map((stage) => stage.chainedTo),
    threadsSeen,
  };
}

/** Runs `stages` unchained and chained; both must agree record for record (sorted when unordered). */
async function agree(
  stages: StageDescriptor[],
  count: number,
  options: { ordered?: boolean; threads: [number, number]; chainedTo?: Array<string | undefined> },
): Promise<Outcome> {
  const apart = await runOnce(stages, count, false);
  const chained = await runOnce(stages, count, true);
  expect(apart.records.length).toBeGreaterThan(0);
  if (options.ordered === false) {
    expect([...chained.records].sort()).toEqual([...apart.records].sort());
  } else {
    expect(chained.records).toEqual(apart.records);
  }
  expect(chained.counts).toEqual(apart.counts);
  expect(apart.chainedTo.every((name) => name === undefined)).toBe(true);
  expect(chained.chainedTo).toEqual(options.chainedTo ?? stages.map((_, s) => (s === 0 ? undefined : stages[0].name)));
  // Worker threads seen alive by the sink: the stage workers, or the chain's.
  expect(apart.threadsSeen).toBe(options.threads[0]);
  expect(chained.threadsSeen).toBe(options.threads[1]);
  return chained;
}

describe('chained and unchained pipelines give the same stream', () => {
  it('in place, drops and groups, a counting end hook and a stage after the groups', async () => {
    const stages: StageDescriptor[] = [
      { name: 'scramble', module: lifecycle, export: 'scrambleInPlace' },
      { name: 'reshape', module: lifecycle, export: 'reshapeInPlace' },
      { name: 'after', module: seeded, export: 'verifyReshaped' },
      { name: 'count', module: lifecycle, export: 'counting', options: { tag: 'counting' } },
    ];
    const chained = await agree(stages, 3000, { threads: [4, 1] });
    // 3000 records: 429 dropped (n % 7 == 0), 514 echoes (n % 5 == 0 and not n % 7), 1 summary.
    expect(chained.records.length).toBe(3000 - 429 + 514 + 1);
  });

  it('returned views, copies and arrays (reshape), and a batch handler first in the chain', async () => {
    await agree(
      [
        { name: 'scramble', module: lifecycle, export: 'scrambleBatch', batch: true },
        { name: 'reshape', module: seeded, export: 'reshape' },
        { name: 'count', module: lifecycle, export: 'counting', options: { tag: 'counting' } },
      ],
      3000,
      { threads: [3, 1] },
    );
  });

  it('a batch handler in the middle of a chain, and a stage that returns a reused buffer', async () => {
    await agree(
      [
        { name: 'scramble', module: lifecycle, export: 'scrambleReused' },
        { name: 'pass', module: lifecycle, export: 'batchThrowsAt', batch: true, options: { faultAt: -1 } },
        { name: 'reshape', module: lifecycle, export: 'reshapeInPlace' },
        { name: 'count', module: lifecycle, export: 'counting', options: { tag: 'counting' } },
      ],
      3000,
      { threads: [4, 1] },
    );
  });

  it('an end hook whose records go on to a batch handler (gathered by the link) and one more stage', async () => {
    await agree(
      [
        { name: 'scramble', module: seeded, export: 'scramble' },
        { name: 'count', module: lifecycle, export: 'counting', options: { tag: 'counting' } },
        { name: 'pass', module: lifecycle, export: 'batchThrowsAt', batch: true, options: { faultAt: -1 } },
        { name: 'last', module: faults, export: 'identity' },
      ],
      3000,
      { threads: [4, 1] },
    );
  });

  it('two workers per stage: each worker runs the whole chain for its items, end items in order', async () => {
    // Two end hooks in the chain (an empty end item, then a summary): each is one more item per
    // worker, so the second must come one stride after the first, as it would through rings.
    await agree(
      [
        { name: 'scramble', module: lifecycle, export: 'scrambleBatchDefinition', workers: 2 },
        { name: 'reshape', module: lifecycle, export: 'reshapeInPlace', workers: 2 },
        { name: 'count', module: lifecycle, export: 'counting', workers: 2, options: { tag: 'counting' } },
        // Three workers after the chain: its items are routed by number (k mod 3), so an end item
        // numbered wrong would reach the wrong worker.
        { name: 'spread', module: faults, export: 'identity', workers: 3 },
      ],
      3000,
      { threads: [9, 5], chainedTo: [undefined, 'scramble', 'scramble', undefined] },
    );
  });

  it('unordered stages: the same records, in any order', async () => {
    await agree(
      [
        { name: 'scramble', module: seeded, export: 'scramble', workers: 2, ordered: false },
        { name: 'reshape', module: seeded, export: 'reshape', workers: 2 },
        // (No counting end hook: which worker gets which record is not fixed once order is gone.)
        { name: 'after', module: seeded, export: 'verifyReshaped', workers: 2 },
      ],
      3000,
      { ordered: false, threads: [6, 2] },
    );
  });

  it('a stage that changes its input in place gets its own copy, as through a ring', async () => {
    // twice returns the same view two times; flipInPlace flips each record it gets. Handed on by
    // reference, the second record would be the first one flipped back.
    const chained = await agree(
      [
        { name: 'twice', module: chainFixture, export: 'twice' },
        { name: 'flip', module: chainFixture, export: 'flipInPlace' },
      ],
      500,
      { threads: [2, 1] },
    );
    expect(chained.records.length).toBe(1000);
    for (let n = 0; n < 1000; n += 2) expect(chained.records[n + 1]).toBe(chained.records[n]);
  });

  it('only stages with as many workers chain: 1, 1, 2 runs as a chain of two and one stage', async () => {
    const stages: StageDescriptor[] = [
      { name: 'scramble', module: lifecycle, export: 'scrambleInPlace' },
      { name: 'reshape', module: lifecycle, export: 'reshapeInPlace' },
      { name: 'after', module: seeded, export: 'verifyReshaped', workers: 2 },
    ];
    const apart = await runOnce(stages, 2000, false);
    const chained = await runOnce(stages, 2000, true);
    expect(chained.records).toEqual(apart.records);
    expect(chained.chainedTo).toEqual([undefined, 'scramble', undefined]);
    expect(chained.threadsSeen).toBe(3);
  });
});

describe('failures inside a chain name the stage that failed', () => {
  const chainOf = (middle: StageDescriptor): PipelineOptions => ({
    source: seededSource(2000),
    stages: [{ name: 'first', module: faults, export: 'identity' }, middle, { name: 'last', module: faults, export: 'identity' }],
    sink: () => {},
    chain: true,
  });

  it('a stage function that throws', async () => {
    const error = await failure(new Pipeline(chainOf({ name: 'middle', module: faults, export: 'throwAt', options: { faultAt: 700 } })));
    expect(error.code).toBe('ERR_STAGE_FAILED');
    expect(error.stage).toBe('middle');
    expect(error.stageIndex).toBe(1);
    expect(error.recordIndex).toBe(700);
    expect(error.message).toContain("stage 'middle' (worker 0) threw on source record 700: planted failure at 700");
  });

  it('a batch handler that throws inside a chain', async () => {
    const error = await failure(new Pipeline(chainOf({ name: 'middle', module: lifecycle, export: 'batchThrowsAt', batch: true, options: { faultAt: 500 } })));
    expect(error.code).toBe('ERR_STAGE_FAILED');
    expect(error.stage).toBe('middle');
    expect(error.recordIndex).toBe(500);
    expect(error.message).toContain("stage 'middle' (worker 0) threw on source record 500 (in a batch): planted batch failure at 500");
  });

  it('a failure the stage before catches still fails the pipeline', async () => {
    const options = chainOf({ name: 'middle', module: faults, export: 'throwAt', options: { faultAt: 300 } });
    options.stages[0] = { name: 'first', module: chainFixture, export: 'swallowsDownstream' };
    const error = await failure(new Pipeline(options));
    expect(error.code).toBe('ERR_STAGE_FAILED');
    expect(error.stage).toBe('middle');
    expect(error.recordIndex).toBe(300);
  });

  it('a claim left open, init and end hooks that throw', async () => {
    const open = await failure(new Pipeline(chainOf({ name: 'middle', module: lifecycle, export: 'forgetsCommitAt', options: { faultAt: 50 } })));
    expect(open.code).toBe('ERR_BAD_OUTPUT');
    expect(open.stage).toBe('middle');
    expect(open.message).toContain("stage 'middle' (worker 0) returned for record 50 with a claim() it did not commit()");
    const init = await failure(new Pipeline(chainOf({ name: 'middle', module: lifecycle, export: 'faulty', options: { fault: 'init-throws' } })));
    expect(init.code).toBe('ERR_STAGE_INIT');
    expect(init.stage).toBe('middle');
    const end = await failure(new Pipeline(chainOf({ name: 'middle', module: lifecycle, export: 'faulty', options: { fault: 'end-throws' } })));
    expect(end.code).toBe('ERR_STAGE_END');
    expect(end.stage).toBe('middle');
    expect(end.message).toContain('planted end failure after 2000 records');
  });

  it('a worker that exits names the chain it ran', async () => {
    const error = await failure(new Pipeline(chainOf({ name: 'middle', module: faults, export: 'exitAt', options: { faultAt: 10 } })));
    expect(error.code).toBe('ERR_WORKER_EXIT');
    expect(error.stage).toBe('first');
    expect(error.message).toContain("which runs 'first' -> 'middle' -> 'last'");
  });

  it('a bad chain option is refused', async () => {
    const options = { ...chainOf({ name: 'middle', module: faults, export: 'identity' }), chain: 'yes' as unknown as boolean };
    const error = (await runPipeline(options).catch((reason: unknown) => reason)) as PipelineError;
    expect(error).toBeInstanceOf(PipelineError);
    expect(error.code).toBe('ERR_BAD_ARGUMENT');
    expect(error.message).toContain("chain yes is invalid; expected 'auto', true or false");
  });
});

describe("the 'auto' rule", () => {
  const stage = (workers: number, kind: 'worker' | 'process' = 'worker'): StagePlan => ({
    kind,
    name: '',
    module: '',
    export: '',
    workers,
    ordered: true,
    options: undefined,
    batch: false,
    command: [],
    env: undefined,
    cwd: undefined,
  });

  it('joins the shortest adjacent chains until the threads (workers + 1) fit the cores', () => {
    const three = [stage(1), stage(1), stage(1)];
    expect(chainGroups(three, 'auto', 2)).toEqual([0, 0, 0]);
    expect(chainGroups(three, 'auto', 3)).toEqual([0, 0, 2]);
    expect(chainGroups(three, 'auto', 4)).toEqual([0, 1, 2]);
    expect(chainGroups([stage(1), stage(1), stage(1), stage(1)], 'auto', 3)).toEqual([0, 0, 2, 2]);
    expect(chainGroups(three, false, 1)).toEqual([0, 1, 2]);
    expect(chainGroups(three, true, 64)).toEqual([0, 0, 0]);
  });

  it('never joins stages with different worker counts, nor a process stage', () => {
    expect(chainGroups([stage(2), stage(1), stage(1)], 'auto', 2)).toEqual([0, 1, 1]);
    expect(chainGroups([stage(1), stage(1, 'process'), stage(1)], true, 1)).toEqual([0, 1, 2]);
  });
});
