/**
 * Pipelines that fail or are aborted, at each stage: the promise settles with an error naming the
 * stage (and the record, where there is one), every worker thread has exited and every ring is
 * released. Stuck stages tell the test through a shared word that they are stuck (no sleeps).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Pipeline, PipelineError, runPipeline, type PipelineOptions, type StageDescriptor } from '../src/pipeline/index.js';
import { failure } from './support/pipeline.js';

const faults = new URL('./fixtures/stages/faults.mjs', import.meta.url);
const FAULT_AT = 1234;
const RECORDS = 5000;

/** Record n is [u32 n][12 bytes]: the fault stages recognise their record by n. */
function indexedSource(count = RECORDS): PipelineOptions['source'] {
  return async (out) => {
    const record = new Uint8Array(16);
    const view = new DataView(record.buffer);
    for (let n = 0; n < count; n++) {
      view.setUint32(0, n, true);
      const pending = out.write(record, 1);
      if (pending !== undefined) await pending;
    }
  };
}

/** Three stages (the middle one with two workers); `faulty` runs `fault` at record FAULT_AT. */
function stages(faulty: number, fault: string, options: object = {}): StageDescriptor[] {
  return ['first', 'middle', 'last'].map((name, index) => ({
    name,
    module: faults,
    export: index === faulty ? fault : 'identity',
    workers: index === 1 ? 2 : 1,
    options: { faultAt: FAULT_AT, ...options },
  }));
}

function expectAllGone(pipeline: Pipeline): void {
  expect(pipeline.threads).toBe(0);
  expect(Pipeline.liveThreads()).toBe(0);
  expect(Pipeline.liveRings()).toBe(0);
  expect(['failed', 'aborted']).toContain(pipeline.stats().state);
}

afterEach(() => {
  expect(Pipeline.liveThreads()).toBe(0);
  expect(Pipeline.liveRings()).toBe(0);
});

const STAGE_NAMES = ['first', 'middle', 'last'];

describe.each([0, 1, 2])('stage %i fails', (faulty) => {
  const name = STAGE_NAMES[faulty];

  it('throwing: rejects naming the stage and the source record; the cause is the thrown error', async () => {
    const pipeline = new Pipeline({ source: indexedSource(), stages: stages(faulty, 'throwAt'), sink: () => {} });
    const error = await failure(pipeline);
    expect(error.code).toBe('ERR_STAGE_FAILED');
    expect(error.stage).toBe(name);
    expect(error.stageIndex).toBe(faulty);
    expect(error.recordIndex).toBe(FAULT_AT);
    expect(error.indexKind).toBe('item');
    expect(error.message).toContain(`stage '${name}'`);
    expect(error.message).toContain(`source record ${FAULT_AT}`);
    expect((error.cause as Error).message).toBe(`planted failure at ${FAULT_AT}`);
    expect((error.cause as Error).stack).toContain('throwAt');
    expectAllGone(pipeline);
  });

  it('calling process.exit: rejects with ERR_WORKER_EXIT naming the stage and the record', async () => {
    const pipeline = new Pipeline({ source: indexedSource(), stages: stages(faulty, 'exitAt'), sink: () => {} });
    const error = await failure(pipeline);
    expect(error.code).toBe('ERR_WORKER_EXIT');
    expect(error.stage).toBe(name);
    expect(error.recordIndex).toBe(FAULT_AT);
    expect(error.message).toMatch(/exited with code: 3/);
    expectAllGone(pipeline);
  });

  it.each([
    ['stringAt', 'ERR_BAD_OUTPUT', /returned a string for record 1234/],
    ['promiseAt', 'ERR_BAD_OUTPUT', /returned a Promise \(stage functions must be synchronous\)/],
    ['hugeAt', 'ERR_RECORD_TOO_LONG', /record of 1048576 bytes for record 1234; the next ring holds records of at most 1024 bytes/],
  ])('returning bad output (%s): %s', async (fault, code, message) => {
    const pipeline = new Pipeline({ source: indexedSource(), stages: stages(faulty, fault), sink: () => {}, ringCapacity: 4096 });
    const error = await failure(pipeline);
    expect(error.code).toBe(code);
    expect(error.stage).toBe(name);
    expect(error.recordIndex).toBe(FAULT_AT);
    expect(error.message).toMatch(message);
    expectAllGone(pipeline);
  });

  it.each(['spinAt', 'parkAt'])('stuck (%s), then aborted: settles with the abort reason and terminates every thread', async (fault) => {
    const stuck = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const pipeline = new Pipeline({
      source: indexedSource(),
      stages: stages(faulty, fault, { stuck: stuck.buffer }),
      sink: () => {},
      signal: controller.signal,
    });
    const settled = pipeline.run().then(
      () => 'resolved',
      (reason: unknown) => reason,
    );
    // Wait until the stage announces it is stuck on its record, then abort.
    await Atomics.waitAsync(stuck, 0, 0).value;
    controller.abort();
    const reason = await settled;
    expect(reason).toBe(controller.signal.reason);
    expect((reason as Error).name).toBe('AbortError');
    expectAllGone(pipeline);
    expect(pipeline.stats().state).toBe('aborted');
  });
});

describe('bad stage descriptors', () => {
  it('a module that does not exist: refused before any thread starts', async () => {
    const error = await runPipeline({ source: [], stages: [{ name: 'ghost', module: './no/such/stage.mjs' }], sink: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ code: 'ERR_STAGE_MODULE', stage: 'ghost' });
    expect((error as Error).message).toMatch(/stage 'ghost': module .*no\/such\/stage\.mjs does not exist/);
  });

  it('a module that fails to load (syntax error): ERR_STAGE_MODULE from the worker', async () => {
    const pipeline = new Pipeline({
      source: indexedSource(10),
      stages: [{ name: 'broken', module: 'data:text/javascript,export default (', workers: 2 }],
      sink: () => {},
    });
    const error = await failure(pipeline);
    expect(error).toMatchObject({ code: 'ERR_STAGE_MODULE', stage: 'broken', recordIndex: -1 });
    expect(error.message).toMatch(/stage 'broken' \(worker \d\): cannot load module data:/);
    expectAllGone(pipeline);
  });

  it.each([
    ['notAFunction', /no function export 'notAFunction' \(it is a number; function exports: .*identity/],
    ['missing', /no function export 'missing' \(no such export; function exports: .*throwAt/],
  ])('a module without the export (%s): ERR_STAGE_EXPORT listing what it has', async (exportName, message) => {
    const pipeline = new Pipeline({
      source: indexedSource(10),
      stages: [{ name: 'first', module: faults, export: 'identity' }, { name: 'second', module: faults, export: exportName }],
      sink: () => {},
    });
    const error = await failure(pipeline);
    expect(error).toMatchObject({ code: 'ERR_STAGE_EXPORT', stage: 'second', stageIndex: 1 });
    expect(error.message).toMatch(message);
    expectAllGone(pipeline);
  });

  it.each([
    [{ stages: [] }, /stages must be a non-empty array/],
    [{ stages: [{ name: '', module: faults }] }, /stage 0 needs a name/],
    [{ stages: [{ name: 'a', module: faults }, { name: 'a', module: faults }] }, /stage name 'a' is used twice/],
    [{ stages: [{ name: 'a', module: faults, workers: 0 }] }, /stage 'a': workers 0 is invalid/],
    [{ stages: [{ name: 'a', module: 42 }] }, /stage 'a': module must be a URL, a path or a package name/],
    [{ ringCapacity: 1000 }, /capacity 1000 is invalid/],
    [{ sink: 'nope' }, /sink must be a function/],
    [{ source: 42 }, /source must be an iterable/],
  ])('bad options are refused with a message naming them (%#)', async (override, message) => {
    const options = { source: [], stages: [{ name: 'a', module: faults, export: 'identity' }], sink: () => {}, ...override } as unknown as PipelineOptions;
    await expect(runPipeline(options)).rejects.toThrow(message);
  });
});

describe('the ends of the pipeline', () => {
  it('a source record larger than the rings hold: ERR_RECORD_TOO_LONG naming the source and the record', async () => {
    const pipeline = new Pipeline({
      source: [new Uint8Array(10), new Uint8Array(10), new Uint8Array(2000)],
      stages: stages(-1, 'identity'),
      sink: () => {},
      ringCapacity: 4096,
    });
    const error = await failure(pipeline);
    expect(error).toMatchObject({ code: 'ERR_RECORD_TOO_LONG', stage: 'source', recordIndex: 2 });
    expect(error.message).toMatch(/record 2 is 2000 bytes; the rings hold records of at most 1024 bytes/);
    expectAllGone(pipeline);
  });

  it('a source that throws: ERR_SOURCE_FAILED with the cause', async () => {
    function* source(): Generator<Uint8Array> {
      for (let n = 0; n < 100; n++) {
        if (n === 50) throw new Error('source exploded');
        yield new Uint8Array(4);
      }
    }
    const pipeline = new Pipeline({ source: source(), stages: stages(-1, 'identity'), sink: () => {} });
    const error = await failure(pipeline);
    expect(error).toMatchObject({ code: 'ERR_SOURCE_FAILED', stage: 'source', recordIndex: 50 });
    expect((error.cause as Error).message).toBe('source exploded');
    expectAllGone(pipeline);
  });

  it('a source writing a reserved record type is refused', async () => {
    const pipeline = new Pipeline({ source: [{ data: new Uint8Array(1), type: 0xffff }], stages: stages(-1, 'identity'), sink: () => {} });
    const error = await failure(pipeline);
    expect(error.message).toMatch(/record 0 has type 65535; expected an integer from 0 to 65534/);
    expectAllGone(pipeline);
  });

  it('a sink that throws, or rejects: ERR_SINK_FAILED naming the record', async () => {
    for (const sink of [
      (data: Uint8Array) => {
        if (new DataView(data.buffer, data.byteOffset).getUint32(0, true) === FAULT_AT) throw new Error('sink exploded');
      },
      async (data: Uint8Array) => {
        if (new DataView(data.buffer, data.byteOffset).getUint32(0, true) === FAULT_AT) throw new Error('sink exploded');
      },
    ]) {
      const pipeline = new Pipeline({ source: indexedSource(), stages: stages(-1, 'identity'), sink });
      const error = await failure(pipeline);
      expect(error).toMatchObject({ code: 'ERR_SINK_FAILED', stage: 'sink', recordIndex: FAULT_AT });
      expect((error.cause as Error).message).toBe('sink exploded');
      expectAllGone(pipeline);
    }
  });

  it('abort() from the sink while records flow: rejects with the reason, nothing left', async () => {
    let received = 0;
    const pipeline: Pipeline = new Pipeline({
      source: indexedSource(100_000),
      stages: stages(-1, 'identity'),
      sink: () => {
        if (++received === 3000) pipeline.abort(new Error('enough'));
      },
    });
    await expect(pipeline.run()).rejects.toThrow('enough');
    expect(received).toBeLessThan(100_000);
    expectAllGone(pipeline);
  });

  it('a signal that is already aborted: rejects at once without starting threads', async () => {
    const pipeline = new Pipeline({ source: indexedSource(), stages: stages(-1, 'identity'), sink: () => {}, signal: AbortSignal.abort() });
    await expect(pipeline.run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(pipeline.threads).toBe(0);
  });
});
