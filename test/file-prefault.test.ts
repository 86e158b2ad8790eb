/**
 * RingFile's `prefault` (issue 13 item 4: the log case): a ring created with `prefault: true`, or
 * pre-faulted later, takes no page fault when its data area is first written; a bad option value is
 * refused before anything is created; pre-faulting changes no byte of a live ring.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { RingFile, RingUsageError } from '../src/index.js';
import { checkStreamRecord, fillStreamPayload, streamLength, streamType } from '../src/teststream.js';
import { diskTestPath, removeTestFiles, shmTestPath } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

const CAPACITY = 4 << 20; // 1024 pages of 4 KiB
const RECORD = 1000;

/**
 * Minor page faults taken while filling the whole data area with records (tryWrite allocates
 * nothing). The count is process-wide: the JS engine's compiler and GC threads fault too (a first
 * run after warm-up still showed ~200 of theirs), so callers take the least of a few runs.
 */
function faultsFillingRing(file: RingFile): number {
  const producer = file.producer({ publish: 'manual' });
  const payload = new Uint8Array(RECORD).fill(0x5a);
  const before = process.resourceUsage().minorPageFault;
  let written = 0;
  while (producer.tryWrite(payload, 1)) written++;
  const faults = process.resourceUsage().minorPageFault - before;
  producer.close();
  expect(written).toBe(Math.floor(CAPACITY / (RECORD + 8)));
  return faults;
}

/** The fewest faults of three fills of fresh rings made by `make`, with and without prefault. */
function fewestFaults(make: (prefault: boolean) => RingFile): { faulting: number; prefaulted: number } {
  const least = (prefault: boolean): number => {
    let fewest = Infinity;
    for (let run = 0; run < 3; run++) {
      const file = make(prefault);
      fewest = Math.min(fewest, faultsFillingRing(file));
      file.close();
    }
    return fewest;
  };
  return { faulting: least(false), prefaulted: least(true) };
}

describe('prefault', () => {
  for (const [where, pathOf] of [
    ['on disk', diskTestPath],
    ['in /dev/shm', shmTestPath],
  ] as const) {
    it(`create({ prefault: true }) ${where}: filling the ring takes (almost) no page faults; without it, one per page or fault-around block`, () => {
      const { faulting, prefaulted } = fewestFaults((prefault) =>
        RingFile.create(pathOf(prefault ? 'prefaulted' : 'faulting'), { capacity: CAPACITY, maxRecordLength: RECORD, prefault }),
      );
      // 1024 pages: every first write of a page of a shared file mapping faults (to mark it dirty;
      // the kernel may map up to 16 pages around one read fault, never around a write), so the
      // plain ring takes at least one fault per 16 pages, in practice about one per page.
      expect(faulting).toBeGreaterThanOrEqual(CAPACITY / 4096 / 16);
      expect(prefaulted).toBeLessThan(Math.min(32, faulting / 8));
    });
  }

  it('createAnonymous({ prefault: true }) pre-faults the memfd as well', () => {
    const { faulting, prefaulted } = fewestFaults((prefault) => RingFile.createAnonymous({ capacity: CAPACITY, maxRecordLength: RECORD, prefault }));
    expect(faulting).toBeGreaterThanOrEqual(CAPACITY / 4096 / 16);
    expect(prefaulted).toBeLessThan(Math.min(32, faulting / 8));
  });

  it('prefault() on a live ring changes no byte: records written before it read back intact after it', () => {
    const file = RingFile.create(shmTestPath('live'), { capacity: 64 * 1024, maxRecordLength: 1024 });
    const producer = file.producer({ publish: 'eager' });
    const consumer = file.consumer();
    const seed = 77;
    const scratch = new Uint8Array(1024);
    let written = 0;
    for (; ; written++) {
      const length = streamLength(seed, written, 1024);
      fillStreamPayload(scratch, 0, length, seed, written);
      if (!producer.tryWrite(scratch.subarray(0, length), streamType(written))) break;
    }
    expect(written).toBeGreaterThan(50);
    file.prefault();
    let read = 0;
    let error: string | null = null;
    consumer.poll((type, data, offset, length) => {
      error ??= checkStreamRecord(seed, read, 1024, type, data, offset, length);
      read++;
    });
    expect(error).toBeNull();
    expect(read).toBe(written);
    producer.close();
    consumer.close();
    file.close();
  });

  it('a prefault that is not a boolean is ERR_BAD_ARGUMENT naming the field, and no file is created', () => {
    const filePath = shmTestPath('bad-prefault');
    let caught: unknown;
    try {
      RingFile.create(filePath, { capacity: 4096, prefault: 'yes' as unknown as boolean });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RingUsageError);
    expect(caught).toMatchObject({ code: 'ERR_BAD_ARGUMENT', field: 'prefault', value: 'yes' });
    expect(existsSync(filePath)).toBe(false);
    expect(() => RingFile.createAnonymous({ capacity: 4096, prefault: 1 as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', field: 'prefault' }),
    );
  });

  it('prefault() after close() is refused with ERR_CLOSED', () => {
    const file = RingFile.create(shmTestPath('closed'), { capacity: 4096 });
    file.close();
    expect(() => file.prefault()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });
});
