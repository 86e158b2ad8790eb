/**
 * Deterministic interleavings of the waiting protocol (docs/FORMAT.md §6), in the manner of piscina's
 * test/atomics-optimization.test.ts: one side runs in a worker, instrumented (test/workers/ring-
 * interleave.mjs) to stop at a named step point and continue only when this thread says so through a
 * control SharedArrayBuffer; this thread makes the peer's move exactly there. Each schedule lists its
 * acceptable outcomes; anything else — above all a wait that only ends by its guard timeout
 * ('timed-out': a lost wake-up) — fails.
 *
 * Waiter:   d = load(doorbell); store(waiting, 1); [recheck] if peer moved: return;
 *           [after-recheck] ...; [park] wait(doorbell, d)
 * Notifier: store(position or state); if load(waiting): add(doorbell, 1), wake
 *
 * Every side here parks unsliced (parkSliceMs: Infinity): a slice would recover a lost wake-up
 * after 50 ms and hide it, and on a loaded machine an honest wait may outlast a slice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RingConsumer, RingProducer, createRing, type RecordView } from '../src/index.js';
import {
  CONSUMER_WAITING_INDEX,
  DATA_DOORBELL_INDEX,
  HEADER_LENGTH,
  PRODUCER_WAITING_INDEX,
  SPACE_DOORBELL_INDEX,
} from '../src/layout.js';
import { countingParker } from './support/parkers.js';
import { drain, rejected } from './support/ring.js';
import { controlBuffer, signal, startWorker, terminateWorkers, waitForValue } from './support/workers.js';

/** Control words shared with test/workers/ring-interleave.mjs. */
const STEP = 4;
const GO = 5;
const ATTACHED = 6;

type WaitResult = 'ok' | 'not-equal' | 'timed-out';
type Outcome =
  | { kind: 'record'; type: number; bytes: number[]; parks?: WaitResult[] }
  | { kind: 'null'; ended: boolean; parks?: WaitResult[] }
  | { kind: 'written'; parks?: WaitResult[] }
  | { kind: 'timed-out'; parks?: WaitResult[] }
  | { kind: 'error'; code: string; parks?: WaitResult[] };
interface Report {
  parks: WaitResult[];
  wakes: number[];
  seenAtHold: { point: string; waiting: number } | null;
  outcomes: Outcome[];
  records: Array<{ type: number; bytes: number[] }>;
  error: string | null;
}

type Hold = 'after-full' | 'recheck' | 'after-recheck' | 'park';

afterEach(terminateWorkers);

function newRing() {
  const buffer = createRing({ capacity: 256, maxRecordLength: 56 });
  return { buffer, words: new Int32Array(buffer, 0, HEADER_LENGTH >> 2), control: controlBuffer() };
}

function recordOutcome(type: number, length = 8): Outcome {
  return { kind: 'record', type, bytes: new Array(length).fill(type) };
}

/**
 * Parks of one round of an unforced race: none (the record or room was there before parking), or
 * 'not-equal' (woken before sleeping), or 'ok' (woken from sleep); never 'timed-out', which is how
 * a lost wake-up shows (the guard timeout ends the wait). Stale wakes are possible too: the
 * notifier's wake of the previous round (store position, load flag, bump doorbell, notify) can still
 * be in flight when the waiter has taken that position and parks for the next round. Its doorbell
 * bump may land after the waiter read the doorbell ('not-equal'), and its notify may reach the
 * waiter asleep ('ok'); each time the waiter finds nothing and parks again. So at most three parks,
 * each 'ok' or 'not-equal'.
 */
function expectRaceParks(parks: WaitResult[] | undefined): void {
  expect(parks).toBeDefined();
  expect(parks!.length).toBeLessThanOrEqual(3);
  for (const result of parks!) expect(['ok', 'not-equal']).toContain(result);
}

/** Asserts the worker ran cleanly and its (parks, outcomes) is one of the acceptable ones. */
function expectOneOf(report: Report, acceptable: Array<{ parks: WaitResult[]; outcomes: Outcome[] }>): void {
  expect(report.error).toBeNull();
  expect(acceptable).toContainEqual({ parks: report.parks, outcomes: report.outcomes });
}

describe('consumer going to park while the producer publishes', () => {
  /** Starts the consumer worker, lets it run to `hold`, and returns once it is stopped there. */
  async function consumerHeldAt(hold: Hold, operations = 1) {
    const ring = newRing();
    const producer = new RingProducer(ring.buffer, { parkSliceMs: Infinity, publish: 'eager', spin: 0 });
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'consumer', hold, operations });
    await waitForValue(ring.control, STEP, 1);
    return { ...ring, producer, worker };
  }

  it('(a) publish between the waiting-flag store and the re-check: the re-check sees it, no park', async () => {
    const { words, control, producer, worker } = await consumerHeldAt('recheck');
    expect(Atomics.load(words, CONSUMER_WAITING_INDEX)).toBe(1);
    const bell = Atomics.load(words, DATA_DOORBELL_INDEX);
    expect(producer.tryWrite(new Uint8Array(8).fill(1), 1)).toBe(true);
    // The producer saw the flag, so it rang even though the consumer will not need it.
    expect(Atomics.load(words, DATA_DOORBELL_INDEX)).toBe(bell + 1);
    signal(control, GO, 1);
    const report = await worker.report;
    expect(report.seenAtHold).toEqual({ point: 'recheck', waiting: 1 });
    expectOneOf(report, [{ parks: [], outcomes: [recordOutcome(1)] }]);
  });

  it('(a) the lost-wake-up schedule: publish after the re-check missed it, before the wait: the wait returns at once', async () => {
    const { words, control, producer, worker } = await consumerHeldAt('park');
    expect(Atomics.load(words, CONSUMER_WAITING_INDEX)).toBe(1);
    const bell = Atomics.load(words, DATA_DOORBELL_INDEX);
    expect(producer.tryWrite(new Uint8Array(8).fill(1), 1)).toBe(true);
    expect(Atomics.load(words, DATA_DOORBELL_INDEX)).toBe(bell + 1);
    signal(control, GO, 1);
    const report = await worker.report;
    expect(report.seenAtHold).toEqual({ point: 'park', waiting: 1 });
    // 'not-equal': the doorbell moved since the consumer read it, so Atomics.wait did not sleep.
    // 'timed-out' here would be the lost wake-up.
    expectOneOf(report, [{ parks: ['not-equal'], outcomes: [recordOutcome(1)] }]);
    expect(Atomics.load(words, CONSUMER_WAITING_INDEX)).toBe(0);
  });

  it('(b) publish exactly between the consumer loading the tail and parking', async () => {
    const { words, control, producer, worker } = await consumerHeldAt('after-recheck');
    expect(Atomics.load(words, CONSUMER_WAITING_INDEX)).toBe(1);
    expect(producer.tryWrite(new Uint8Array(8).fill(2), 2)).toBe(true);
    signal(control, GO, 1);
    const report = await worker.report;
    expect(report.seenAtHold).toEqual({ point: 'after-recheck', waiting: 1 });
    expectOneOf(report, [{ parks: ['not-equal'], outcomes: [recordOutcome(2)] }]);
  });

  it('(b) publish while the consumer is really asleep in its async wait: the wake finds it parked', async () => {
    const ring = newRing();
    const parks = countingParker();
    const consumer = new RingConsumer(ring.buffer, { parkSliceMs: Infinity, spin: 0, parker: parks.parker });
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'producer-actor', action: 'publish' });
    await waitForValue(ring.control, ATTACHED, 1);
    const pending = consumer.read({ timeout: 30_000 });
    // read() registered its Atomics.waitAsync before returning: the consumer is parked now.
    expect(parks.asyncWaits).toBe(1);
    expect(Atomics.load(ring.words, CONSUMER_WAITING_INDEX)).toBe(1);
    signal(ring.control, STEP, 1);
    const record = (await pending) as RecordView;
    expect([record.type, Array.from(record.data)]).toEqual([7, new Array(8).fill(7)]);
    record.release();
    const report = await worker.report;
    expect(report.error).toBeNull();
    // Acceptable: the publish's wake found the one parked waiter and the wait ended 'ok' (woken).
    // The actor then detaches, which wakes again if the consumer has not yet cleared its waiting
    // flag (nobody is parked by then: 0), or not at all.
    expect([[1], [1, 0]]).toContainEqual(report.wakes);
    expect(parks.results).toEqual(['ok']);
  });

  it('publish racing the consumer on its way to park, unforced, 300 rounds: every round in the listed outcomes', async () => {
    const ring = newRing();
    const producer = new RingProducer(ring.buffer, { parkSliceMs: Infinity, publish: 'eager', spin: 0 });
    const rounds = 300;
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'consumer', rounds });
    for (let round = 0; round < rounds; round++) {
      await waitForValue(ring.control, STEP, 2 * round + 1);
      expect(producer.tryWrite(new Uint8Array(8).fill(round & 0xff), round)).toBe(true);
    }
    const report = await worker.report;
    expect(report.error).toBeNull();
    const tally: Record<string, number> = {};
    report.outcomes.forEach((outcome, round) => {
      const { parks, ...rest } = outcome;
      expect(rest).toEqual({ kind: 'record', type: round, bytes: new Array(8).fill(round & 0xff) });
      expectRaceParks(parks);
      const key = JSON.stringify(parks);
      tally[key] = (tally[key] ?? 0) + 1;
    });
    expect(report.outcomes).toHaveLength(rounds);
    console.info(`consumer park race outcomes over ${rounds} rounds: ${JSON.stringify(tally)}`);
  });
});

describe('(c) end of stream racing a consumer going to park', () => {
  const cases: Array<[Hold, WaitResult[]]> = [
    ['recheck', []],
    ['after-recheck', ['not-equal']],
    ['park', ['not-equal']],
  ];
  for (const [hold, parks] of cases) {
    it(`close() at '${hold}': the consumer sees the end, no sleep`, async () => {
      const ring = newRing();
      const producer = new RingProducer(ring.buffer, { parkSliceMs: Infinity, publish: 'eager', spin: 0 });
      const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'consumer', hold });
      await waitForValue(ring.control, STEP, 1);
      const bell = Atomics.load(ring.words, DATA_DOORBELL_INDEX);
      producer.close();
      // Closing moves no position: only the doorbell can wake the consumer.
      expect(Atomics.load(ring.words, DATA_DOORBELL_INDEX)).toBe(bell + 1);
      signal(ring.control, GO, 1);
      expectOneOf(await worker.report, [{ parks, outcomes: [{ kind: 'null', ended: true }] }]);
    });
  }

  it('close() with an unpublished batch while the consumer is parked: the batch, then the end', async () => {
    const ring = newRing();
    const producer = new RingProducer(ring.buffer, { parkSliceMs: Infinity, publish: 'manual', spin: 0 });
    producer.tryWrite(new Uint8Array(8).fill(1), 1);
    producer.tryWrite(new Uint8Array(8).fill(2), 2);
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'consumer', hold: 'park', operations: 3 });
    await waitForValue(ring.control, STEP, 1);
    producer.close();
    signal(ring.control, GO, 1);
    expectOneOf(await worker.report, [
      { parks: ['not-equal'], outcomes: [recordOutcome(1), recordOutcome(2), { kind: 'null', ended: true }] },
    ]);
  });

  it('close() while the consumer is asleep in read(): the wake finds it, read() resolves null', async () => {
    const ring = newRing();
    const parks = countingParker();
    const consumer = new RingConsumer(ring.buffer, { parkSliceMs: Infinity, spin: 0, parker: parks.parker });
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'producer-actor', action: 'close' });
    await waitForValue(ring.control, ATTACHED, 1);
    const pending = consumer.read({ timeout: 30_000 });
    expect(parks.asyncWaits).toBe(1);
    signal(ring.control, STEP, 1);
    expect(await pending).toBeNull();
    expect(consumer.ended).toBe(true);
    const report = await worker.report;
    expect(report.error).toBeNull();
    expect(report.wakes).toEqual([1]);
    expect(parks.results).toEqual(['ok']);
  });
});

describe('(d) the consumer releasing while the producer goes from its full check to its wait', () => {
  /** The ring is full (4 records of 56 bytes, types 0..3) and the worker's producer stops at `hold` trying to write one more. */
  async function producerHeldAt(hold: Hold) {
    const ring = newRing();
    const filler = new RingProducer(ring.buffer, { parkSliceMs: Infinity, publish: 'eager' });
    for (let type = 0; type < 4; type++) expect(filler.tryWrite(new Uint8Array(56).fill(type), type)).toBe(true);
    filler.close({ end: false });
    const consumer = new RingConsumer(ring.buffer, { parkSliceMs: Infinity, spin: 0 });
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'producer', hold, payloadLength: 56 });
    await waitForValue(ring.control, STEP, 1);
    return { ...ring, consumer, worker };
  }

  const releases: Array<[Hold, number, WaitResult[]]> = [
    // [step point, waiting flag there, acceptable parks]
    ['after-full', 0, []],
    ['recheck', 1, []],
    ['after-recheck', 1, ['not-equal']],
    ['park', 1, ['not-equal']],
  ];
  for (const [hold, waiting, parks] of releases) {
    it(`release at '${hold}': the producer gets the space without sleeping`, async () => {
      const { words, control, consumer, worker } = await producerHeldAt(hold);
      expect(Atomics.load(words, PRODUCER_WAITING_INDEX)).toBe(waiting);
      const bell = Atomics.load(words, SPACE_DOORBELL_INDEX);
      expect(drain(consumer, 1).map((r) => r.type)).toEqual([0]);
      // The consumer rings only if the producer had flagged that it may sleep.
      expect(Atomics.load(words, SPACE_DOORBELL_INDEX)).toBe(bell + waiting);
      signal(control, GO, 1);
      const report = await worker.report;
      expect(report.seenAtHold).toEqual({ point: hold, waiting });
      expectOneOf(report, [{ parks, outcomes: [{ kind: 'written' }] }]);
      const rest = drain(consumer);
      expect(rest.map((r) => r.type)).toEqual([1, 2, 3, 100]);
      expect(Array.from(rest[3].bytes)).toEqual(new Array(56).fill(100));
    });
  }

  for (const [hold, , parks] of releases) {
    it(`consumer close at '${hold}': the producer's write fails with ERR_CLOSED, no sleep`, async () => {
      const { control, consumer, worker } = await producerHeldAt(hold);
      consumer.close();
      signal(control, GO, 1);
      expectOneOf(await worker.report, [{ parks, outcomes: [{ kind: 'error', code: 'ERR_CLOSED' }] }]);
    });
  }

  it('release while the producer is asleep in write(): the wake finds it, write() resolves', async () => {
    const ring = newRing();
    const parks = countingParker();
    const producer = new RingProducer(ring.buffer, { parkSliceMs: Infinity, publish: 'eager', spin: 0, parker: parks.parker });
    for (let type = 0; type < 4; type++) expect(producer.tryWrite(new Uint8Array(56).fill(type), type)).toBe(true);
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'consumer-actor', action: 'release' });
    await waitForValue(ring.control, ATTACHED, 1);
    const pending = producer.write(new Uint8Array(56).fill(9), 9, { timeout: 30_000 });
    expect(parks.asyncWaits).toBe(1);
    expect(Atomics.load(ring.words, PRODUCER_WAITING_INDEX)).toBe(1);
    signal(ring.control, STEP, 1);
    await pending;
    signal(ring.control, STEP, 2);
    const report = await worker.report;
    expect(report.error).toBeNull();
    expect(report.wakes).toEqual([1]);
    expect(parks.results).toEqual(['ok']);
    expect(report.records.map((r) => r.type)).toEqual([0, 1, 2, 3, 9]);
    expect(report.records[4].bytes).toEqual(new Array(56).fill(9));
  });

  it('consumer close while the producer is asleep in write(): write() rejects with ERR_CLOSED', async () => {
    const ring = newRing();
    const parks = countingParker();
    const producer = new RingProducer(ring.buffer, { parkSliceMs: Infinity, publish: 'eager', spin: 0, parker: parks.parker });
    for (let type = 0; type < 4; type++) producer.tryWrite(new Uint8Array(56).fill(type), type);
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'consumer-actor', action: 'close' });
    await waitForValue(ring.control, ATTACHED, 1);
    const pending = producer.write(new Uint8Array(56), 9, { timeout: 30_000 });
    expect(parks.asyncWaits).toBe(1);
    signal(ring.control, STEP, 1);
    expect(await rejected(pending)).toMatchObject({ code: 'ERR_CLOSED' });
    const report = await worker.report;
    expect(report.error).toBeNull();
    expect(report.wakes).toEqual([1]);
    expect(parks.results).toEqual(['ok']);
  });

  it('release racing the producer on its way to park, unforced, 300 rounds: every round in the listed outcomes', async () => {
    const ring = newRing();
    const filler = new RingProducer(ring.buffer, { parkSliceMs: Infinity, publish: 'eager' });
    for (let type = 0; type < 4; type++) filler.tryWrite(new Uint8Array(56).fill(type), type);
    filler.close({ end: false });
    const consumer = new RingConsumer(ring.buffer, { parkSliceMs: Infinity, spin: 0 });
    const rounds = 300;
    const worker = startWorker<Report>('ring-interleave.mjs', { buffer: ring.buffer, control: ring.control, role: 'producer', rounds, payloadLength: 56 });
    const types: number[] = [];
    for (let round = 0; round < rounds; round++) {
      await waitForValue(ring.control, STEP, 2 * round + 1);
      // The ring holds 4 records here (the previous write completed): take one, making room.
      expect(consumer.poll((type) => types.push(type), 1)).toBe(1);
    }
    const report = await worker.report;
    expect(report.error).toBeNull();
    const tally: Record<string, number> = {};
    for (const { parks, ...rest } of report.outcomes) {
      expect(rest).toEqual({ kind: 'written' });
      expectRaceParks(parks);
      const key = JSON.stringify(parks);
      tally[key] = (tally[key] ?? 0) + 1;
    }
    expect(report.outcomes).toHaveLength(rounds);
    drain(consumer).forEach((r) => types.push(r.type));
    expect(types).toEqual([0, 1, 2, 3, ...Array.from({ length: rounds }, (_, i) => 100 + i)]);
    console.info(`producer park race outcomes over ${rounds} rounds: ${JSON.stringify(tally)}`);
  });
});
