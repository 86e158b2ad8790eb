/**
 * context.batch(): a stage writes its records on the next ring's batch writer (claim, no commit),
 * waiting for room with context.waitForRoom when a claim finds the ring full; writer.batch(): the
 * source does the same on the first ring. Every record is
 * checked in the sink (seeded stream: index, type, every payload byte, and which copy it is), in a
 * ring small enough that the stage waits for room thousands of times. Refused where framing is owed.
 * No timing assertions. Workers run dist/: build first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Pipeline, runPipeline } from '../src/pipeline/index.js';
// @ts-expect-error -- plain JS fixture shared with the workers
import { sourceRecord } from './fixtures/stages/seeded.mjs';
import { failure, seededSource } from './support/pipeline.js';

const direct = new URL('./fixtures/stages/direct.mjs', import.meta.url);
const seeded = new URL('./fixtures/stages/seeded.mjs', import.meta.url);

afterEach(() => {
  expect(Pipeline.liveThreads()).toBe(0);
  expect(Pipeline.liveRings()).toBe(0);
});

describe('context.batch(): records claimed on the next ring’s batch writer', () => {
  it('three copies of every record, in order, through a 1 KiB ring (about 20 records: the claims find it full)', async () => {
    const count = 30_000;
    let received = 0;
    let mismatch: string | undefined;
    const result = await runPipeline({
      ringCapacity: 1024,
      maxRecordLength: 64,
      stages: [{ name: 'triple', module: direct, export: 'triple', batch: true, ordered: false }],
      source: seededSource(count),
      sink: (data, type) => {
        const n = Math.floor(received / 3);
        const copy = received % 3;
        received++;
        const expected = sourceRecord(n) as Uint8Array;
        if (type !== n % 0xffff || data.length !== expected.length) {
          mismatch ??= `record ${received - 1}: type ${type}, ${data.length} bytes`;
          return;
        }
        for (let k = 0; k < expected.length; k++) {
          if (data[k] !== (k === 3 ? copy : expected[k])) {
            mismatch ??= `record ${received - 1} (source ${n}, copy ${copy}): byte ${k} is ${data[k]}`;
            return;
          }
        }
      },
    });
    expect(mismatch).toBeUndefined();
    expect(received).toBe(3 * count);
    expect(result.stages[0].recordsIn).toBe(count);
    expect(result.stages[0].recordsOut).toBe(3 * count);
  });

  it('is refused where the next stage needs framing (ordered), naming the stage and the fix', async () => {
    const error = await failure(
      new Pipeline({ stages: [{ name: 'asker', module: direct, export: 'asksForBatch' }], source: seededSource(10), sink: () => {} }),
    );
    expect(error.code).toBe('ERR_BAD_OUTPUT');
    expect(error.stage).toBe('asker');
    expect(error.message).toMatch(/needs each item's records framed.*ordered: false/);
  });

  it('is refused when the stage writes several rings (the next stage has two workers)', async () => {
    const error = await failure(
      new Pipeline({
        stages: [
          { name: 'asker', module: direct, export: 'asksForBatch', ordered: false },
          { name: 'after', module: seeded, export: 'verify', workers: 2 },
        ],
        source: seededSource(10),
        sink: () => {},
      }),
    );
    expect(error.code).toBe('ERR_BAD_OUTPUT');
    expect(error.message).toMatch(/writes 2 rings/);
  });
});

describe('writer.batch(): the source claims records in place', () => {
  it('every record, in order, through a 1 KiB ring, mixed with write() (which publishes the batch first)', async () => {
    const count = 30_000;
    let received = 0;
    let mismatch: string | undefined;
    let waits = 0;
    await runPipeline({
      ringCapacity: 1024,
      maxRecordLength: 64,
      stages: [{ name: 'check', module: seeded, export: 'verify' }],
      source: async (writer) => {
        let out = writer.batch();
        for (let n = 0; n < count; n++) {
          const record = sourceRecord(n) as Uint8Array;
          if (n % 1000 < 10) {
            // Every thousandth run of ten records goes through write(): after the batch's records.
            const pending = writer.write(record, n % 0xffff);
            if (pending !== undefined) await pending;
            out = writer.batch();
            continue;
          }
          let at = out.claim(record.length, n % 0xffff);
          if (at < 0) {
            waits++;
            out = await writer.waitForRoom(record.length);
            at = out.claim(record.length, n % 0xffff);
          }
          out.data.set(record, at);
          if (n % 100 === 99) out = writer.publish();
        }
      },
      sink: (data, type) => {
        const n = received++;
        const expected = sourceRecord(n) as Uint8Array;
        if (type !== n % 0xffff || data.length !== expected.length || data.some((byte, k) => byte !== expected[k])) mismatch ??= `record ${n}`;
      },
    });
    expect(mismatch).toBeUndefined();
    expect(received).toBe(count);
    // A 1 KiB ring holds about 20 of these records and the source yields only when it waits: it found the ring full.
    expect(waits).toBeGreaterThan(0);
  });

  it('is refused when the first stage has several workers (a ring each)', async () => {
    const error = await failure(
      new Pipeline({
        stages: [{ name: 'wide', module: seeded, export: 'verify', workers: 2 }],
        source: (writer) => {
          writer.batch();
        },
        sink: () => {},
      }),
    );
    expect(error.code).toBe('ERR_BAD_ARGUMENT');
    expect(error.message).toMatch(/batch\(\) writes one ring, and the first stage has 2 workers/);
  });
});

