/**
 * Node process -> Node process through ring files: a /dev/shm file and a file on disk, spinning and
 * parked waits, 10^7 seeded records in total, every record checked (sequence via type, every byte).
 * The producer is a child process; the consumer is this process, then a child consumer too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RingFile } from '../src/index.js';
import { checkStreamRecord } from '../src/teststream.js';
import { diskTestPath, lastJson, removeTestFiles, runNodeChild, shmTestPath } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

const TOTAL = 10_000_000;
const cases = [
  { where: 'shm', spin: undefined, publish: 'auto' },
  { where: 'shm', spin: 0, publish: 'eager' },
  { where: 'disk', spin: undefined, publish: 'auto' },
  { where: 'disk', spin: 0, publish: 'auto' },
] as const;
const PER_CASE = TOTAL / cases.length;
const SEED = 0x5eed0001;

describe('cross-process stream through a ring file', () => {
  for (const [index, testCase] of cases.entries()) {
    const mode = testCase.spin === 0 ? 'parked' : 'spinning';
    it(`${PER_CASE} records, ${testCase.where}, ${mode}, publish ${testCase.publish}`, async () => {
      const path = testCase.where === 'shm' ? shmTestPath(`xproc${index}`) : diskTestPath(`xproc${index}`);
      const maxLength = 512;
      const file = RingFile.create(path, { capacity: 1 << 16, maxRecordLength: maxLength });
      const consumer = file.consumer({ spin: testCase.spin });
      const seed = SEED + index;
      const child = runNodeChild('file-producer.mjs', {
        path,
        count: PER_CASE,
        seed,
        maxLength,
        publish: testCase.publish,
        spin: testCase.spin,
      });
      let next = 0;
      let failure: string | null = null;
      const handler = (type: number, data: Uint8Array, offset: number, length: number): void => {
        if (failure === null) failure = checkStreamRecord(seed, next, maxLength, type, data, offset, length);
        next++;
      };
      // Blocking waits in this thread are fine: the child runs in another process.
      while (failure === null && consumer.pollSync(handler, 4096, 60_000) > 0);
      const result = await child;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(failure).toBeNull();
      expect(next).toBe(PER_CASE);
      expect(consumer.ended).toBe(true);
      expect(lastJson<{ records: number }>(result.stdout).records).toBe(PER_CASE);
      file.close();
    });
  }

  it('child producer -> child consumer, both parked, seen through stats()', async () => {
    const path = shmTestPath('children');
    const maxLength = 1024;
    const file = RingFile.create(path, { capacity: 1 << 14, maxRecordLength: maxLength });
    const count = 200_000;
    const [consumer, producer] = await Promise.all([
      runNodeChild('file-consumer.mjs', { path, seed: 7, maxLength, spin: 0 }),
      runNodeChild('file-producer.mjs', { path, count, seed: 7, maxLength, spin: 0 }),
    ]);
    expect(producer.code).toBe(0);
    expect(consumer.stderr).toBe('');
    expect(lastJson<{ records: number; failure: string | null }>(consumer.stdout)).toMatchObject({ records: count, failure: null });
    const stats = file.stats();
    expect(stats.bytesInFlight).toBe(0);
    expect(stats.producer.state).toBe(2);
    expect(stats.producer.alive).toBe(false);
    expect(stats.consumer.alive).toBe(false);
    file.close();
  });
});
