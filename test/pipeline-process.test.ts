/**
 * Process stages: a pipeline stage that is another process (a Node script, the Go peer's
 * `shmring relay`) joined to its neighbours by two ring files in /dev/shm. Seeded records are
 * checked one by one, in order, after crossing worker -> process -> worker; and a process that
 * fails (non-zero exit, missing executable, no end of stream, stuck until aborted) rejects the run
 * naming the stage, with no worker thread, ring file, mapping or child process left behind.
 * Workers and the Node fixture run the compiled dist/ code: run `npx tsc -p tsconfig.json` first.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RingFile } from '../src/file.js';
import { Pipeline, type PipelineOptions, type PipelineResult, type StageDescriptor } from '../src/pipeline/index.js';
// @ts-expect-error -- plain JS fixture shared with the workers
import { checkSink, recordType, sourceRecord } from './fixtures/stages/seeded.mjs';
import { failure, seededSource } from './support/pipeline.js';

const seeded = new URL('./fixtures/stages/seeded.mjs', import.meta.url);
const nodeStage = fileURLToPath(new URL('./fixtures/stages/process-stage.mjs', import.meta.url));
const goCli = fileURLToPath(new URL('../go-peer/bin/shmring', import.meta.url));
const RECORDS = 200_000;

/** A Node process stage running the fixture with `flags`. */
function nodeProcess(name: string, ...flags: string[]): StageDescriptor {
  return { name, command: [process.execPath, nodeStage, '{input}', '{output}', ...flags] };
}

/** Ring files this test process's pipelines have in /dev/shm now. */
function ownRingFiles(): string[] {
  return readdirSync('/dev/shm').filter((name) => name.startsWith(`shmring-pipeline-${process.pid}-`));
}

/** Sink that checks every record is the next seeded record (scrambled); `onRecord` sees each n. */
function orderedSink(onRecord?: (n: number) => void): { sink: PipelineOptions['sink']; received: () => number; mismatch: () => string | undefined } {
  let next = 0;
  let mismatch: string | undefined;
  return {
    sink: (data, type) => {
      const [n, echo] = checkSink(data, type) as [number, boolean];
      if (echo || n !== next) mismatch ??= `sink record ${next}: got ${n}${echo ? ' (echo)' : ''}`;
      next++;
      onRecord?.(n);
    },
    received: () => next,
    mismatch: () => mismatch,
  };
}

let mappingsAtStart = 0;

beforeEach(() => {
  mappingsAtStart = RingFile.liveMappings();
});

/**
 * Mappings still alive once everything unreachable is collected. A mapping is unmapped when V8 frees
 * its SharedArrayBuffer's backing store, which V8's array-buffer sweeper does after the collection,
 * off the main thread: give it event-loop turns (a bounded number; no clock involved).
 */
async function collectedMappings(expected: number): Promise<number> {
  for (let turn = 0; turn < 200; turn++) {
    global.gc!();
    if (RingFile.liveMappings() === expected) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return RingFile.liveMappings();
}

afterEach(async () => {
  // Every pipeline of the test has settled: nothing may be left behind, in this process or /dev/shm.
  expect(Pipeline.liveThreads()).toBe(0);
  expect(Pipeline.liveRings()).toBe(0);
  expect(ownRingFiles()).toEqual([]);
  // No ring memory is referenced any more, in this thread or in a (terminated) worker's.
  expect(await collectedMappings(mappingsAtStart)).toBe(mappingsAtStart);
});

/** Every process of the pipeline has exited and was reaped (its pid is gone). */
function expectProcessesGone(stats: PipelineResult): void {
  for (const stage of stats.stages) {
    if (stage.process?.pid === undefined) continue;
    expect(() => process.kill(stage.process!.pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  }
}

function expectAllGone(pipeline: Pipeline): void {
  expect(pipeline.threads).toBe(0);
  expect(Pipeline.liveThreads()).toBe(0);
  expect(Pipeline.liveRings()).toBe(0);
  expect(['failed', 'aborted']).toContain(pipeline.stats().state);
  expectProcessesGone(pipeline.stats());
}

describe('records through a process stage, every one checked in order', () => {
  it('worker -> Node process -> worker: the process scrambles, the next worker checks each record', async () => {
    const check = orderedSink();
    const pipeline = new Pipeline({
      source: seededSource(RECORDS),
      stages: [{ name: 'verify', module: seeded, export: 'verify' }, nodeProcess('node-scramble', '--scramble'), { name: 'check', module: seeded, export: 'verifyScrambled' }],
      sink: check.sink,
      ringCapacity: 64 * 1024,
    });
    const result = await pipeline.run();
    expect(check.mismatch()).toBeUndefined();
    expect(check.received()).toBe(RECORDS);
    expect(result.state).toBe('done');
    expect(result.stages.map((stage) => [stage.name, stage.recordsIn, stage.recordsOut])).toEqual([
      ['verify', RECORDS, RECORDS],
      ['node-scramble', RECORDS, RECORDS],
      ['check', RECORDS, RECORDS],
    ]);
    expect(result.stages[1].process).toMatchObject({ exitCode: 0 });
    expect(result.stages[1].process!.pid).toBeGreaterThan(0);
    expect(result.sink.recordsIn).toBe(RECORDS);
    expectProcessesGone(result);
  });

  describe.skipIf(!existsSync(goCli))('a Go process stage (go-peer/bin/shmring relay; build it with node scripts/build-go.mjs)', () => {
    it('worker -> Go relay -> worker: every scrambled record crosses Go and is checked after it', async () => {
      const check = orderedSink();
      const result = await new Pipeline({
        source: seededSource(RECORDS),
        stages: [
          { name: 'scramble', module: seeded, export: 'scramble' },
          { name: 'go', command: [goCli, 'relay', '{input}', '{output}'] },
          { name: 'check', module: seeded, export: 'verifyScrambled' },
        ],
        sink: check.sink,
        ringCapacity: 64 * 1024,
      }).run();
      expect(check.mismatch()).toBeUndefined();
      expect(check.received()).toBe(RECORDS);
      expect(result.stages.map((stage) => [stage.name, stage.recordsIn, stage.recordsOut])).toEqual([
        ['scramble', RECORDS, RECORDS],
        ['go', RECORDS, RECORDS],
        ['check', RECORDS, RECORDS],
      ]);
      expect(result.stages[1].process).toMatchObject({ exitCode: 0 });
      expectProcessesGone(result);
    });

    it('source -> Node process -> Go relay -> sink: ring files on the calling thread, two processes in a row', async () => {
      const check = orderedSink();
      const result = await new Pipeline({
        source: seededSource(RECORDS / 4),
        stages: [nodeProcess('node-scramble', '--scramble'), { name: 'go', command: [goCli, 'relay', '{input}', '{output}', '--spin', '0'] }],
        sink: check.sink,
        ringCapacity: 16 * 1024,
      }).run();
      expect(check.mismatch()).toBeUndefined();
      expect(check.received()).toBe(RECORDS / 4);
      expect(result.stages.map((stage) => stage.process?.exitCode)).toEqual([0, 0]);
    });
  });
});

describe('a process stage that fails', () => {
  /** worker -> process -> worker, with records flowing when the process fails. */
  function around(processStage: StageDescriptor, options: Partial<PipelineOptions> = {}): Pipeline {
    return new Pipeline({
      source: seededSource(RECORDS),
      stages: [{ name: 'verify', module: seeded, export: 'verify' }, processStage, { name: 'check', module: seeded, export: 'verifyScrambled' }],
      sink: orderedSink().sink,
      ringCapacity: 16 * 1024,
      ...options,
    });
  }

  it('exits non-zero mid-stream: ERR_PROCESS_EXIT naming the stage, the code and what it said', async () => {
    const pipeline = around(nodeProcess('node-scramble', '--scramble', '--exit-at', '5000', '3'));
    const error = await failure(pipeline);
    expect(error.code).toBe('ERR_PROCESS_EXIT');
    expect(error.stage).toBe('node-scramble');
    expect(error.stageIndex).toBe(1);
    expect(error.message).toContain("stage 'node-scramble'");
    expect(error.message).toContain('exited with code 3');
    expect(error.message).toContain('exiting with 3 at record 5000');
    expect(pipeline.stats().stages[1].process).toMatchObject({ exitCode: 3 });
    expectAllGone(pipeline);
  });

  it('exits 0 without ending its output: ERR_PROCESS_EXIT (a truncated stream is not an end)', async () => {
    const pipeline = around(nodeProcess('node-scramble', '--scramble', '--no-end'), { source: seededSource(1000) });
    const error = await failure(pipeline);
    expect(error.code).toBe('ERR_PROCESS_EXIT');
    expect(error.stage).toBe('node-scramble');
    expect(error.message).toContain('without ending its output ring');
    expectAllGone(pipeline);
  });

  it('a missing executable (ENOENT): ERR_PROCESS_SPAWN naming the stage and the command', async () => {
    const missing = fileURLToPath(new URL('./fixtures/stages/no-such-program', import.meta.url));
    const pipeline = around({ name: 'missing', command: [missing, '{input}', '{output}'] });
    const error = await failure(pipeline);
    expect(error.code).toBe('ERR_PROCESS_SPAWN');
    expect(error.stage).toBe('missing');
    expect(error.message).toContain("stage 'missing'");
    expect(error.message).toContain(missing);
    expect(error.message).toContain('ENOENT');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    expectAllGone(pipeline);
  });

  it('never ends its stream: an AbortSignal stops it; the process is killed, workers parked on futexes exit', async () => {
    const HANG_AT = 3000;
    const controller = new AbortController();
    // The sink aborts once it has the last record the process will ever write: from then on
    // the process is stuck, the check worker is parked on the process's output ring and the
    // verify worker (or the source) parks on its full input ring.
    const check = orderedSink((n) => {
      if (n === HANG_AT - 1) controller.abort(new Error('stuck process stage'));
    });
    const pipeline = around(nodeProcess('node-scramble', '--scramble', '--hang-at', String(HANG_AT)), { sink: check.sink, signal: controller.signal });
    const error = await pipeline.run().then(
      () => undefined,
      (reason: unknown) => reason as Error,
    );
    expect(error?.message).toBe('stuck process stage');
    expect(check.mismatch()).toBeUndefined();
    expect(check.received()).toBe(HANG_AT);
    expect(pipeline.stats().state).toBe('aborted');
    expect(pipeline.stats().stages[1].process).toMatchObject({ exitCode: null });
    expectAllGone(pipeline);
  });

  it.skipIf(!existsSync(goCli))('a Go relay killed mid-stream: ERR_PROCESS_EXIT naming the stage and the signal', async () => {
    // The sink kills the relay while records flow (it has seen record 2000, the source is far ahead).
    let pipeline: Pipeline | undefined;
    const sink = orderedSink((n) => {
      if (n === 2000) process.kill(pipeline!.stats().stages[1].process!.pid!, 'SIGKILL');
    });
    pipeline = new Pipeline({
      source: seededSource(RECORDS),
      stages: [
        { name: 'scramble', module: seeded, export: 'scramble' },
        { name: 'go', command: [goCli, 'relay', '{input}', '{output}'] },
        { name: 'check', module: seeded, export: 'verifyScrambled' },
      ],
      sink: sink.sink,
      ringCapacity: 16 * 1024,
    });
    const error = await failure(pipeline);
    expect(error.code).toBe('ERR_PROCESS_EXIT');
    expect(error.stage).toBe('go');
    expect(error.message).toContain('was killed by SIGKILL');
    expect(sink.mismatch()).toBeUndefined();
    expectAllGone(pipeline);
  });
});

describe('process stage descriptors', () => {
  it('a process next to a multi-worker stage, or a bad command, is refused before anything starts', () => {
    const options = (stages: StageDescriptor[]): PipelineOptions => ({ source: [], stages, sink: () => {} });
    expect(() => new Pipeline(options([{ name: 'wide', module: seeded, export: 'verify', workers: 2 }, nodeProcess('p')]))).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', stage: 'p', message: expect.stringContaining("'wide' has 2") }),
    );
    expect(() => new Pipeline(options([{ name: 'p', command: [] }]))).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', stage: 'p' }));
    expect(() => new Pipeline(options([{ name: 'p', command: ['x', 1] as unknown as string[] }]))).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', stage: 'p' }),
    );
  });
});
