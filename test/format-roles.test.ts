/**
 * What docs/FORMAT.md §3 ("Role states, leaving and liveness") and §5 ("End of stream") promise an
 * independent peer, checked on the shared words of an in-memory ring: the final state of each way of
 * leaving, pids zeroed, re-attaching after CLOSED, a producer facing consumerState CLOSED, waiting
 * flags left alone by attach, and the order of the end-of-stream check.
 */
import { describe, expect, it } from 'vitest';
import { RingConsumer, RingProducer } from '../src/index.js';
import {
  CONSUMER_PID_INDEX,
  CONSUMER_STATE_INDEX,
  CONSUMER_WAITING_INDEX,
  PRODUCER_PID_INDEX,
  PRODUCER_STATE_INDEX,
  PRODUCER_WAITING_INDEX,
  ROLE_ATTACHED,
  ROLE_CLOSED,
  ROLE_DETACHED,
} from '../src/layout.js';
import { plantedRing, setTail, tailOf, thrown } from './support/ring.js';

const word = (words: Int32Array, index: number) => Atomics.load(words, index);

describe('FORMAT.md §3 leaving a role', () => {
  it('close() stores CLOSED (2), a detach stores DETACHED (0), and both zero the pid', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 64 });
    let producer = new RingProducer(ring.buffer);
    let consumer = new RingConsumer(ring.buffer);
    expect([word(ring.words, PRODUCER_STATE_INDEX), word(ring.words, PRODUCER_PID_INDEX)]).toEqual([ROLE_ATTACHED, process.pid]);
    expect([word(ring.words, CONSUMER_STATE_INDEX), word(ring.words, CONSUMER_PID_INDEX)]).toEqual([ROLE_ATTACHED, process.pid]);
    producer.close({ end: false });
    consumer.close({ detach: true });
    expect([word(ring.words, PRODUCER_STATE_INDEX), word(ring.words, PRODUCER_PID_INDEX)]).toEqual([ROLE_DETACHED, 0]);
    expect([word(ring.words, CONSUMER_STATE_INDEX), word(ring.words, CONSUMER_PID_INDEX)]).toEqual([ROLE_DETACHED, 0]);
    producer = new RingProducer(ring.buffer);
    consumer = new RingConsumer(ring.buffer);
    producer.close();
    consumer.close();
    expect([word(ring.words, PRODUCER_STATE_INDEX), word(ring.words, PRODUCER_PID_INDEX)]).toEqual([ROLE_CLOSED, 0]);
    expect([word(ring.words, CONSUMER_STATE_INDEX), word(ring.words, CONSUMER_PID_INDEX)]).toEqual([ROLE_CLOSED, 0]);
  });

  it('a producer attaching after producerState CLOSED reopens the stream for a consumer that has not seen the end', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 64 });
    const consumer = new RingConsumer(ring.buffer);
    const first = new RingProducer(ring.buffer, { publish: 'eager' });
    first.tryWrite(new Uint8Array([1]));
    first.close();
    const second = new RingProducer(ring.buffer, { publish: 'eager' });
    expect(word(ring.words, PRODUCER_STATE_INDEX)).toBe(ROLE_ATTACHED);
    second.tryWrite(new Uint8Array([2]));
    const seen: number[] = [];
    consumer.poll((_type, data, offset) => seen.push(data[offset]));
    expect(seen).toEqual([1, 2]);
    expect(consumer.ended).toBe(false);
    second.close();
    expect(consumer.ended).toBe(true);
  });

  it('consumerState CLOSED: try* calls go on until full, a blocking write then fails with ERR_CLOSED', async () => {
    const ring = plantedRing({ capacity: 64, maxRecordLength: 16 });
    new RingConsumer(ring.buffer).close();
    expect(word(ring.words, CONSUMER_STATE_INDEX)).toBe(ROLE_CLOSED);
    const producer = new RingProducer(ring.buffer, { publish: 'eager', spin: 0 });
    let written = 0;
    while (producer.tryWrite(new Uint8Array(8))) written++;
    expect(written).toBe(4);
    expect(tailOf(ring)).toBe(64);
    expect(thrown(() => producer.writeSync(new Uint8Array(8), 0, 60_000))).toMatchObject({ code: 'ERR_CLOSED' });
    await expect(producer.write(new Uint8Array(8), 0, { timeout: 60_000 })).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('attaching leaves a waiting flag a dead parked side left at 1', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 64 });
    Atomics.store(ring.words, PRODUCER_WAITING_INDEX, 1);
    Atomics.store(ring.words, CONSUMER_WAITING_INDEX, 1);
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const consumer = new RingConsumer(ring.buffer);
    expect(word(ring.words, PRODUCER_WAITING_INDEX)).toBe(1);
    expect(word(ring.words, CONSUMER_WAITING_INDEX)).toBe(1);
    // Only a spurious wake-up for nobody: records still flow.
    expect(producer.tryWrite(new Uint8Array([5]))).toBe(true);
    expect(consumer.tryRead()!.data[0]).toBe(5);
  });
});

describe('FORMAT.md §5 end of stream', () => {
  it('is state CLOSED, then the tail reloaded, then everything read', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 64 });
    const producer = new RingProducer(ring.buffer, { publish: 'manual' });
    const consumer = new RingConsumer(ring.buffer);
    producer.tryWrite(new Uint8Array([1]));
    producer.close(); // publishes, then CLOSED
    // CLOSED with a record left: not ended until it is read.
    expect(consumer.ended).toBe(false);
    expect(consumer.poll(() => {})).toBe(1);
    expect(consumer.ended).toBe(true);
    // A tail that moves after CLOSED (a reopened stream) is seen by the reload: not ended.
    setTail(ring, 32);
    expect(consumer.ended).toBe(false);
  });
});
