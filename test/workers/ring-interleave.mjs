// Worker for test/interleave.test.ts: one side of a ring, instrumented so that the main thread can
// force a schedule step by step. The side stops at a named step point, tells the main thread (STEP
// word) with its waiting flag as seen there, and continues only when the main thread stores GO.
//
// Step points (the waiting protocol of docs/FORMAT.md §6, one side shown):
//   'after-full'    producer: its claim just found the ring full, before it touches the waiting flag
//                   (hooked at the first peerState() call, which claimSync makes right after tryClaim fails);
//   'recheck'       after `store(waiting, 1)`, before the re-check of the peer's position
//                   (hooked at the ready() predicate the side passes to its wait: dataOrEnd / headMoved);
//   'after-recheck' the re-check has loaded the peer's position and found nothing, before parking;
//   'park'          inside Parker.waitSync, just before the real Atomics.wait (a custom parker).
// The real wait is capped at PARK_GUARD_MS: a lost wake-up shows as 'timed-out', never as a hang.
// Sides park unsliced (parkSliceMs: Infinity): a 50 ms slice would hide a lost wake-up.
//
// workerData: { buffer, control, role: 'consumer' | 'producer' | 'producer-actor' | 'consumer-actor',
//               hold, operations, payloadLength, rounds }
// Posts one report: { parks, wakes, seenAtHold, outcomes, records, error }.
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer, RingProducer, atomicsParker, layout } from '../../dist/index.js';
import { HANG_GUARD_MS, describeError, signal, waitForValueSync } from './ring-common.mjs';

// Control words (test/interleave.test.ts uses the same): STEP worker -> main, GO main -> worker,
// ATTACHED worker -> main once its side holds the role.
const STEP = 4;
const GO = 5;
const ATTACHED = 6;
const PARK_GUARD_MS = 10_000;

const { buffer, control, role, hold = 'none', operations = 1, payloadLength = 8, rounds = 0 } = workerData;
const report = { parks: [], wakes: [], seenAtHold: null, outcomes: [], records: [], error: null };
const words = new Int32Array(buffer, 0, layout.HEADER_LENGTH >> 2);
const ownWaiting = role.startsWith('producer') ? layout.PRODUCER_WAITING_INDEX : layout.CONSUMER_WAITING_INDEX;

let held = false;
/** Stops here once: reports the waiting flag and the step, waits for GO. */
function holdHere(point) {
  if (held) return;
  held = true;
  report.seenAtHold = { point, waiting: Atomics.load(words, ownWaiting) };
  signal(control, STEP, 1);
  waitForValueSync(control, GO, 1);
}

const parker = {
  waitSync(words, index, expected, timeoutMs) {
    if (hold === 'park') holdHere('park');
    const result = atomicsParker.waitSync(words, index, expected, Math.min(timeoutMs, PARK_GUARD_MS));
    report.parks.push(result);
    return result;
  },
  waitAsync: atomicsParker.waitAsync,
  wake(words, index) {
    // How many parked waiters this wake found: 1 means the peer was really asleep in Atomics.wait.
    report.wakes.push(Atomics.notify(words, index));
  },
};

/** Wraps a private function-valued field of a side; fails loudly if the instrumentation point is gone. */
function instrument(side, field, before, after) {
  const original = side[field];
  if (typeof original !== 'function') throw new Error(`instrumentation point ${side.constructor.name}#${field} is missing`);
  side[field] = (...args) => {
    before?.();
    const result = original.apply(side, args);
    after?.(result);
    return result;
  };
}

function readOnce(consumer) {
  const record = consumer.readSync(HANG_GUARD_MS);
  if (record === null) return { kind: 'null', ended: consumer.ended };
  const outcome = { kind: 'record', type: record.type, bytes: Array.from(record.data) };
  consumer.release();
  return outcome;
}

function writeOnce(producer, type) {
  try {
    return { kind: producer.writeSync(new Uint8Array(payloadLength).fill(type), type, HANG_GUARD_MS) ? 'written' : 'timed-out' };
  } catch (error) {
    return { kind: 'error', code: error.code };
  }
}

try {
  if (role === 'consumer') {
    const consumer = new RingConsumer(buffer, { parkSliceMs: Infinity, spin: 0, parker });
    if (hold === 'recheck') instrument(consumer, 'dataOrEnd', () => holdHere('recheck'));
    if (hold === 'after-recheck') instrument(consumer, 'dataOrEnd', undefined, (found) => found || holdHere('after-recheck'));
    signal(control, ATTACHED, 1);
    if (rounds > 0) {
      // Unforced: each round, say "ready" and go to read at once, racing the main thread's publish.
      for (let round = 0; round < rounds; round++) {
        const parksBefore = report.parks.length;
        signal(control, STEP, 2 * round + 1);
        const outcome = readOnce(consumer);
        outcome.parks = report.parks.slice(parksBefore);
        report.outcomes.push(outcome);
      }
    } else {
      for (let i = 0; i < operations; i++) {
        const outcome = readOnce(consumer);
        report.outcomes.push(outcome);
        if (outcome.kind === 'null') break;
      }
    }
    consumer.close({ detach: true });
  } else if (role === 'producer') {
    const producer = new RingProducer(buffer, { parkSliceMs: Infinity, spin: 0, parker, publish: 'eager' });
    if (hold === 'after-full') {
      const original = producer.peerState;
      if (typeof original !== 'function') throw new Error('instrumentation point RingProducer#peerState is missing');
      producer.peerState = () => (holdHere('after-full'), original.call(producer));
    }
    if (hold === 'recheck') instrument(producer, 'headMoved', () => holdHere('recheck'));
    if (hold === 'after-recheck') instrument(producer, 'headMoved', undefined, (moved) => moved || holdHere('after-recheck'));
    signal(control, ATTACHED, 1);
    if (rounds > 0) {
      for (let round = 0; round < rounds; round++) {
        const parksBefore = report.parks.length;
        signal(control, STEP, 2 * round + 1);
        const outcome = writeOnce(producer, 100 + round);
        outcome.parks = report.parks.slice(parksBefore);
        report.outcomes.push(outcome);
      }
    } else {
      for (let i = 0; i < operations; i++) report.outcomes.push(writeOnce(producer, 100 + i));
    }
    producer.close({ end: false });
  } else if (role === 'producer-actor') {
    // The main thread's consumer parks in an async wait; on STEP 1 this producer publishes or ends.
    const producer = new RingProducer(buffer, { parkSliceMs: Infinity, parker, publish: 'eager' });
    signal(control, ATTACHED, 1);
    waitForValueSync(control, STEP, 1);
    if (workerData.action === 'close') producer.close();
    else {
      producer.tryWrite(new Uint8Array(payloadLength).fill(7), 7);
      producer.close({ end: false });
    }
  } else if (role === 'consumer-actor') {
    // The main thread's producer parks in an async write on a full ring; on STEP 1 this consumer
    // releases one record, or closes; on STEP 2 it drains what is left.
    const consumer = new RingConsumer(buffer, { parkSliceMs: Infinity, parker });
    signal(control, ATTACHED, 1);
    waitForValueSync(control, STEP, 1);
    const take = (type, data, offset, length) => report.records.push({ type, bytes: Array.from(data.subarray(offset, offset + length)) });
    if (workerData.action === 'close') consumer.close();
    else {
      consumer.poll(take, 1);
      waitForValueSync(control, STEP, 2);
      consumer.poll(take);
      consumer.close({ detach: true });
    }
  } else {
    throw new Error(`unknown role ${role}`);
  }
} catch (error) {
  report.error = describeError(error);
}
parentPort.postMessage(report);
