/**
 * Issue 10, the waiting part: every pending wait keeps its event loop alive (10.2), sync waits on
 * ring files can be interrupted by worker.terminate() (10.3), poll limits that would loop forever are
 * refused (10.4), a planted waiting flag costs at most one park slice (10.5), and a dead peer ends a
 * wait with ERR_PEER_DEAD while a closed one ends the stream (10.7).
 *
 * No timing is asserted: "parked" is observed through the side's waiting flag or the test parker,
 * and a wait that would hang forever on the old code fails by the test's own hang guard (timeout).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  RingConsumer,
  RingFile,
  RingPeerDeadError,
  RingProducer,
  createRing,
  type RecordView,
} from '../src/index.js';
import {
  CONSUMER_PID_INDEX,
  CONSUMER_STATE_INDEX,
  CONSUMER_WAITING_INDEX,
  PRODUCER_PID_INDEX,
  PRODUCER_STATE_INDEX,
  PRODUCER_WAITING_INDEX,
  ROLE_ATTACHED,
  ROLE_DETACHED,
} from '../src/layout.js';
import { fillStreamPayload, streamLength, streamType } from '../src/teststream.js';
import { lastJson, removeTestFiles, runChild, runNodeChild, shmTestPath, type ChildResult } from './helpers/ringfiles.js';
import { countingParker } from './support/parkers.js';
import { controlBuffer } from './support/workers.js';

const HANG_GUARD_MS = 20_000;
const workerScript = fileURLToPath(new URL('./workers/waits-worker.mjs', import.meta.url));
const goCli = fileURLToPath(new URL('../go-peer/bin/shmring', import.meta.url));
const live = new Set<Worker>();

type Kind = 'in-memory' | 'ring file';
const kinds: Kind[] = ['in-memory', 'ring file'];

interface Ring {
  buffer: SharedArrayBuffer;
  words: Int32Array;
  /** What a worker needs to attach to it. */
  share: { buffer: SharedArrayBuffer } | { path: string };
  file?: RingFile;
}

function makeRing(kind: Kind, capacity = 256): Ring {
  if (kind === 'in-memory') {
    const buffer = createRing({ capacity });
    return { buffer, words: new Int32Array(buffer, 0, 1024), share: { buffer } };
  }
  const path = shmTestPath('waits');
  const file = RingFile.create(path, { capacity });
  return { buffer: file.buffer, words: new Int32Array(file.buffer, 0, 1024), share: { path }, file };
}

function startWorker(workerData: object): { worker: Worker; messages: unknown[]; exit: Promise<number> } {
  const worker = new Worker(workerScript, { workerData });
  live.add(worker);
  const messages: unknown[] = [];
  worker.on('message', (message) => messages.push(message));
  worker.on('error', (error) => messages.push({ error: String(error) }));
  const exit = new Promise<number>((resolve) =>
    worker.once('exit', (code) => {
      live.delete(worker);
      resolve(code);
    }),
  );
  return { worker, messages, exit };
}

/**
 * Resolves once `condition()` holds, or with false once `exited` settles first (the worker or
 * child is gone). Polls on timers: a readiness check, not a timed assertion.
 */
async function until(condition: () => boolean, exited?: Promise<unknown>): Promise<boolean> {
  let gone = false;
  void exited?.then(() => (gone = true));
  for (;;) {
    if (condition()) return true;
    if (gone) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

afterEach(async () => {
  await Promise.all([...live].map((worker) => worker.terminate()));
  live.clear();
  removeTestFiles();
});

describe('10.2 a pending async wait keeps its event loop alive (no silent exit 13)', () => {
  for (const kind of kinds) {
    for (const op of ['read', 'pollAsync', 'write', 'claimAsync']) {
      it(`${kind}: a worker whose only work is ${op}({ timeout: 200 }) ends with ERR_TIMEOUT`, async () => {
        const ring = makeRing(kind);
        const { messages, exit } = startWorker({ mode: `async-${op}`, timeout: 200, ...ring.share });
        const code = await exit;
        expect(messages).toEqual([{ code: 'ERR_TIMEOUT' }]);
        expect(code).toBe(0);
        ring.file?.close();
      });
    }

    it(`${kind}: a worker doing for await on a consumer gets every record and exits 0`, { timeout: HANG_GUARD_MS }, async () => {
      const ring = makeRing(kind);
      const { messages, exit } = startWorker({ mode: 'for-await', ...ring.share });
      // Let the worker park on the empty ring first: that is where it used to exit with code 13.
      expect(await until(() => Atomics.load(ring.words, CONSUMER_WAITING_INDEX) === 1, exit)).toBe(true);
      const producer = ring.file ? ring.file.producer({ spin: 0 }) : new RingProducer(ring.buffer, { spin: 0 });
      let sum = 0;
      for (let i = 0; i < 1000; i++) {
        await producer.write(Uint8Array.of(i & 0xff, 1, 2, 3));
        sum += i & 0xff;
      }
      producer.close();
      expect(await exit).toBe(0);
      expect(messages).toEqual([{ records: 1000, sum }]);
      ring.file?.close();
    });
  }
});

describe('10.3 worker.terminate() interrupts a sync wait on a ring file', () => {
  for (const op of ['readSync', 'pollSync', 'writeSync', 'claimSync']) {
    it(`terminate() of a worker blocked in ${op} (no timeout) settles`, { timeout: HANG_GUARD_MS }, async () => {
      const ring = makeRing('ring file');
      const control = controlBuffer();
      const { worker, exit } = startWorker({ mode: `sync-${op}`, control, ...ring.share });
      const flag = op === 'readSync' || op === 'pollSync' ? CONSUMER_WAITING_INDEX : PRODUCER_WAITING_INDEX;
      // Parked: past its spin (0) with the waiting flag stored, on its way into the futex wait.
      expect(await until(() => Atomics.load(control, 1) === 1 && Atomics.load(ring.words, flag) === 1, exit)).toBe(true);
      // Not synchronisation (the test passes without it): a terminate() requested before the worker
      // enters the syscall is acted on at its next JS call, which would hide the old hang. 100 ms
      // lets the worker get inside the futex wait, so the old code reliably hangs here.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await worker.terminate();
      expect(await exit).toBe(1);
      ring.file?.close();
    });
  }
});

describe('10.4 poll limits that would never return are refused', () => {
  const noop = (): void => undefined;
  for (const kind of kinds) {
    for (const limit of [0, -1, Number.NaN, 1.5, -Infinity]) {
      it(`${kind}: poll, pollSync and pollAsync refuse limit ${limit} with ERR_BAD_ARGUMENT (field 'limit')`, async () => {
        const ring = makeRing(kind);
        const producer = ring.file ? ring.file.producer() : new RingProducer(ring.buffer);
        const consumer = ring.file ? ring.file.consumer() : new RingConsumer(ring.buffer);
        producer.tryWrite(Uint8Array.of(1));
        producer.flush();
        const expected = { code: 'ERR_BAD_ARGUMENT', field: 'limit', value: String(limit) };
        expect(() => consumer.poll(noop, limit)).toThrow(expect.objectContaining(expected));
        expect(() => consumer.pollSync(noop, limit, 1000)).toThrow(expect.objectContaining(expected));
        // With data waiting this used to loop on microtasks forever, starving its own timeout.
        await expect(consumer.pollAsync(noop, limit, { timeout: 1000 })).rejects.toMatchObject(expected);
        // Nothing was consumed by the refusals.
        expect(consumer.poll(noop, 1)).toBe(1);
        ring.file?.close();
      });
    }
  }
});

describe('wait options', () => {
  it('parkSliceMs and peerDeath are checked (ERR_BAD_ARGUMENT naming the field)', () => {
    const buffer = createRing({ capacity: 256 });
    for (const [field, value] of [['parkSliceMs', 0], ['parkSliceMs', -5], ['parkSliceMs', Number.NaN], ['peerDeath', 'later']] as const) {
      expect(() => new RingConsumer(buffer, { [field]: value })).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', field, value: String(value) }));
    }
    // A refused attach leaves the role free.
    new RingConsumer(buffer, { parkSliceMs: Infinity, peerDeath: 'wait' }).close();
  });
});

describe('10.5 a planted waiting flag costs at most one park slice', () => {
  it('in-memory: consumerWaiting cleared to 0 while read() is parked; the record still arrives', { timeout: HANG_GUARD_MS }, async () => {
    const buffer = createRing({ capacity: 256 });
    const words = new Int32Array(buffer, 0, 1024);
    const counting = countingParker();
    const consumer = new RingConsumer(buffer, { spin: 0, parker: counting.parker });
    const producer = new RingProducer(buffer, { publish: 'eager' });
    const reading = consumer.read();
    await counting.waitsReached(1);
    Atomics.store(words, CONSUMER_WAITING_INDEX, 0);
    producer.tryWrite(Uint8Array.of(42)); // the notifier sees no flag: no wake
    const record = (await reading) as RecordView;
    expect(record.data[0]).toBe(42);
    expect(counting.wokenCounts).toEqual([]);
  });

  it('in-memory: producerWaiting cleared to 0 while write() is parked; the write still completes', { timeout: HANG_GUARD_MS }, async () => {
    const buffer = createRing({ capacity: 256 });
    const words = new Int32Array(buffer, 0, 1024);
    const counting = countingParker();
    const producer = new RingProducer(buffer, { spin: 0, parker: counting.parker, publish: 'eager' });
    const consumer = new RingConsumer(buffer);
    const payload = new Uint8Array(24);
    while (producer.tryWrite(payload));
    const writing = producer.write(payload);
    await counting.waitsReached(1);
    Atomics.store(words, PRODUCER_WAITING_INDEX, 0);
    expect(consumer.poll(() => undefined)).toBeGreaterThan(0);
    await writing;
    expect(consumer.poll(() => undefined)).toBe(1);
  });

  it('ring file: consumerWaiting cleared to 0 while read() is parked on the futex; the record still arrives', { timeout: HANG_GUARD_MS }, async () => {
    const ring = makeRing('ring file');
    const consumer = ring.file!.consumer({ spin: 0 });
    const producer = ring.file!.producer({ publish: 'eager' });
    const reading = consumer.read();
    expect(await until(() => Atomics.load(ring.words, CONSUMER_WAITING_INDEX) === 1)).toBe(true);
    Atomics.store(ring.words, CONSUMER_WAITING_INDEX, 0);
    producer.tryWrite(Uint8Array.of(7));
    const record = (await reading) as RecordView;
    expect(record.data[0]).toBe(7);
    ring.file!.close();
  });

  it('ring file: producerWaiting cleared to 0 while write() is parked on the futex; the write still completes', { timeout: HANG_GUARD_MS }, async () => {
    const ring = makeRing('ring file');
    const producer = ring.file!.producer({ spin: 0, publish: 'eager' });
    const consumer = ring.file!.consumer();
    const payload = new Uint8Array(24);
    while (producer.tryWrite(payload));
    const writing = producer.write(payload);
    expect(await until(() => Atomics.load(ring.words, PRODUCER_WAITING_INDEX) === 1)).toBe(true);
    Atomics.store(ring.words, PRODUCER_WAITING_INDEX, 0);
    expect(consumer.poll(() => undefined)).toBeGreaterThan(0);
    await writing;
    ring.file!.close();
  });

  describe('with the Go peer', () => {
    beforeAll(() => {
      if (!existsSync(goCli)) {
        const built = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/build-go.mjs', import.meta.url))], { stdio: 'inherit' });
        if (built.status !== 0) throw new Error('building the Go CLI failed');
      }
    });

    it('producerWaiting planted to 2 while a Node write() is parked: a Go consumer still wakes it', { timeout: HANG_GUARD_MS }, async () => {
      const ring = makeRing('ring file', 4096);
      const seed = 11;
      const maxLength = 200;
      const producer = ring.file!.producer({ spin: 0, publish: 'eager' });
      const payload = new Uint8Array(maxLength);
      let written = 0;
      const next = (): { type: number; bytes: Uint8Array } => {
        const length = streamLength(seed, written, maxLength);
        fillStreamPayload(payload, 0, length, seed, written);
        return { type: streamType(written), bytes: payload.subarray(0, length) };
      };
      for (let record = next(); producer.tryWrite(record.bytes, record.type); record = next()) written++;
      const last = next();
      const writing = producer.write(last.bytes, last.type).then(() => written++);
      expect(await until(() => Atomics.load(ring.words, PRODUCER_WAITING_INDEX) === 1)).toBe(true);
      Atomics.store(ring.words, PRODUCER_WAITING_INDEX, 2);
      const total = written + 1;
      const go = runChild(goCli, ['consume', '--verify', ring.file!.path, '--seed', String(seed), '--max-length', String(maxLength), '--count', String(total)]);
      await writing;
      const result: ChildResult = await go;
      expect(result.stderr).toBe('');
      expect(lastJson<{ records: number }>(result.stdout).records).toBe(total);
      ring.file!.close();
    });
  });
});

describe('10.7 a dead peer surfaces; a closed one ends the stream', () => {
  async function producerChild(path: string, records: number, close: boolean): Promise<{ child: ChildProcess; pid: number; done: Promise<ChildResult> }> {
    let child!: ChildProcess;
    const done = runNodeChild('waits-producer.mjs', { path, records, close }, (spawned) => (child = spawned), true);
    const message = await new Promise<{ written: number; pid: number }>((resolve) => child.once('message', resolve));
    expect(message.written).toBe(records);
    return { child, pid: message.pid, done };
  }

  it('ring file: a parked read() gets every published record, then ERR_PEER_DEAD when the producer is killed', { timeout: HANG_GUARD_MS }, async () => {
    const ring = makeRing('ring file');
    const { child, pid, done } = await producerChild(ring.file!.path, 5, false);
    const consumer = ring.file!.consumer({ spin: 0 });
    for (let i = 0; i < 5; i++) {
      const record = (await consumer.read()) as RecordView;
      expect(record.data[0]).toBe(i);
      record.release();
    }
    const reading = consumer.read();
    expect(await until(() => Atomics.load(ring.words, CONSUMER_WAITING_INDEX) === 1)).toBe(true);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const error = await reading.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RingPeerDeadError);
    expect(error).toMatchObject({ code: 'ERR_PEER_DEAD', field: 'producerPid', value: pid });
    expect((error as Error).message).toContain(`producer (last pid ${pid})`);
    // The dead producer left its state word attached: only the lock told.
    expect(Atomics.load(ring.words, PRODUCER_STATE_INDEX)).toBe(ROLE_ATTACHED);
    // A blocking read learns it too, and so does a later one: the record stream is not cut silently.
    expect(() => consumer.readSync()).toThrow(expect.objectContaining({ code: 'ERR_PEER_DEAD' }));
    // The consumer stays usable: a successor continues the stream and ends it.
    const successor = await producerChild(ring.file!.path, 2, true);
    expect((await successor.done).code).toBe(0);
    const seen: number[] = [];
    for (let record = await consumer.read(); record !== null; record = await consumer.read()) {
      seen.push(record.data[0]);
      record.release();
    }
    expect(seen).toEqual([0, 1]);
    ring.file!.close();
  });

  it("ring file: with peerDeath 'wait' a parked read() waits through the death for a successor", { timeout: HANG_GUARD_MS }, async () => {
    const ring = makeRing('ring file');
    const { child, done } = await producerChild(ring.file!.path, 0, false);
    const consumer = ring.file!.consumer({ spin: 0, peerDeath: 'wait' });
    const reading = consumer.read();
    expect(await until(() => Atomics.load(ring.words, CONSUMER_WAITING_INDEX) === 1)).toBe(true);
    child.kill('SIGKILL');
    await done;
    const successor = await producerChild(ring.file!.path, 1, true);
    const record = (await reading) as RecordView;
    expect(record.data[0]).toBe(0);
    record.release();
    expect((await successor.done).code).toBe(0);
    expect(await consumer.read()).toBeNull();
    ring.file!.close();
  });

  it('ring file: a producer that closed normally still gives the end of the stream, not ERR_PEER_DEAD', { timeout: HANG_GUARD_MS }, async () => {
    const ring = makeRing('ring file');
    const consumer = ring.file!.consumer({ spin: 0 });
    const { done } = await producerChild(ring.file!.path, 3, true);
    expect((await done).code).toBe(0);
    const seen: number[] = [];
    for (let record = await consumer.read(); record !== null; record = await consumer.read()) {
      seen.push(record.data[0]);
      record.release();
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(consumer.ended).toBe(true);
    ring.file!.close();
  });

  for (const kind of kinds) {
    it(`${kind}: a worker that exits without close() leaves its role detached, not attached`, async () => {
      const ring = makeRing(kind);
      const { messages, exit } = startWorker({ mode: 'exit-open', ...ring.share });
      expect(await exit).toBe(0);
      expect(messages).toEqual([{ code: 'attached' }]);
      expect(Atomics.load(ring.words, PRODUCER_STATE_INDEX)).toBe(ROLE_DETACHED);
      expect(Atomics.load(ring.words, PRODUCER_PID_INDEX)).toBe(0);
      // A successor can take the role at once.
      const producer = ring.file ? ring.file.producer() : new RingProducer(ring.buffer);
      producer.close();
      ring.file?.close();
    });
  }

  for (const mode of ['hold-open', 'hold-readSync']) {
    it(`in-memory: a worker terminated with a side open (${mode}) leaves its role detached (native cleanup hook)`, { timeout: HANG_GUARD_MS }, async () => {
      const ring = makeRing('in-memory');
      const { worker, messages, exit } = startWorker({ mode, ...ring.share });
      const [stateIndex, pidIndex] = mode === 'hold-open' ? [PRODUCER_STATE_INDEX, PRODUCER_PID_INDEX] : [CONSUMER_STATE_INDEX, CONSUMER_PID_INDEX];
      expect(await until(() => messages.length > 0, exit)).toBe(true);
      expect(Atomics.load(ring.words, stateIndex)).toBe(ROLE_ATTACHED);
      await worker.terminate();
      await exit;
      expect(Atomics.load(ring.words, stateIndex)).toBe(ROLE_DETACHED);
      expect(Atomics.load(ring.words, pidIndex)).toBe(0);
      const successor = mode === 'hold-open' ? new RingProducer(ring.buffer) : new RingConsumer(ring.buffer);
      successor.close();
    });
  }
});
