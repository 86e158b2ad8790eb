/**
 * API correctness (issue 11 items 6-10): re-entrant reads from a poll() handler, a tail moved
 * backwards mid-batch, impossible state words, payload types and the held-record message, and an
 * aborted claim at the wrap. Each test plants the state directly and checks the shared words.
 */
import { describe, expect, it } from 'vitest';
import { RingConsumer, RingCorruptError, RingProducer, RingUsageError } from '../src/index.js';
import { CONSUMER_STATE_INDEX, PADDING_TYPE, PRODUCER_STATE_INDEX, ROLE_ATTACHED } from '../src/layout.js';
import { headOf, plantedRing, readHeader, setTail, snapshot, tailOf, thrown } from './support/ring.js';

function payload(tag: number, length = 8): Uint8Array {
  return new Uint8Array(length).fill(tag);
}

describe('11.6 reading from inside a poll() handler', () => {
  for (const nested of ['poll', 'tryRead'] as const) {
    it(`${nested}() from a handler is refused with ERR_BUSY and nothing is delivered twice`, () => {
      const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
      const producer = new RingProducer(ring.buffer, { publish: 'eager' });
      const consumer = new RingConsumer(ring.buffer);
      for (let tag = 0; tag < 4; tag++) expect(producer.tryWrite(payload(tag))).toBe(true);
      const delivered: number[] = [];
      const errors: unknown[] = [];
      consumer.poll((_type, data, offset) => {
        delivered.push(data[offset]);
        if (delivered.length === 2) {
          errors.push(thrown(() => (nested === 'poll' ? consumer.poll((_t, d, o) => delivered.push(d[o])) : consumer.tryRead())));
        }
      });
      expect(delivered).toEqual([0, 1, 2, 3]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(RingUsageError);
      expect(errors[0]).toMatchObject({ code: 'ERR_BUSY' });
      expect((errors[0] as Error).message).toContain('poll() is running');
      // The refusal left the batch intact: all four released with one head store, nothing left over.
      expect(headOf(ring)).toBe(tailOf(ring));
      expect(consumer.poll(() => delivered.push(-1))).toBe(0);
      expect(consumer.tryRead()).toBeNull();
    });
  }

  it('release() from a handler is refused and does not move the read position', () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const consumer = new RingConsumer(ring.buffer);
    producer.tryWrite(payload(5));
    producer.tryWrite(payload(6));
    let error: unknown;
    const seen: number[] = [];
    consumer.poll((_type, data, offset) => {
      seen.push(data[offset]);
      error ??= thrown(() => consumer.release());
    });
    expect(seen).toEqual([5, 6]);
    expect(error).toMatchObject({ code: 'ERR_BUSY' });
    expect(headOf(ring)).toBe(32);
  });

  it('poll() works normally again after a handler that tried to re-enter threw', () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const consumer = new RingConsumer(ring.buffer);
    producer.tryWrite(payload(1));
    producer.tryWrite(payload(2));
    expect(thrown(() => consumer.poll(() => consumer.poll(() => {})))).toMatchObject({ code: 'ERR_BUSY' });
    const seen: number[] = [];
    expect(consumer.poll((_type, data, offset) => seen.push(data[offset]))).toBe(1);
    expect(seen).toEqual([2]);
  });
});

describe('11.7 a tail moved backwards in the middle of a poll() batch', () => {
  it("is refused naming 'tail', not cached, and poll() recovers once the tail is repaired", () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
    const producer = new RingProducer(ring.buffer, { publish: 'manual' });
    const consumer = new RingConsumer(ring.buffer);
    // Two batches: poll caches the first tail (32), reads both records, then reloads the tail.
    producer.tryWrite(payload(1));
    producer.tryWrite(payload(2));
    producer.flush();
    const goodTail = tailOf(ring);
    expect(goodTail).toBe(32);
    const seen: number[] = [];
    const error = thrown(() =>
      consumer.poll((_type, data, offset) => {
        seen.push(data[offset]);
        // Behind where poll has got to (32) but not behind where the batch started (0).
        if (seen.length === 2) setTail(ring, 16);
      }),
    );
    expect(error).toBeInstanceOf(RingCorruptError);
    expect(error).toMatchObject({ code: 'ERR_CORRUPT', field: 'tail', value: 16 });
    expect(seen).toEqual([1, 2]);
    // The records handled before the error are consumed and released.
    expect(headOf(ring)).toBe(goodTail);
    // Still corrupt: every poll says so, naming the tail.
    expect(thrown(() => consumer.poll(() => {}))).toMatchObject({ field: 'tail', value: 16 });
    // Repaired (the producer publishes again): poll delivers the new record and only it.
    setTail(ring, goodTail);
    producer.tryWrite(payload(3));
    producer.flush();
    seen.length = 0;
    expect(consumer.poll((_type, data, offset) => seen.push(data[offset]))).toBe(1);
    expect(seen).toEqual([3]);
    expect(consumer.poll(() => {})).toBe(0);
  });
});

describe('11.8 impossible role state words', () => {
  it('the consumer refuses producerState 7 in ended, read() and readSync() (ERR_CORRUPT naming it)', async () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
    const consumer = new RingConsumer(ring.buffer, { spin: 0 });
    Atomics.store(ring.words, PRODUCER_STATE_INDEX, 7);
    expect(thrown(() => consumer.ended)).toMatchObject({ code: 'ERR_CORRUPT', field: 'producerState', value: 7 });
    await expect(consumer.read({ timeout: 60_000 })).rejects.toMatchObject({ code: 'ERR_CORRUPT', field: 'producerState', value: 7 });
    expect(thrown(() => consumer.readSync(60_000))).toMatchObject({ code: 'ERR_CORRUPT', field: 'producerState' });
    expect(thrown(() => consumer.stats())).toMatchObject({ field: 'producerState' });
  });

  it('the producer refuses consumerState 0xffffffff while waiting for space', async () => {
    const ring = plantedRing({ capacity: 64, maxRecordLength: 48 });
    const producer = new RingProducer(ring.buffer, { publish: 'eager', spin: 0 });
    expect(producer.tryWrite(payload(1, 48))).toBe(true);
    Atomics.store(ring.words, CONSUMER_STATE_INDEX, -1);
    await expect(producer.write(payload(2, 48), 0, { timeout: 60_000 })).rejects.toMatchObject({
      code: 'ERR_CORRUPT',
      field: 'consumerState',
      value: 0xffffffff,
    });
    expect(thrown(() => producer.writeSync(payload(2, 48), 0, 60_000))).toMatchObject({ field: 'consumerState' });
  });

  it('attaching refuses an impossible peer state and leaves the role word as it was', () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
    Atomics.store(ring.words, PRODUCER_STATE_INDEX, 3);
    expect(thrown(() => new RingConsumer(ring.buffer))).toMatchObject({ code: 'ERR_CORRUPT', field: 'producerState', value: 3 });
    expect(Atomics.load(ring.words, CONSUMER_STATE_INDEX)).toBe(0);
    Atomics.store(ring.words, PRODUCER_STATE_INDEX, 0);
    Atomics.store(ring.words, CONSUMER_STATE_INDEX, 9);
    expect(thrown(() => new RingProducer(ring.buffer))).toMatchObject({ code: 'ERR_CORRUPT', field: 'consumerState', value: 9 });
    expect(Atomics.load(ring.words, PRODUCER_STATE_INDEX)).toBe(0);
    Atomics.store(ring.words, CONSUMER_STATE_INDEX, 0);
    expect(new RingProducer(ring.buffer).isClosed).toBe(false);
    expect(Atomics.load(ring.words, PRODUCER_STATE_INDEX)).toBe(ROLE_ATTACHED);
  });
});

describe('11.9 payload types and the held-record message', () => {
  const notBytes: [string, unknown][] = [
    ['a string', 'a string'],
    ['an array of numbers', [1, 2, 3]],
    ['a Uint16Array (length counts elements, not bytes)', new Uint16Array(4)],
    ['a DataView', new DataView(new ArrayBuffer(8))],
    ['an ArrayBuffer', new ArrayBuffer(8)],
    ['null', null],
    ['a number', 8],
  ];
  for (const [name, value] of notBytes) {
    it(`tryWrite(${name}) is refused with ERR_BAD_ARGUMENT and writes nothing`, async () => {
      const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
      const producer = new RingProducer(ring.buffer, { publish: 'eager' });
      const before = snapshot(ring);
      const error = thrown(() => producer.tryWrite(value as Uint8Array));
      expect(error).toBeInstanceOf(RingUsageError);
      expect(error).toMatchObject({ code: 'ERR_BAD_ARGUMENT', field: 'payload', expected: 'Uint8Array' });
      expect(thrown(() => producer.writeSync(value as Uint8Array))).toMatchObject({ code: 'ERR_BAD_ARGUMENT' });
      await expect(producer.write(value as Uint8Array)).rejects.toMatchObject({ code: 'ERR_BAD_ARGUMENT' });
      expect(snapshot(ring)).toEqual(before);
      expect(tailOf(ring)).toBe(0);
    });
  }

  it('a Buffer is a Uint8Array and is accepted', () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const consumer = new RingConsumer(ring.buffer);
    expect(producer.tryWrite(Buffer.from('abc'))).toBe(true);
    expect(Buffer.from(consumer.tryRead()!.copy()).toString()).toBe('abc');
  });

  for (const [method, take] of [
    ['tryRead()', (c: RingConsumer) => Promise.resolve(c.tryRead())],
    ['read()', (c: RingConsumer) => c.read()],
    ['readSync()', (c: RingConsumer) => Promise.resolve(c.readSync(0))],
  ] as const) {
    it(`ERR_RECORD_HELD names ${method} as the holder`, async () => {
      const ring = plantedRing({ capacity: 1024, maxRecordLength: 64 });
      const producer = new RingProducer(ring.buffer, { publish: 'eager' });
      const consumer = new RingConsumer(ring.buffer);
      producer.tryWrite(payload(1));
      producer.tryWrite(payload(2));
      expect(await take(consumer)).not.toBeNull();
      const error = thrown(() => consumer.tryRead());
      expect(error).toMatchObject({ code: 'ERR_RECORD_HELD' });
      expect((error as Error).message).toContain(`a record from ${method} is held`);
      expect(thrown(() => consumer.poll(() => {}))).toMatchObject({ code: 'ERR_RECORD_HELD' });
      consumer.release();
      expect(consumer.tryRead()!.data[0]).toBe(2);
    });
  }
});

describe('11.10 abort() of a claim that needed wrap padding', () => {
  it('writes nothing and moves nothing; a commit writes the padding then', () => {
    // 256-byte ring, positions planted 24 bytes before the end: a 32-byte slot must wrap.
    const ring = plantedRing({ capacity: 256, maxRecordLength: 64, head: 232 });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const consumer = new RingConsumer(ring.buffer);
    const before = snapshot(ring);
    const payloadOffset = producer.tryClaim(24, 7);
    expect(payloadOffset).toBe(8);
    producer.data.fill(0xab, payloadOffset, payloadOffset + 24);
    producer.abort();
    // Only the payload bytes the caller wrote itself changed; no header, no padding, no position.
    const after = snapshot(ring);
    for (let offset = 0; offset < ring.capacity; offset++) {
      if (offset >= 8 && offset < 32) continue;
      expect(after[offset], `byte ${offset}`).toBe(before[offset]);
    }
    expect(readHeader(ring, 232)).toEqual(readHeaderOf(before, 232));
    expect(tailOf(ring)).toBe(232);
    expect(producer.stats().writePosition).toBe(232);
    expect(consumer.poll(() => {})).toBe(0);

    // The same claim committed: padding over [232, 256), then the record at 0.
    expect(producer.tryClaim(24, 7)).toBe(8);
    producer.commit();
    expect(readHeader(ring, 232)).toEqual({ length: 16, type: PADDING_TYPE });
    expect(readHeader(ring, 0)).toEqual({ length: 24, type: 7 });
    expect(tailOf(ring)).toBe(256 + 32);
    const types: number[] = [];
    expect(consumer.poll((type) => types.push(type))).toBe(1);
    expect(types).toEqual([7]);
  });

  it('tryWrite at the wrap still writes the padding and the record', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 64, head: 232 });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    expect(producer.tryWrite(payload(9, 24), 3)).toBe(true);
    expect(readHeader(ring, 232)).toEqual({ length: 16, type: PADDING_TYPE });
    expect(readHeader(ring, 0)).toEqual({ length: 24, type: 3 });
    expect(tailOf(ring)).toBe(288);
  });

  it('a full ring at the wrap still gets its padding written (agrona PR #239) and published', () => {
    // head at 128, tail at 232: 24 bytes to the end are free, 128 at the start are taken.
    const ring = plantedRing({ capacity: 256, maxRecordLength: 200, head: 128, tail: 232 });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    expect(producer.tryClaim(160, 1)).toBe(-1);
    expect(readHeader(ring, 232)).toEqual({ length: 16, type: PADDING_TYPE });
    expect(tailOf(ring)).toBe(256);
  });
});

function readHeaderOf(bytes: Uint8Array, offset: number): { length: number; type: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { length: view.getUint32(offset, true), type: view.getUint32(offset + 4, true) };
}
