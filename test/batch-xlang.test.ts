/**
 * The batch paths between processes and languages: producer.batch() / consumer.batch() (TS) and
 * WriteBatch / ReadBatch (Go, through the CLI's --write-batch / --read-batch), every record of the
 * seeded test stream checked byte for byte by the receiver, many laps of small rings, positions
 * planted just below 2^32 so each run crosses the wrap of the positions too.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RingFile } from '../src/index.js';
import { HEAD_INDEX, TAIL_INDEX } from '../src/layout.js';
import { diskTestPath, lastJson, removeTestFiles, runChild, runNodeChild, shmTestPath } from './helpers/ringfiles.js';
import { testSeed } from './support/ring.js';

const goCli = fileURLToPath(new URL('../go-peer/bin/shmring', import.meta.url));
const COUNT = 1_000_000;
const MAX_LENGTH = 512;

afterEach(removeTestFiles);

/** A fresh ring file whose head and tail are planted `before` bytes short of 2^32. */
function ringNearWrap(path: string, capacity: number, before: number): void {
  const file = RingFile.create(path, { capacity, maxRecordLength: MAX_LENGTH });
  const words = new Int32Array(file.buffer, 0, 1024);
  const position = (2 ** 32 - before) | 0;
  Atomics.store(words, HEAD_INDEX, position);
  Atomics.store(words, TAIL_INDEX, position);
  file.close();
}

interface Summary {
  records: number;
  bytes: number;
  next: number;
  failure?: string | null;
  endOfStream?: boolean;
}

describe('batch paths across processes', () => {
  it('Node producer.batch() -> Go ReadBatch --verify, /dev/shm, crossing 2^32', async () => {
    const path = shmTestPath('batch-node-go');
    const seed = testSeed('batch-node-go');
    ringNearWrap(path, 64 * 1024, 4 * 1024 * 1024);
    const [consumer, producer] = await Promise.all([
      runChild(goCli, ['consume', '--verify', '--read-batch', path, '--seed', String(seed), '--max-length', String(MAX_LENGTH), '--park']),
      runNodeChild('file-producer.mjs', { path, count: COUNT, seed, maxLength: MAX_LENGTH, mode: 'batch', spin: 0 }),
    ]);
    expect(producer.code, producer.stderr).toBe(0);
    expect(consumer.code, consumer.stdout + consumer.stderr).toBe(0);
    const got = lastJson<Summary>(consumer.stdout);
    expect(got).toMatchObject({ records: COUNT, next: COUNT, endOfStream: true, bytes: lastJson<Summary>(producer.stdout).bytes });
  });

  it('Go WriteBatch -> Node consumer.batch(), disk, crossing 2^32', async () => {
    const path = diskTestPath('batch-go-node');
    const seed = testSeed('batch-go-node');
    ringNearWrap(path, 64 * 1024, 1024 * 1024);
    const [producer, consumer] = await Promise.all([
      runChild(goCli, ['produce', '--write-batch', path, '--count', String(COUNT), '--seed', String(seed), '--max-length', String(MAX_LENGTH), '--park']),
      runNodeChild('file-consumer.mjs', { path, seed, maxLength: MAX_LENGTH, api: 'batch', spin: 0 }),
    ]);
    expect(producer.code, producer.stdout + producer.stderr).toBe(0);
    expect(consumer.code, consumer.stdout + consumer.stderr).toBe(0);
    expect(lastJson<Summary>(consumer.stdout)).toMatchObject({ records: COUNT, next: COUNT, failure: null });
  });

  it('Node producer.batch() process -> Node consumer.batch() process, spinning', async () => {
    const path = shmTestPath('batch-node-node');
    const seed = testSeed('batch-node-node');
    ringNearWrap(path, 16 * 1024, 8 * 1024);
    const [producer, consumer] = await Promise.all([
      runNodeChild('file-producer.mjs', { path, count: COUNT, seed, maxLength: MAX_LENGTH, mode: 'batch' }),
      runNodeChild('file-consumer.mjs', { path, seed, maxLength: MAX_LENGTH, api: 'batch' }),
    ]);
    expect(producer.code, producer.stderr).toBe(0);
    expect(consumer.code, consumer.stdout + consumer.stderr).toBe(0);
    expect(lastJson<Summary>(consumer.stdout)).toMatchObject({ records: COUNT, next: COUNT, failure: null });
  });
});
