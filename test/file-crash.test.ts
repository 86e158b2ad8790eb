/**
 * Crash safety of ring files: a producer killed with SIGKILL at random points leaves nothing torn
 * and nothing that stalls the consumer; a new producer continues and nothing published is lost.
 * A consumer killed mid-stream resumes at its last released record.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { RingFile } from '../src/index.js';
import { checkStreamRecord } from '../src/teststream.js';
import { lastJson, removeTestFiles, runNodeChild, shmTestPath } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

/** Small seeded PRNG (mulberry32) so a failing run can be replayed from the printed seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('kill -9', () => {
  it('50 producers killed at random points: the consumer sees exactly a prefix, a new producer continues', async () => {
    const seed = Number(process.env.SHMRING_TEST_SEED ?? Date.now() % 1e9);
    const random = prng(seed);
    const path = shmTestPath('kill');
    const maxLength = 300;
    const file = RingFile.create(path, { capacity: 1 << 15, maxRecordLength: maxLength });
    // Waits through each producer's death for its successor (by default a dead peer is ERR_PEER_DEAD).
    const consumer = file.consumer({ spin: 0, peerDeath: 'wait' });
    let next = 0;
    let failure: string | null = null;
    const handler = (type: number, data: Uint8Array, offset: number, length: number): void => {
      if (failure === null) failure = checkStreamRecord(seed, next, maxLength, type, data, offset, length);
      next++;
    };
    const kills = 50;
    let killedMidStream = 0;
    for (let round = 0; round < kills; round++) {
      const publish = round % 2 === 0 ? 'auto' : 'eager';
      const start = next;
      let child: ChildProcess | undefined;
      const exited = runNodeChild(
        'file-producer.mjs',
        { path, count: 1_000_000_000, seed, maxLength, start, publish },
        (spawned) => (child = spawned),
      );
      // Kill once the consumer has seen a random number of this producer's records: a point in
      // the middle of its stream, chosen by progress rather than by time.
      const killAfter = 1 + Math.floor(random() * 20_000);
      while (failure === null && next - start < killAfter) {
        if (consumer.pollSync(handler, 1024, 30_000) === 0) break;
      }
      // Kill it while it is writing: keep consuming, so it is not parked on a full ring when the
      // signal lands, until the exit is reported.
      child!.kill('SIGKILL');
      let dead = false;
      const result = await Promise.race([
        exited.then((r) => ((dead = true), r)),
        (async () => {
          while (!dead && failure === null) {
            consumer.poll(handler, 4096);
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
          return exited;
        })(),
      ]);
      if (result.signal === 'SIGKILL') killedMidStream++;
      // The producer is dead: whatever it published is final. Drain it.
      while (failure === null && consumer.poll(handler) > 0);
      expect(failure, `seed ${seed}, round ${round}`).toBeNull();
      expect(consumer.ended, 'a killed producer is not an end of stream').toBe(false);
      expect(file.stats().producer.alive).toBe(false);
    }
    expect(killedMidStream).toBe(kills);
    // A last producer continues from the consumer's next record and ends the stream cleanly.
    // Consumed while it runs: 5000 records do not fit in the ring.
    const last = runNodeChild('file-producer.mjs', { path, count: 5000, seed, maxLength, start: next });
    const before = next;
    while (failure === null && !consumer.ended) consumer.pollSync(handler, Infinity, 30_000);
    expect((await last).code).toBe(0);
    expect(failure, `seed ${seed}`).toBeNull();
    expect(next - before).toBe(5000);
    expect(consumer.ended).toBe(true);
    file.close();
  });

  it('a consumer killed mid-stream: its successor resumes at the last released record, no loss, no duplicate', async () => {
    const path = shmTestPath('ckill');
    const maxLength = 200;
    const seed = 99;
    const file = RingFile.create(path, { capacity: 1 << 13, maxRecordLength: maxLength });
    const total = 100_000;
    // The producer waits through the consumer's death for its successor.
    const producer = runNodeChild('file-producer.mjs', { path, count: total, seed, maxLength, spin: 0, peerDeath: 'wait' });
    const killAt = 20_000;
    let report: { released: number; holding: boolean } | undefined;
    const first = await runNodeChild(
      'file-consumer.mjs',
      { path, seed, maxLength, stopAt: killAt },
      (child) => {
        child.on('message', (message: { released: number; holding: boolean }) => {
          report = message;
          child.kill('SIGKILL');
        });
      },
      true,
    );
    expect(first.signal).toBe('SIGKILL');
    expect(report).toEqual({ released: killAt, holding: true });
    expect(file.stats().consumer.alive).toBe(false);
    // Records 0..killAt-1 were released and are gone; record killAt was read but not released, so
    // the successor gets it again (at-least-once for an unreleased record), then the rest.
    const second = await runNodeChild('file-consumer.mjs', { path, seed, maxLength, start: killAt });
    expect(second.stderr).toBe('');
    expect(lastJson<{ records: number; next: number; failure: string | null }>(second.stdout)).toEqual({
      records: total - killAt,
      next: total,
      failure: null,
    });
    expect((await producer).code).toBe(0);
    file.close();
  });
});
