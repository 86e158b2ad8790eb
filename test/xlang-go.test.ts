/**
 * Node <-> Go through ring files: the Go peer's CLI (go-peer/bin/shmring) on one side, Node on the
 * other, in separate processes, both ways. 10^7 seeded records of random length each way, many laps
 * of small rings, every record checked byte for byte by the receiver (Node: src/teststream.ts; Go:
 * `consume --verify`), spinning and parked waits, /dev/shm and a file on disk, rings created by
 * either side. Then Go producers killed with SIGKILL at seeded random points while a Node consumer
 * reads: each time the consumer holds exactly a prefix of the stream, and a new Go producer started
 * with `--start <next>` continues it.
 *
 * Parking is proven by the doorbells (FORMAT.md §6): a doorbell only moves when its waiter had
 * flagged itself waiting, so a non-zero doorbell means that side went to park. No timing is asserted.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RingFile, type RingConsumer } from '../src/index.js';
import { loadSeqCst } from '../src/atomics.js';
import { HEADER_LENGTH, PRODUCER_WAITING_INDEX, ROLE_ATTACHED, ROLE_CLOSED } from '../src/layout.js';
import { checkStreamRecord } from '../src/teststream.js';
import {
  diskTestPath,
  lastJson,
  removeTestFiles,
  runChild,
  runNodeChild,
  shmTestPath,
  type ChildResult,
} from './helpers/ringfiles.js';
import { seededRandom, testSeed } from './support/ring.js';

const goCli = fileURLToPath(new URL('../go-peer/bin/shmring', import.meta.url));

/** What `shmring produce` and `shmring consume` print when they finish. */
interface StreamSummary {
  records: number;
  bytes: number;
  next: number;
  endOfStream?: boolean;
  interrupted?: boolean;
}

/** The parts of `shmring stat --json` these tests read. */
interface GoSideStats {
  state: number;
  waiting: boolean;
  /** The doorbell this side parks on; the peer bumps it only while this side is flagged waiting. */
  doorbell: number;
  alive: boolean;
}
interface GoStats {
  capacity: number;
  maxRecordLength: number;
  head: number;
  tail: number;
  bytesInFlight: number;
  producer: GoSideStats;
  consumer: GoSideStats;
}

/** A child process under way: killed in afterEach if a test fails before it exits. */
interface Running {
  child: ChildProcess;
  result: Promise<ChildResult>;
  exited: boolean;
}

const running = new Set<Running>();
const openFiles: RingFile[] = [];
/** Every ring path used, checked at the end: afterEach must have removed them all. */
const ringPaths: string[] = [];

beforeAll(() => {
  if (!existsSync(goCli)) throw new Error(`${goCli} is missing: build it with \`node scripts/build-go.mjs\``);
});

function track(start: (onSpawn: (child: ChildProcess) => void) => Promise<ChildResult>): Running {
  let spawned: ChildProcess | undefined;
  const result = start((child) => (spawned = child));
  const entry: Running = { child: spawned!, result, exited: false };
  running.add(entry);
  void result.then(() => {
    entry.exited = true;
    running.delete(entry);
  });
  return entry;
}

function goPeer(args: (string | number)[]): Running {
  return track((onSpawn) => runChild(goCli, args.map(String), onSpawn));
}

function nodeProducer(argument: object): Running {
  return track((onSpawn) => runNodeChild('file-producer.mjs', argument, onSpawn));
}

function goRun(args: (string | number)[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(goCli, args.map(String), { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function goStat(path: string): GoStats {
  const result = goRun(['stat', path, '--json']);
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as GoStats;
}

function openTracked(path: string): RingFile {
  const file = RingFile.open(path);
  openFiles.push(file);
  return file;
}

function createTracked(path: string, capacity: number, maxRecordLength: number): RingFile {
  const file = RingFile.create(path, { capacity, maxRecordLength });
  openFiles.push(file);
  return file;
}

/** A ring created by the Go CLI (so Node must accept Go's header), then mapped here. */
function createWithGo(path: string, capacity: number, maxRecordLength: number): RingFile {
  const created = goRun(['create', path, '--capacity', capacity, '--max-record-length', maxRecordLength]);
  expect(created.status, created.stderr).toBe(0);
  return openTracked(path);
}

/**
 * Waits for a state of the shared words (a condition, checked between turns of the event loop),
 * failing if `child` exits first or the deadline passes: never hangs, never sleeps for a guess.
 */
async function until(condition: () => boolean, what: string, child: Running, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (child.exited) throw new Error(`the child exited before ${what}: ${JSON.stringify(await child.result)}`);
    if (performance.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * The producer is parked on a full ring that nobody consumes yet. Starting the consumer after this
 * makes its first release find producerWaiting = 1 and ring the space doorbell: the producer's
 * parking is then certain, whatever the speeds of the two sides.
 */
function producerParked(file: RingFile): () => boolean {
  const words = new Int32Array(file.buffer, 0, HEADER_LENGTH >> 2);
  return () => loadSeqCst(words, PRODUCER_WAITING_INDEX) === 1;
}

/** Reads the seeded stream from record `next`, checking every record (sequence via type, every byte). */
class StreamChecker {
  next: number;
  bytes = 0;
  failure: string | null = null;
  readonly handler = (type: number, data: Uint8Array, offset: number, length: number): void => {
    if (this.failure === null) this.failure = checkStreamRecord(this.seed, this.next >>> 0, this.maxLength, type, data, offset, length);
    this.next++;
    this.bytes += length;
  };

  constructor(
    private readonly seed: number,
    private readonly maxLength: number,
    start = 0,
  ) {
    this.next = start;
  }
}

afterEach(async () => {
  for (const entry of running) entry.child.kill('SIGKILL');
  await Promise.all([...running].map((entry) => entry.result));
  for (const file of openFiles.splice(0)) file.close();
  removeTestFiles();
});

const PER_CASE = 2_500_000;
const SEED = 0x60_5eed;

/**
 * Four cases each way, 4 x 2.5 * 10^6 = 10^7 records per direction. "park0" parks at once (Node
 * spin 0, Go --park --spin 0); Node "default" spins 2000 polls then parks; Go without --park spins
 * (yielding) and never parks. Rings of 64 KiB hold ~250 records of up to 512 bytes: ~40000 laps.
 */
const cases = [
  { where: 'shm', creator: 'node', capacity: 1 << 16, maxLength: 512, node: 'default', go: 'spin', goBatch: 1 },
  { where: 'shm', creator: 'node', capacity: 1 << 16, maxLength: 512, node: 'park0', go: 'park0', goBatch: 1 },
  { where: 'disk', creator: 'go', capacity: 1 << 20, maxLength: 1024, node: 'default', go: 'park', goBatch: 16 },
  { where: 'disk', creator: 'go', capacity: 1 << 16, maxLength: 1024, node: 'park0', go: 'spin', goBatch: 64 },
] as const;

type Case = (typeof cases)[number];

function goWaitFlags(mode: Case['go']): string[] {
  if (mode === 'spin') return [];
  return mode === 'park0' ? ['--park', '--spin', '0'] : ['--park'];
}

function nodeSpin(mode: Case['node']): number | undefined {
  return mode === 'park0' ? 0 : undefined;
}

function ringFor(testCase: Case, label: string): { path: string; file: RingFile } {
  const path = testCase.where === 'shm' ? shmTestPath(label) : diskTestPath(label);
  ringPaths.push(path);
  const file =
    testCase.creator === 'go'
      ? createWithGo(path, testCase.capacity, testCase.maxLength)
      : createTracked(path, testCase.capacity, testCase.maxLength);
  return { path, file };
}

function describeCase(testCase: Case): string {
  return `${testCase.where} (created by ${testCase.creator}, ${testCase.capacity >> 10} KiB, max ${testCase.maxLength} B), Node ${testCase.node}, Go ${testCase.go}${testCase.goBatch > 1 ? ` batch ${testCase.goBatch}` : ''}`;
}

describe('Go producer -> Node consumer', () => {
  for (const [index, testCase] of cases.entries()) {
    it(`${PER_CASE} records, ${describeCase(testCase)}`, { timeout: 240_000 }, async () => {
      const { path, file } = ringFor(testCase, `go2node${index}`);
      const seed = SEED + index;
      const { maxLength } = testCase;
      const producer = goPeer([
        'produce', path, '--count', PER_CASE, '--seed', seed, '--max-length', maxLength,
        '--batch', testCase.goBatch, ...goWaitFlags(testCase.go),
      ]);
      if (testCase.go === 'park0') await until(producerParked(file), 'the Go producer parks on the full ring', producer);
      const consumer = file.consumer({ spin: nodeSpin(testCase.node) });
      const checker = new StreamChecker(seed, maxLength);
      // Blocking waits in this thread are fine: the producer is another process. A dead producer
      // shows as a 60 s timeout (0 records), not a hang.
      while (checker.failure === null && consumer.pollSync(checker.handler, 4096, 60_000) > 0);
      const result = await producer.result;
      expect(checker.failure).toBeNull();
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(checker.next).toBe(PER_CASE);
      expect(consumer.ended).toBe(true);
      expect(lastJson<StreamSummary>(result.stdout)).toEqual({ records: PER_CASE, bytes: checker.bytes, next: PER_CASE });
      consumer.close({ detach: true });

      const stats = goStat(path);
      expect(stats.bytesInFlight).toBe(0);
      expect(stats.producer).toMatchObject({ state: ROLE_CLOSED, alive: false });
      // Many laps: the byte positions went round the ring thousands of times (mod 2^32).
      expect(checker.bytes / testCase.capacity).toBeGreaterThan(1000);
      // The data doorbell moves only when the Node consumer flagged itself waiting; the space
      // doorbell only when the Go producer did.
      if (testCase.node === 'park0') expect(stats.consumer.doorbell, 'Node consumer parks').toBeGreaterThan(0);
      if (testCase.go === 'park0') expect(stats.producer.doorbell, 'Go producer parks').toBeGreaterThan(0);
      if (testCase.go === 'spin') expect(stats.producer.doorbell, 'a spinning Go producer never parks').toBe(0);
    });
  }
});

describe('Node producer -> Go consumer', () => {
  for (const [index, testCase] of cases.entries()) {
    it(`${PER_CASE} records, ${describeCase(testCase)}`, { timeout: 240_000 }, async () => {
      const { path, file } = ringFor(testCase, `node2go${index}`);
      const seed = SEED + 100 + index;
      const { maxLength } = testCase;
      const producer = nodeProducer({
        path,
        count: PER_CASE,
        seed,
        maxLength,
        spin: nodeSpin(testCase.node),
        publish: index % 2 === 0 ? 'auto' : 'eager',
      });
      if (testCase.node === 'park0') await until(producerParked(file), 'the Node producer parks on the full ring', producer);
      const consumer = goPeer(['consume', '--verify', path, '--seed', seed, '--max-length', maxLength, ...goWaitFlags(testCase.go)]);
      // `consume` has no timeout of its own: if the producer dies, stop the consumer rather than
      // leave it waiting for a stream that will never end (and the reverse, if the consumer fails).
      void producer.result.then((result) => result.code !== 0 && consumer.child.kill('SIGKILL'));
      void consumer.result.then((result) => result.code !== 0 && producer.child.kill('SIGKILL'));
      const [produced, consumed] = await Promise.all([producer.result, consumer.result]);
      // Both at once, so that a failure shows which side failed first and what it said.
      expect({ produced, consumed }).toMatchObject({ produced: { code: 0, stderr: '' }, consumed: { code: 0, stderr: '' } });
      const written = lastJson<StreamSummary>(produced.stdout);
      expect(written).toMatchObject({ records: PER_CASE, next: PER_CASE });
      expect(lastJson<StreamSummary>(consumed.stdout)).toEqual({
        records: PER_CASE,
        bytes: written.bytes,
        next: PER_CASE,
        endOfStream: true,
      });

      const stats = goStat(path);
      expect(stats.bytesInFlight).toBe(0);
      expect(stats.producer).toMatchObject({ state: ROLE_CLOSED, alive: false });
      expect(stats.consumer.alive).toBe(false);
      expect(written.bytes / testCase.capacity).toBeGreaterThan(1000);
      // The space doorbell moves only when the Node producer flagged itself waiting; the data
      // doorbell only when the Go consumer did.
      if (testCase.node === 'park0') expect(stats.producer.doorbell, 'Node producer parks').toBeGreaterThan(0);
      if (testCase.go === 'park0') expect(stats.consumer.doorbell, 'Go consumer parks').toBeGreaterThan(0);
      if (testCase.go === 'spin') expect(stats.consumer.doorbell, 'a spinning Go consumer never parks').toBe(0);
    });
  }
});

describe('kill -9 of Go producers while a Node consumer reads', () => {
  it('12 producers killed at random points: each time exactly a prefix was seen; a new producer continues with --start', { timeout: 240_000 }, async () => {
    const seed = testSeed('xlang kill');
    const random = seededRandom(seed);
    const total = 2_000_000;
    const kills = 12;
    const maxLength = 1024;
    const path = shmTestPath('xlang-kill');
    ringPaths.push(path);
    const file = createTracked(path, 1 << 16, maxLength);
    // Waits through each producer's death for its successor (by default a dead peer is ERR_PEER_DEAD).
    const consumer: RingConsumer = file.consumer({ spin: 0, peerDeath: 'wait' });
    const checker = new StreamChecker(seed, maxLength);
    // A 64 KiB ring holds at most 8192 records (8-byte slots), so a producer can never be more than
    // that ahead of the consumer; kill points stay that far from the end of the stream.
    const gapLimit = Math.floor((total - 10 * (1 << 13)) / (kills + 1));
    const history: { start: number; killAt: number; next: number; batch: number; park: boolean }[] = [];

    for (let round = 0; round < kills; round++) {
      const start = checker.next;
      const killAt = start + 1 + (random() % gapLimit);
      // Batched publishing leaves committed but unpublished records behind at the kill: the next
      // producer must overwrite them, and the consumer must never see them.
      const batch = [1, 8, 64][random() % 3];
      const park = random() % 2 === 0;
      const producer = goPeer([
        'produce', path, '--count', total - start, '--start', start, '--seed', seed, '--max-length', maxLength,
        '--batch', batch, ...(park ? ['--park', '--spin', '0'] : []),
      ]);
      // Kill once the consumer has read up to killAt: a point chosen by stream position, not time.
      while (checker.failure === null && checker.next < killAt) {
        await consumer.pollAsync(checker.handler, killAt - checker.next, { timeout: 60_000 });
      }
      expect(checker.failure, `seed ${seed}, round ${round}`).toBeNull();
      producer.child.kill('SIGKILL');
      // Keep consuming until the exit is reported, so the signal lands while it writes rather than
      // while it is parked on a full ring.
      while (!producer.exited && checker.failure === null) {
        consumer.poll(checker.handler, 4096);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const result = await producer.result;
      expect(result.signal, `round ${round}: killed mid-stream, not finished`).toBe('SIGKILL');
      expect(result.stdout).toBe('');
      // The producer is dead, so its published tail is final: drain everything up to it.
      while (checker.failure === null && consumer.poll(checker.handler) > 0);
      expect(checker.failure, `seed ${seed}, round ${round}`).toBeNull();
      const seen = consumer.stats();
      expect(seen.readPosition).toBe(seen.tail);
      expect(seen.recordsInFlight).toBe(0);
      expect(consumer.ended, 'a killed producer is not an end of stream').toBe(false);
      // SIGKILL leaves the state word saying "attached"; the OFD lock says the truth.
      const ring = file.stats();
      expect(ring.producer.state).toBe(ROLE_ATTACHED);
      expect(ring.producer.alive).toBe(false);
      expect(checker.next).toBeGreaterThanOrEqual(killAt);
      history.push({ start, killAt, next: checker.next, batch, park });
    }

    // Every round continued exactly where the consumer stood after the previous kill.
    for (let round = 1; round < kills; round++) expect(history[round].start).toBe(history[round - 1].next);
    const start = checker.next;
    expect(start).toBeLessThan(total);
    const last = goPeer(['produce', path, '--count', total - start, '--start', start, '--seed', seed, '--max-length', maxLength, '--park']);
    while (checker.failure === null && (await consumer.pollAsync(checker.handler, 4096, { timeout: 60_000 })) > 0);
    const result = await last.result;
    expect(checker.failure, `seed ${seed}`).toBeNull();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(lastJson<StreamSummary>(result.stdout)).toMatchObject({ records: total - start, next: total });
    // Records 0 .. total-1 in order, each checked: every record exactly once.
    expect(checker.next).toBe(total);
    expect(consumer.ended).toBe(true);
  });
});

describe('cleanup', () => {
  it('every ring file these tests made is gone', () => {
    expect(ringPaths.length).toBe(2 * cases.length + 1);
    expect(ringPaths.filter((path) => existsSync(path))).toEqual([]);
  });
});
