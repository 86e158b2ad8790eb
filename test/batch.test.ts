/**
 * The batch paths (src/batch.ts) with planted positions: one store of the tail per producer batch
 * and one of the head per consumer batch, wrap padding (also when the record then does not fit),
 * a full ring as a normal result, abort, the refusals, and positions wrapping through 2^32.
 * The many-lap thread runs are in ring-threads.test.ts ('batch paths ...').
 */
import { describe, expect, it } from 'vitest';
import { RingConsumer, RingProducer } from '../src/index.js';
import { PADDING_TYPE } from '../src/layout.js';
import { headOf, plantedRing, readHeader, setHead, tailOf, taggedPayload } from './support/ring.js';

function readAll(consumer: RingConsumer): Array<[number, number[]]> {
  const records: Array<[number, number[]]> = [];
  const batch = consumer.batch();
  while (batch.next()) records.push([batch.type, [...batch.data.subarray(batch.offset, batch.offset + batch.length)]]);
  batch.release();
  return records;
}

describe('producer batch', () => {
  it('publishes every record of the batch with one store of the tail, across the 2^32 wrap', () => {
    const start = 0xffffff00;
    const ring = plantedRing({ capacity: 1024, head: start });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const consumer = new RingConsumer(ring.buffer);
    const batch = producer.batch();
    for (let n = 0; n < 20; n++) {
      const at = batch.claim(24, n);
      expect(at).toBeGreaterThanOrEqual(0);
      batch.data.set(taggedPayload(n, 24), at);
      expect(tailOf(ring), 'nothing visible before publish').toBe(start);
    }
    expect(batch.count).toBe(20);
    expect(batch.publish()).toBe(20);
    expect(tailOf(ring)).toBe((start + 20 * 32) >>> 0);
    const records = readAll(consumer);
    expect(records.map(([type]) => type)).toEqual([...Array(20).keys()]);
    records.forEach(([, bytes], n) => expect(bytes).toEqual([...taggedPayload(n, 24)]));
    expect(headOf(ring)).toBe((start + 20 * 32) >>> 0);
  });

  it('pads at the end of the ring and puts the record at the start', () => {
    const ring = plantedRing({ capacity: 256, head: 200 });
    const producer = new RingProducer(ring.buffer);
    const consumer = new RingConsumer(ring.buffer);
    const batch = producer.batch();
    expect(batch.claim(40, 1)).toBe(208); // offset 200: record of 48 bytes fits exactly before the end
    expect(batch.claim(16, 2)).toBe(8); // needs the start: padding of 0 bytes left, record at 0
    batch.publish();
    expect(readAll(consumer).map(([type]) => type)).toEqual([1, 2]);
  });

  it('a record that does not fit is -1; the wrap padding it needed is still published, so the consumer frees the start (agrona #239)', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 248 });
    const producer = new RingProducer(ring.buffer, { publish: 'manual' });
    const consumer = new RingConsumer(ring.buffer);
    producer.tryWrite(taggedPayload(0, 100), 0); // [0, 112)
    producer.tryWrite(taggedPayload(1, 100), 1); // [112, 224)
    producer.flush();
    const first = consumer.batch(1);
    first.next();
    first.release(); // head 112: [0, 112) free, [112, 224) unread
    const batch = producer.batch();
    expect(batch.claim(8, 2)).toBe(232); // [224, 240)
    expect(batch.claim(150, 3)).toBe(-1); // needs 160 at the start: only 112 free there
    expect(readHeader(ring, 240)).toEqual({ length: 8, type: PADDING_TYPE });
    expect(batch.count).toBe(1);
    expect(batch.publish()).toBe(1);
    expect(tailOf(ring)).toBe(256);
    expect(readAll(consumer).map(([type]) => type)).toEqual([1, 2]);
    expect(headOf(ring)).toBe(256); // past the padding: the whole ring is free again
    const next = producer.batch();
    expect(next.claim(150, 3)).toBe(8);
    next.publish();
  });

  it('a full ring is a normal result, and room made by the consumer is seen within the same batch', () => {
    const ring = plantedRing({ capacity: 128, maxRecordLength: 64 });
    const producer = new RingProducer(ring.buffer);
    const consumer = new RingConsumer(ring.buffer);
    const first = producer.batch();
    expect([first.claim(56, 1), first.claim(56, 2), first.claim(0, 3)]).toEqual([8, 72, -1]);
    first.publish();
    const batch = producer.batch();
    expect(batch.claim(8, 4)).toBe(-1);
    const read = consumer.batch(1);
    expect(read.next()).toBe(true);
    expect(read.next()).toBe(false); // the limit
    expect(read.release()).toBe(1);
    expect(batch.claim(8, 4)).toBe(8);
    expect(batch.publish()).toBe(1);
    expect(readAll(consumer).map(([type]) => type)).toEqual([2, 4]);
  });

  it('abort drops the batch: nothing published, the next batch starts where it began', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 128, head: 64 });
    const producer = new RingProducer(ring.buffer);
    const consumer = new RingConsumer(ring.buffer);
    const doomed = producer.batch();
    doomed.claim(100, 9);
    doomed.claim(8, 9);
    doomed.abort();
    expect(tailOf(ring)).toBe(64);
    expect(producer.stats().writePosition).toBe(64);
    const batch = producer.batch();
    expect(batch.write(taggedPayload(5, 5), 5)).toBe(true);
    expect(batch.writeAll([taggedPayload(6, 6), taggedPayload(7, 7)], 6)).toBe(2);
    batch.publish();
    expect(readAll(consumer)).toEqual([
      [5, [...taggedPayload(5, 5)]],
      [6, [...taggedPayload(6, 6)]],
      [6, [...taggedPayload(7, 7)]],
    ]);
  });

  it('refuses single-record calls while a batch is open, batch calls without one, and drops an open batch at close', () => {
    const ring = plantedRing({ capacity: 256 });
    const producer = new RingProducer(ring.buffer);
    const batch = producer.batch();
    batch.claim(8, 1);
    expect(() => producer.tryWrite(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'ERR_CLAIM_OPEN' }));
    expect(() => producer.tryClaim(1)).toThrow(expect.objectContaining({ code: 'ERR_CLAIM_OPEN' }));
    expect(() => producer.batch()).toThrow(expect.objectContaining({ code: 'ERR_CLAIM_OPEN' }));
    expect(() => batch.write('text' as never)).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARGUMENT' }));
    expect(() => batch.claim(300, 1)).toThrow(expect.objectContaining({ code: 'ERR_RECORD_TOO_LONG' }));
    expect(() => batch.claim(1, 70000)).toThrow(expect.objectContaining({ code: 'ERR_BAD_TYPE' }));
    producer.flush(); // an open batch is not published by flush()
    expect(tailOf(ring)).toBe(0);
    batch.publish();
    expect(() => batch.claim(8, 1)).toThrow(expect.objectContaining({ code: 'ERR_NO_CLAIM' }));
    expect(() => batch.publish()).toThrow(expect.objectContaining({ code: 'ERR_NO_CLAIM' }));
    const open = producer.batch();
    open.claim(8, 2);
    producer.close();
    expect(tailOf(ring)).toBe(16); // the first batch only
  });
});

describe('consumer batch', () => {
  it('releases with one store of the head, refuses other reads while open, and validates every record', () => {
    const ring = plantedRing({ capacity: 256 });
    const producer = new RingProducer(ring.buffer, { publish: 'manual' });
    const consumer = new RingConsumer(ring.buffer);
    for (let n = 0; n < 5; n++) producer.tryWrite(taggedPayload(n, n + 1), n);
    producer.flush();
    const batch = consumer.batch();
    expect(batch.next()).toBe(true);
    expect(batch.next()).toBe(true);
    expect(headOf(ring)).toBe(0);
    expect(() => consumer.tryRead()).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    expect(() => consumer.poll(() => {})).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    expect(() => consumer.batch()).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    expect(batch.release()).toBe(2);
    expect(headOf(ring)).toBe(32);
    expect(() => batch.next()).toThrow(expect.objectContaining({ code: 'ERR_NO_RECORD' }));
    expect(() => consumer.batch(0)).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', field: 'limit' }));
    // A corrupt length in the next record is refused, naming the field.
    ring.view.setUint32(32, 4000, true);
    const corrupt = consumer.batch();
    expect(() => corrupt.next()).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT', field: 'record.length' }));
  });
});
