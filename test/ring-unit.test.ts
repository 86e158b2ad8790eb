/**
 * Planted-position unit tests of the in-memory ring (docs/FORMAT.md §4, §5), in the manner of aeron's
 * aeron_spsc_rb_test.cpp and agrona's OneToOneRingBufferTest: head and tail are written straight into
 * the header before a side attaches, so wrap, padding, full and exactly-fits states are reached
 * directly, and each assertion looks at the raw shared words and bytes as well as the API results.
 */
import { describe, expect, it } from 'vitest';
import {
  RingClosedError,
  RingConsumer,
  RingProducer,
  RingUsageError,
  createRing,
  type RecordView,
} from '../src/index.js';
import {
  HEAD_INDEX,
  PADDING_TYPE,
  PRODUCER_STATE_INDEX,
  ROLE_ATTACHED,
  ROLE_CLOSED,
  ROLE_DETACHED,
  TAIL_INDEX,
  recordSlotLength,
} from '../src/layout.js';
import { checkStreamRecord, fillStreamPayload, streamLength } from '../src/teststream.js';
import {
  changedOffsets,
  drain,
  fillNoise,
  headOf,
  plantRecords,
  plantedRing,
  readHeader,
  seededRandom,
  snapshot,
  tailOf,
  taggedPayload,
  takeRecord,
  testSeed,
  thrown,
  type PlantedRing,
} from './support/ring.js';

/** Attaches both sides to a planted ring. */
function attach(ring: PlantedRing, producerOptions: ConstructorParameters<typeof RingProducer>[1] = { publish: 'eager' }) {
  return { producer: new RingProducer(ring.buffer, producerOptions), consumer: new RingConsumer(ring.buffer) };
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

describe('empty ring', () => {
  for (const position of [0, 0x7fffffc0, 0xffffffc0]) {
    it(`at position ${position.toString(16)}: nothing to read, everything free`, () => {
      const ring = plantedRing({ capacity: 256, maxRecordLength: 64, head: position });
      const { producer, consumer } = attach(ring);
      let calls = 0;
      expect(consumer.poll(() => calls++)).toBe(0);
      expect(calls).toBe(0);
      expect(consumer.tryRead()).toBeNull();
      expect(consumer.ended).toBe(false);
      expect(consumer.stats()).toMatchObject({ head: position, tail: position, readPosition: position, bytesInFlight: 0, recordsInFlight: 0 });
      expect(producer.stats()).toMatchObject({ head: position, tail: position, writePosition: position, bytesInFlight: 0 });
      // Nothing moved while looking.
      expect(headOf(ring)).toBe(position);
      expect(tailOf(ring)).toBe(position);
    });
  }
});

describe('full ring', () => {
  it('tryWrite returns false and overwrites nothing when the ring is exactly full', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 120, head: 0x1000 });
    const { producer, consumer } = attach(ring);
    // 4 records of slot 64 fill 256 bytes exactly.
    for (let tag = 0; tag < 4; tag++) expect(producer.tryWrite(taggedPayload(tag, 56), tag)).toBe(true);
    expect(tailOf(ring) - headOf(ring)).toBe(256);
    const before = snapshot(ring);
    for (const length of [0, 1, 56, 120]) {
      expect(producer.tryWrite(taggedPayload(9, length), 9)).toBe(false);
      expect(producer.tryClaim(length, 9)).toBe(-1);
      expect(producer.claim(length, 9)).toBeNull();
      expect(producer.claiming).toBe(false);
    }
    expect(changedOffsets(ring, before)).toEqual([]);
    expect(tailOf(ring)).toBe(0x1000 + 256);
    const records = drain(consumer);
    expect(records.map((r) => r.type)).toEqual([0, 1, 2, 3]);
    records.forEach((r, tag) => expect(r.bytes).toEqual(taggedPayload(tag, 56)));
  });

  it('a full ring planted directly (tail = head + capacity) is full for a new producer', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 120, head: 0x100 });
    const end = plantRecords(ring, 0x100, [0, 1, 2, 3].map((tag) => ({ length: 56, type: tag, tag })));
    expect(end).toBe(0x200);
    ring.words[TAIL_INDEX] = end;
    const before = snapshot(ring);
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(new Uint8Array(0))).toBe(false);
    expect(producer.stats()).toMatchObject({ bytesInFlight: 256, head: 0x100, tail: 0x200 });
    expect(changedOffsets(ring, before)).toEqual([]);
    // One released record of 64 bytes makes room for exactly one more.
    expect(drain(consumer, 1).map((r) => r.type)).toEqual([0]);
    expect(producer.tryWrite(taggedPayload(4, 56), 4)).toBe(true);
    expect(producer.tryWrite(new Uint8Array(0))).toBe(false);
    expect(drain(consumer).map((r) => r.type)).toEqual([1, 2, 3, 4]);
  });

  it('a manual-policy producer publishes its pending batch when it reports full', () => {
    const ring = plantedRing({ capacity: 128, maxRecordLength: 56 });
    const { producer, consumer } = attach(ring, { publish: 'manual' });
    expect(producer.tryWrite(taggedPayload(0, 56), 0)).toBe(true);
    expect(producer.tryWrite(taggedPayload(1, 56), 1)).toBe(true);
    expect(tailOf(ring)).toBe(0);
    expect(producer.tryWrite(taggedPayload(2, 56), 2)).toBe(false);
    // Otherwise the consumer could never make room for a producer waiting on its own batch.
    expect(tailOf(ring)).toBe(128);
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1]);
  });
});

describe('exactly fits at the end', () => {
  it('a record ending exactly at capacity needs no padding and the next record starts at offset 0', () => {
    const capacity = 256;
    const start = 3 * capacity + 192;
    const ring = plantedRing({ capacity, maxRecordLength: 120, head: start });
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(taggedPayload(1, 56), 1)).toBe(true); // slot 64: [192, 256)
    expect(readHeader(ring, 192)).toEqual({ length: 56, type: 1 });
    expect(tailOf(ring)).toBe(start + 64);
    expect(tailOf(ring) & (capacity - 1)).toBe(0);
    expect(producer.tryWrite(taggedPayload(2, 8), 2)).toBe(true);
    expect(readHeader(ring, 0)).toEqual({ length: 8, type: 2 });
    expect(tailOf(ring)).toBe(start + 64 + 16);
    const records = drain(consumer);
    expect(records.map((r) => [r.type, r.offset])).toEqual([
      [1, 200],
      [2, 8],
    ]);
    expect(records[0].bytes).toEqual(taggedPayload(1, 56));
    expect(headOf(ring)).toBe(start + 80);
  });

  it('a record one alignment unit longer than the space to the end wraps with padding instead', () => {
    const capacity = 256;
    const ring = plantedRing({ capacity, maxRecordLength: 120, head: 192 });
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(taggedPayload(1, 57), 1)).toBe(true); // slot 72 > 64
    expect(readHeader(ring, 192)).toEqual({ length: 56, type: PADDING_TYPE });
    expect(readHeader(ring, 0)).toEqual({ length: 57, type: 1 });
    expect(tailOf(ring)).toBe(192 + 64 + 72);
    expect(drain(consumer).map((r) => [r.type, r.offset, r.bytes.length])).toEqual([[1, 8, 57]]);
  });
});

describe('wrap with padding', () => {
  it('writes a padding record covering the rest of the data area, the record at offset 0, and the consumer skips the padding', () => {
    const capacity = 256;
    const start = 0x5000 + 224; // toEnd = 32
    const ring = plantedRing({ capacity, maxRecordLength: 200, head: start });
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(taggedPayload(7, 40), 7)).toBe(true); // slot 48 > 32
    // Padding: length = capacity - offset - 8, type 0xFFFFFFFF.
    expect(readHeader(ring, 224)).toEqual({ length: capacity - 224 - 8, type: 0xffffffff });
    expect(readHeader(ring, 0)).toEqual({ length: 40, type: 7 });
    expect(tailOf(ring)).toBe(start + 32 + 48);
    expect(consumer.stats()).toMatchObject({ recordsInFlight: 1, bytesInFlight: 80 });
    const seen: Array<[number, number, number]> = [];
    expect(
      consumer.poll((type, data, offset, length) => {
        seen.push([type, offset, length]);
        expect(data.subarray(offset, offset + length)).toEqual(taggedPayload(7, 40));
      }),
    ).toBe(1);
    expect(seen).toEqual([[7, 8, 40]]);
    expect(headOf(ring)).toBe(start + 80);
  });

  it('tryRead skips the padding too', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 200, head: 224 });
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(taggedPayload(3, 100), 3)).toBe(true);
    const record = consumer.tryRead() as RecordView;
    expect(record).not.toBeNull();
    expect([record.type, record.offset, record.length]).toEqual([3, 8, 100]);
    expect(record.data).toEqual(taggedPayload(3, 100));
    consumer.release();
    expect(headOf(ring)).toBe(224 + 32 + 112);
  });

  it('at the u32 wrap point, padding and record positions wrap modulo 2^32', () => {
    const start = 0xffffffe0; // offset 224 of a 256-byte ring, 32 bytes before 2^32
    const ring = plantedRing({ capacity: 256, maxRecordLength: 200, head: start });
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(taggedPayload(5, 60), 5)).toBe(true);
    expect(readHeader(ring, 224).type).toBe(PADDING_TYPE);
    expect(tailOf(ring)).toBe(((start + 32 + 72) >>> 0));
    expect(tailOf(ring)).toBe(72);
    expect(drain(consumer).map((r) => [r.type, r.offset])).toEqual([[5, 8]]);
    expect(headOf(ring)).toBe(72);
  });
});

describe('padding needed while the start is still occupied (agrona PR #239)', () => {
  // capacity 256, unread records in [0, 160), tail at offset 160: 96 bytes to the end, none free at
  // the start. A record of slot 200 (> 96, and > 256 - 96 = 160) can only ever be placed at offset 0
  // once the padding [160, 256) exists and the consumer has passed it.
  function setup() {
    const capacity = 256;
    const start = 7 * capacity;
    const ring = plantedRing({ capacity, maxRecordLength: capacity - 8, head: start });
    fillNoise(ring, 0xabc);
    const tail = plantRecords(ring, start, [0, 1, 2, 3, 4].map((tag) => ({ length: 24, type: tag, tag })));
    expect(tail).toBe(start + 160);
    ring.words[TAIL_INDEX] = tail;
    return { ring, start, tail, ...attach(ring) };
  }

  it('writes and publishes the padding although the record does not fit yet; the record fits once the consumer passes it', () => {
    const { ring, start, producer, consumer } = setup();
    const before = snapshot(ring);
    const big = taggedPayload(42, 192); // slot 200
    expect(producer.tryWrite(big, 42)).toBe(false);
    // The padding header is the only change, and it lies in free space.
    expect(changedOffsets(ring, before)).toEqual([160, 161, 162, 163, 164, 165, 166, 167]);
    expect(readHeader(ring, 160)).toEqual({ length: 88, type: PADDING_TYPE });
    expect(tailOf(ring)).toBe(start + 256);
    // Still full until the consumer moves.
    expect(producer.tryWrite(big, 42)).toBe(false);
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1, 2, 3, 4]);
    expect(headOf(ring)).toBe(start + 256);
    expect(producer.tryWrite(big, 42)).toBe(true);
    expect(readHeader(ring, 0)).toEqual({ length: 192, type: 42 });
    const records = drain(consumer);
    expect(records.map((r) => [r.type, r.offset])).toEqual([[42, 8]]);
    expect(records[0].bytes).toEqual(big);
  });

  it('a consumer reading with tryRead/release also frees the padding, so the record can be placed', () => {
    const { ring, start, producer, consumer } = setup();
    const big = taggedPayload(42, 192);
    expect(producer.tryWrite(big, 42)).toBe(false);
    for (let tag = 0; tag < 5; tag++) {
      const record = consumer.tryRead() as RecordView;
      expect(record.type).toBe(tag);
      takeRecord(consumer, record);
    }
    // Only the padding is left: tryRead finds no record. The padding must be released with it, or a
    // consumer now parked in readSync() and a producer waiting for this space wait for each other forever.
    expect(consumer.tryRead()).toBeNull();
    expect(headOf(ring)).toBe(start + 256);
    expect(producer.tryWrite(big, 42)).toBe(true);
    const record = consumer.tryRead() as RecordView;
    expect([record.type, record.offset]).toEqual([42, 8]);
    expect(record.data).toEqual(big);
    consumer.release();
  });

  it('readSync() of a worker-style consumer returns the record that needed the padding (no mutual wait)', () => {
    const { producer, consumer } = setup();
    const big = taggedPayload(42, 192);
    expect(producer.tryWrite(big, 42)).toBe(false);
    for (let tag = 0; tag < 5; tag++) takeRecord(consumer, consumer.readSync(1000) as RecordView);
    // The producer retries only when the head moves past what it saw; the padding was the last thing read.
    expect(consumer.readSync(0)).toBeNull();
    expect(producer.tryWrite(big, 42)).toBe(true);
    expect(takeRecord(consumer, consumer.readSync(1000) as RecordView).bytes).toEqual(big);
  });
});

describe('neither end has room (aeron PR #2015)', () => {
  it('tail after head: room neither at the end nor at the start: claim fails and only the padding header changes', () => {
    const capacity = 256;
    const head = 64;
    const ring = plantedRing({ capacity, maxRecordLength: 200, head });
    fillNoise(ring, 0x2015);
    const tail = plantRecords(ring, head, [0, 1, 2, 3, 4].map((tag) => ({ length: 24, type: tag, tag })));
    expect(tail).toBe(224); // unread [64, 224); free: 32 at the end, 64 at the start
    ring.words[TAIL_INDEX] = tail;
    const { producer, consumer } = attach(ring);
    const before = snapshot(ring);
    expect(producer.tryClaim(80, 9)).toBe(-1); // slot 88
    expect(producer.claim(80, 9)).toBeNull();
    expect(producer.tryWrite(taggedPayload(9, 80), 9)).toBe(false);
    const changed = changedOffsets(ring, before);
    // Every unread byte [64, 224) and the free start [0, 64) are untouched; only a padding header
    // may appear in the free end.
    expect(changed.every((offset) => offset >= 224 && offset < 232)).toBe(true);
    if (changed.length > 0) expect(readHeader(ring, 224)).toEqual({ length: 24, type: PADDING_TYPE });
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1, 2, 3, 4]);
  });

  it('tail wrapped behind head: the free gap is smaller than the record: nothing at all changes', () => {
    const capacity = 256;
    const head = 160;
    const ring = plantedRing({ capacity, maxRecordLength: 200, head });
    fillNoise(ring, 0x2016);
    // Unread [160, 256) then [0, 64): free [64, 160) = 96 bytes.
    const tail = plantRecords(ring, head, [0, 1, 2, 3, 4].map((tag) => ({ length: 24, type: tag, tag })));
    expect(tail).toBe(256 + 64);
    ring.words[TAIL_INDEX] = tail;
    const { producer, consumer } = attach(ring);
    const before = snapshot(ring);
    for (const length of [96, 100, 120, 200]) {
      expect(producer.tryClaim(length, 9)).toBe(-1);
      expect(producer.tryWrite(taggedPayload(9, length), 9)).toBe(false);
    }
    expect(changedOffsets(ring, before)).toEqual([]);
    expect(tailOf(ring)).toBe(tail);
    // A record that fits the gap goes exactly there.
    expect(producer.tryClaim(88, 9)).toBe(64 + 8);
    producer.abort();
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('positions near 2^32', () => {
  for (const start of [0xffffff00, 0x7fffff00, 0xfffffff8, 0xffff0000]) {
    it(`records keep flowing across the u32 wrap (start ${start.toString(16)})`, () => {
      const seed = testSeed('u32-wrap');
      const random = seededRandom(seed);
      const capacity = 1024;
      const maxLength = 200;
      const ring = plantedRing({ capacity, maxRecordLength: maxLength, head: start });
      const { producer, consumer } = attach(ring, { publish: 'manual' });
      const total = 20_000;
      let written = 0;
      let read = 0;
      let bytes = 0;
      // The boundary this run must cross: 2^32 (u32 wrap) or 2^31 (the int32 sign of the stored words).
      const toBoundary = ((start >= 0x80000000 ? 0 : 0x80000000) - start) >>> 0;
      let crossed = false;
      while (read < total) {
        // Write a random burst until full or done, publish, then read a random number back.
        const burst = random() % 12;
        for (let i = 0; i < burst && written < total; i++) {
          const length = streamLength(seed, written, maxLength);
          const offset = producer.tryClaim(length, written & 0xffff);
          if (offset < 0) break;
          fillStreamPayload(producer.data, offset, length, seed, written);
          producer.commit();
          bytes += recordSlotLength(length);
          written++;
        }
        producer.flush();
        consumer.poll((type, data, offset, length) => {
          const problem = checkStreamRecord(seed, read, maxLength, type, data, offset, length);
          if (problem !== null) throw new Error(problem);
          read++;
        }, 1 + (random() % 12));
        if (((headOf(ring) - start) >>> 0) >= toBoundary) crossed = true;
      }
      expect(written).toBe(total);
      expect(crossed).toBe(true);
      // Padding makes the end position at least start + bytes; both sides agree on it.
      expect(headOf(ring)).toBe(tailOf(ring));
      expect(((headOf(ring) - start) >>> 0) >= bytes).toBe(true);
      expect(producer.stats()).toMatchObject({ bytesInFlight: 0, recordsWritten: total });
      expect(consumer.stats()).toMatchObject({ bytesInFlight: 0, recordsRead: total, recordsInFlight: 0 });
    });
  }
});

describe('record sizes', () => {
  it('a record of exactly maxRecordLength is accepted; zero-length records carry their type', () => {
    const ring = plantedRing({ capacity: 512, maxRecordLength: 100, head: 64 });
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(taggedPayload(1, 100), 1)).toBe(true);
    expect(producer.tryWrite(new Uint8Array(0), 0xffff)).toBe(true);
    expect(producer.tryWrite(new Uint8Array(0), 0)).toBe(true);
    expect(tailOf(ring)).toBe(64 + 112 + 8 + 8);
    const records = drain(consumer);
    expect(records.map((r) => [r.type, r.bytes.length])).toEqual([
      [1, 100],
      [0xffff, 0],
      [0, 0],
    ]);
    expect(records[0].bytes).toEqual(taggedPayload(1, 100));
  });

  it('maxRecordLength = capacity - 8: one record fills the whole ring; off offset 0 it waits for its padding to be read', () => {
    const capacity = 128;
    for (const start of [0, 8, 120, 0xfffffff8]) {
      const ring = plantedRing({ capacity, maxRecordLength: capacity - 8, head: start });
      const { producer, consumer } = attach(ring);
      if ((start & (capacity - 1)) !== 0) {
        // The record needs the whole data area: the padding to the end goes first and must be consumed.
        expect(producer.tryWrite(taggedPayload(9, capacity - 8), 9)).toBe(false);
        expect(readHeader(ring, start & (capacity - 1))).toEqual({ length: capacity - (start & (capacity - 1)) - 8, type: PADDING_TYPE });
        expect(consumer.poll(() => undefined)).toBe(0);
        expect(headOf(ring) & (capacity - 1)).toBe(0);
      }
      for (let round = 0; round < 3; round++) {
        expect(producer.tryWrite(taggedPayload(round, capacity - 8), round)).toBe(true);
        expect(producer.tryWrite(new Uint8Array(0))).toBe(false);
        const records = drain(consumer);
        expect(records.map((r) => [r.type, r.offset])).toEqual([[round, 8]]);
        expect(records[0].bytes).toEqual(taggedPayload(round, capacity - 8));
      }
    }
  });

  it('zero-length zero-copy claims', () => {
    const ring = plantedRing({ capacity: 64, maxRecordLength: 56 });
    const { producer, consumer } = attach(ring);
    const view = producer.claim(0, 12) as Uint8Array;
    expect(view.length).toBe(0);
    producer.commit();
    expect(drain(consumer).map((r) => [r.type, r.bytes.length])).toEqual([[12, 0]]);
  });
});

describe('claim, commit, abort', () => {
  it('abort after claim leaves nothing visible and the next claim reuses the space', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 100, head: 32 });
    const { producer, consumer } = attach(ring);
    const first = producer.tryClaim(40, 1);
    expect(first).toBe(32 + 8);
    producer.data.fill(0xee, first, first + 40);
    producer.abort();
    expect(producer.claiming).toBe(false);
    producer.flush();
    expect(tailOf(ring)).toBe(32);
    expect(consumer.poll(() => undefined)).toBe(0);
    const again = producer.claim(40, 2) as Uint8Array;
    expect(again.byteOffset - producer.data.byteOffset).toBe(first);
    again.set(taggedPayload(2, 40));
    producer.commit();
    expect(drain(consumer).map((r) => [r.type, r.offset])).toEqual([[2, first]]);
    expect(producer.stats().recordsWritten).toBe(1);
  });

  it('abort of a claim that wrapped keeps the padding but shows the consumer no record', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 100, head: 224 });
    const { producer, consumer } = attach(ring);
    expect(producer.tryClaim(40, 1)).toBe(8);
    producer.abort();
    producer.flush();
    expect(drain(consumer)).toEqual([]);
    expect(producer.tryClaim(40, 2)).toBe(8);
    producer.commit();
    expect(drain(consumer).map((r) => [r.type, r.offset])).toEqual([[2, 8]]);
  });

  it('misuse: commit twice, commit or abort without a claim, claiming or writing with a claim open', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 100 });
    const { producer } = attach(ring);
    for (const misuse of [() => producer.commit(), () => producer.abort()]) {
      const error = thrown(misuse);
      expect(error).toBeInstanceOf(RingUsageError);
      expect(codeOf(error)).toBe('ERR_NO_CLAIM');
    }
    expect(producer.tryClaim(8)).toBeGreaterThanOrEqual(0);
    for (const misuse of [() => producer.tryClaim(8), () => producer.claim(8), () => producer.tryWrite(new Uint8Array(8))]) {
      const error = thrown(misuse);
      expect(error).toBeInstanceOf(RingUsageError);
      expect(codeOf(error)).toBe('ERR_CLAIM_OPEN');
    }
    // The open claim survived the refused calls.
    expect(producer.claiming).toBe(true);
    producer.commit();
    expect(codeOf(thrown(() => producer.commit()))).toBe('ERR_NO_CLAIM');
    expect(producer.stats().recordsWritten).toBe(1);
    expect(tailOf(ring)).toBe(16);
  });
});

describe('reading in place', () => {
  it('a released view throws ERR_RELEASED instead of exposing bytes the producer may overwrite (rigtorp #35)', () => {
    const ring = plantedRing({ capacity: 64, maxRecordLength: 24 });
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(taggedPayload(1, 24), 1)).toBe(true);
    const record = consumer.tryRead() as RecordView;
    expect(record.released).toBe(false);
    expect(record.data).toEqual(taggedPayload(1, 24));
    const copy = record.copy();
    consumer.release();
    expect(record.released).toBe(true);
    const error = thrown(() => record.data);
    expect(error).toBeInstanceOf(RingUsageError);
    expect(codeOf(error)).toBe('ERR_RELEASED');
    expect(codeOf(thrown(() => record.copy()))).toBe('ERR_RELEASED');
    expect(codeOf(thrown(() => record.release()))).toBe('ERR_RELEASED');
    // The producer really does reuse those bytes now.
    expect(producer.tryWrite(taggedPayload(2, 24), 2)).toBe(true);
    expect(producer.tryWrite(taggedPayload(3, 24), 3)).toBe(true);
    expect(producer.data.subarray(record.offset, record.offset + 24)).toEqual(taggedPayload(3, 24));
    expect(copy).toEqual(taggedPayload(1, 24));
    // A newer view is unaffected by the old one.
    const next = consumer.tryRead() as RecordView;
    expect(next.data).toEqual(taggedPayload(2, 24));
    expect(record.released).toBe(true);
    next.release();
    expect(next.released).toBe(true);
  });

  it('one record held at a time: tryRead/poll while holding and release without holding are errors', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 24 });
    const { producer, consumer } = attach(ring);
    expect(producer.tryWrite(taggedPayload(1, 8), 1)).toBe(true);
    expect(producer.tryWrite(taggedPayload(2, 8), 2)).toBe(true);
    expect(codeOf(thrown(() => consumer.release()))).toBe('ERR_NO_RECORD');
    const record = consumer.tryRead() as RecordView;
    expect(codeOf(thrown(() => consumer.tryRead()))).toBe('ERR_RECORD_HELD');
    expect(codeOf(thrown(() => consumer.poll(() => undefined)))).toBe('ERR_RECORD_HELD');
    // Holding does not release: the producer still sees both records in flight.
    expect(headOf(ring)).toBe(0);
    expect(consumer.ended).toBe(false);
    record.release();
    expect(headOf(ring)).toBe(16);
    expect(drain(consumer).map((r) => r.type)).toEqual([2]);
  });
});

describe('poll', () => {
  it('honours the limit and stores the head once, after the batch', () => {
    const start = 0x40;
    const ring = plantedRing({ capacity: 512, maxRecordLength: 40, head: start });
    const { producer, consumer } = attach(ring);
    for (let tag = 0; tag < 10; tag++) expect(producer.tryWrite(taggedPayload(tag, 16 + tag), tag)).toBe(true);
    const headsInHandler: number[] = [];
    const types: number[] = [];
    const handled = consumer.poll((type, data, offset, length) => {
      headsInHandler.push(headOf(ring));
      types.push(type);
      expect(data.subarray(offset, offset + length)).toEqual(taggedPayload(type, 16 + type));
    }, 4);
    expect(handled).toBe(4);
    expect(types).toEqual([0, 1, 2, 3]);
    // The producer could not see any of the batch released while it was being handled.
    expect(headsInHandler).toEqual([start, start, start, start]);
    const afterFour = start + [0, 1, 2, 3].reduce((sum, tag) => sum + recordSlotLength(16 + tag), 0);
    expect(headOf(ring)).toBe(afterFour);
    expect(consumer.stats()).toMatchObject({ recordsRead: 4, recordsInFlight: 6 });
    const rest: number[] = [];
    expect(
      consumer.poll((type) => {
        rest.push(type);
        expect(headOf(ring)).toBe(afterFour);
      }),
    ).toBe(6);
    expect(rest).toEqual([4, 5, 6, 7, 8, 9]);
    expect(headOf(ring)).toBe(tailOf(ring));
    // A limit of 0 would let a waiting poll loop forever (issue 10.4): refused, see test/waits.test.ts.
    expect(() => consumer.poll(() => undefined, 0)).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', field: 'limit' }));
  });

  it('a throwing handler consumes the records up to and including its own, and the error propagates', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 40 });
    const { producer, consumer } = attach(ring);
    for (let tag = 0; tag < 5; tag++) producer.tryWrite(taggedPayload(tag, 8), tag);
    const boom = new Error('boom');
    expect(
      thrown(() =>
        consumer.poll((type) => {
          if (type === 2) throw boom;
        }),
      ),
    ).toBe(boom);
    expect(headOf(ring)).toBe(3 * 16);
    expect(drain(consumer).map((r) => r.type)).toEqual([3, 4]);
    expect(consumer.stats().recordsRead).toBe(5);
  });
});

describe('publish policies', () => {
  it("'manual': nothing is visible until flush(), not even after the event loop turns", async () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 40 });
    const { producer, consumer } = attach(ring, { publish: 'manual' });
    for (let tag = 0; tag < 3; tag++) producer.tryWrite(taggedPayload(tag, 8), tag);
    expect(tailOf(ring)).toBe(0);
    expect(producer.stats().pendingRecords).toBe(3);
    await new Promise((resolve) => setImmediate(resolve));
    expect(tailOf(ring)).toBe(0);
    expect(consumer.poll(() => undefined)).toBe(0);
    producer.flush();
    expect(tailOf(ring)).toBe(48);
    expect(producer.stats().pendingRecords).toBe(0);
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1, 2]);
  });

  it("'eager': each commit is visible at once", () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 40 });
    const { producer } = attach(ring, { publish: 'eager' });
    producer.tryWrite(taggedPayload(0, 8), 0);
    expect(tailOf(ring)).toBe(16);
    producer.tryClaim(16, 1);
    expect(tailOf(ring)).toBe(16);
    producer.commit();
    expect(tailOf(ring)).toBe(40);
  });

  it("'auto': published after batchRecords records", () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 40 });
    const { producer } = attach(ring, { publish: 'auto', batchRecords: 4, batchBytes: 10_000 });
    for (let tag = 0; tag < 3; tag++) producer.tryWrite(taggedPayload(tag, 8), tag);
    expect(tailOf(ring)).toBe(0);
    producer.tryWrite(taggedPayload(3, 8), 3);
    expect(tailOf(ring)).toBe(64);
    producer.tryWrite(taggedPayload(4, 8), 4);
    expect(tailOf(ring)).toBe(64);
  });

  it("'auto': published after batchBytes bytes", () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 100 });
    const { producer } = attach(ring, { publish: 'auto', batchRecords: 1000, batchBytes: 100 });
    producer.tryWrite(taggedPayload(0, 40), 0); // 48 pending
    expect(tailOf(ring)).toBe(0);
    producer.tryWrite(taggedPayload(1, 40), 1); // 96 pending
    expect(tailOf(ring)).toBe(0);
    producer.tryWrite(taggedPayload(2, 0), 2); // 104 pending >= 100
    expect(tailOf(ring)).toBe(104);
  });

  it("'auto': published at the end of the current microtask", async () => {
    const ring = plantedRing({ capacity: 1024, maxRecordLength: 40 });
    const { producer, consumer } = attach(ring, { publish: 'auto' });
    producer.tryWrite(taggedPayload(0, 8), 0);
    producer.tryWrite(taggedPayload(1, 8), 1);
    expect(tailOf(ring)).toBe(0);
    await null;
    expect(tailOf(ring)).toBe(32);
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1]);
  });

  it('close() publishes what is pending under every policy', () => {
    for (const publish of ['auto', 'manual'] as const) {
      const ring = plantedRing({ capacity: 1024, maxRecordLength: 40 });
      const { producer, consumer } = attach(ring, { publish });
      producer.tryWrite(taggedPayload(0, 8), 0);
      expect(tailOf(ring)).toBe(0);
      producer.close();
      expect(tailOf(ring)).toBe(16);
      expect(drain(consumer).map((r) => r.type)).toEqual([0]);
      expect(consumer.ended).toBe(true);
    }
  });
});

describe('end of stream', () => {
  function closedWithThree() {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 40, head: 0xffffffe0 });
    const { producer, consumer } = attach(ring, { publish: 'manual' });
    for (let tag = 0; tag < 3; tag++) producer.tryWrite(taggedPayload(tag, 8 * tag), tag);
    producer.close();
    expect(producer.isClosed).toBe(true);
    expect(ring.words[PRODUCER_STATE_INDEX]).toBe(ROLE_CLOSED);
    return { ring, producer, consumer };
  }

  it('the consumer drains what was published, then sees ended; read() resolves null', async () => {
    const { consumer } = closedWithThree();
    expect(consumer.ended).toBe(false);
    const types: number[] = [];
    for (;;) {
      const record = await consumer.read();
      if (record === null) break;
      expect(consumer.ended).toBe(false);
      types.push(record.type);
      expect(record.data).toEqual(taggedPayload(record.type, 8 * record.type));
      record.release();
    }
    expect(types).toEqual([0, 1, 2]);
    expect(consumer.ended).toBe(true);
    expect(await consumer.read()).toBeNull();
    expect(consumer.readSync()).toBeNull();
    expect(consumer.pollSync(() => undefined)).toBe(0);
    expect(await consumer.pollAsync(() => undefined)).toBe(0);
    expect(consumer.stats()).toMatchObject({ ended: true, producerState: ROLE_CLOSED, recordsRead: 3 });
  });

  it('the async iterator yields every record and finishes', async () => {
    const { consumer } = closedWithThree();
    const seen: Array<[number, Uint8Array]> = [];
    for await (const record of consumer) seen.push([record.type, record.copy()]);
    expect(seen.map(([type]) => type)).toEqual([0, 1, 2]);
    seen.forEach(([type, bytes]) => expect(bytes).toEqual(taggedPayload(type, 8 * type)));
    expect(consumer.ended).toBe(true);
  });

  it('the async iterator releases each record when the loop moves on, and on break', async () => {
    const { ring, consumer } = closedWithThree();
    const records: RecordView[] = [];
    for await (const record of consumer) {
      records.push(record);
      expect(record.released).toBe(false);
      if (record.type === 1) break;
    }
    expect(records.map((r) => r.released)).toEqual([true, true]);
    expect(headOf(ring)).toBe((0xffffffe0 + 8 + 16) >>> 0);
    expect(drain(consumer).map((r) => r.type)).toEqual([2]);
  });

  it('readSync and pollSync see the end too', () => {
    const { consumer } = closedWithThree();
    const types: number[] = [];
    for (let record = consumer.readSync(); record !== null; record = consumer.readSync()) {
      types.push(record.type);
      record.release();
    }
    expect(types).toEqual([0, 1, 2]);
    expect(consumer.ended).toBe(true);
  });

  it('a closed producer refuses to write', () => {
    const { producer } = closedWithThree();
    for (const call of [() => producer.tryWrite(new Uint8Array(1)), () => producer.tryClaim(1)]) {
      const error = thrown(call);
      expect(error).toBeInstanceOf(RingClosedError);
      expect(codeOf(error)).toBe('ERR_CLOSED');
    }
  });
});

describe('detaching and restarting', () => {
  it('close({end: false}) detaches; a new producer continues from the tail', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 40, head: 200 });
    const { producer, consumer } = attach(ring, { publish: 'auto' });
    producer.tryWrite(taggedPayload(0, 8), 0);
    producer.tryWrite(taggedPayload(1, 8), 1);
    producer.close({ end: false });
    expect(ring.words[PRODUCER_STATE_INDEX]).toBe(ROLE_DETACHED);
    expect(consumer.ended).toBe(false);
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1]);
    expect(consumer.ended).toBe(false);
    const next = new RingProducer(ring.buffer, { publish: 'eager' });
    expect(next.stats()).toMatchObject({ writePosition: 232, tail: 232 });
    next.tryWrite(taggedPayload(2, 40), 2); // wraps
    next.tryWrite(taggedPayload(3, 8), 3);
    expect(drain(consumer).map((r) => r.type)).toEqual([2, 3]);
    next.close();
    expect(consumer.ended).toBe(true);
  });

  it('a producer that died with an unpublished batch leaves nothing visible; its successor overwrites it', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 40, head: 64 });
    const { producer, consumer } = attach(ring, { publish: 'manual' });
    producer.tryWrite(taggedPayload(0, 8), 0);
    producer.flush();
    producer.tryWrite(taggedPayload(1, 8), 1);
    producer.tryWrite(taggedPayload(2, 8), 2);
    // "Dies": the role word is released as the lock owner's death would, nothing is published.
    ring.words[PRODUCER_STATE_INDEX] = ROLE_DETACHED;
    const successor = new RingProducer(ring.buffer, { publish: 'eager' });
    expect(successor.stats().writePosition).toBe(64 + 16);
    successor.tryWrite(taggedPayload(7, 8), 7);
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 7]);
  });

  it('a detached consumer is replaced by one that resumes at the head', () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 40 });
    const { producer, consumer } = attach(ring);
    for (let tag = 0; tag < 4; tag++) producer.tryWrite(taggedPayload(tag, 8), tag);
    expect(drain(consumer, 1).map((r) => r.type)).toEqual([0]);
    consumer.close({ detach: true });
    expect(producer.stats().consumerState).toBe(ROLE_DETACHED);
    const next = new RingConsumer(ring.buffer);
    expect(drain(next).map((r) => r.type)).toEqual([1, 2, 3]);
  });
});

describe('roles', () => {
  it('a second producer or consumer on the same buffer is refused with ERR_ROLE_TAKEN naming the holder pid', () => {
    const buffer = createRing({ capacity: 256 });
    const producer = new RingProducer(buffer);
    const consumer = new RingConsumer(buffer);
    for (const second of [() => new RingProducer(buffer), () => new RingConsumer(buffer)]) {
      const error = thrown(second) as RingUsageError;
      expect(error).toBeInstanceOf(RingUsageError);
      expect(error.code).toBe('ERR_ROLE_TAKEN');
      expect(error.value).toBe(process.pid);
      expect(error.message).toContain(`pid ${process.pid}`);
    }
    producer.close();
    consumer.close();
    // Closed roles may be taken again.
    expect(() => new RingProducer(buffer).close()).not.toThrow();
    expect(() => new RingConsumer(buffer).close()).not.toThrow();
  });

  it('a refused attach leaves the holder working', () => {
    const buffer = createRing({ capacity: 256 });
    const producer = new RingProducer(buffer, { publish: 'eager' });
    const consumer = new RingConsumer(buffer);
    expect(() => new RingProducer(buffer)).toThrow();
    expect(Atomics.load(new Int32Array(buffer), PRODUCER_STATE_INDEX)).toBe(ROLE_ATTACHED);
    producer.tryWrite(taggedPayload(1, 4), 1);
    expect(drain(consumer).map((r) => r.type)).toEqual([1]);
  });
});

describe('stats', () => {
  it('reports bytes and records in flight on both sides, padding excluded from record counts', () => {
    const capacity = 256;
    const start = 160;
    const ring = plantedRing({ capacity, maxRecordLength: 100, head: start });
    const { producer, consumer } = attach(ring, { publish: 'manual' });
    expect(producer.stats()).toEqual({
      capacity,
      maxRecordLength: 100,
      head: start,
      tail: start,
      writePosition: start,
      bytesInFlight: 0,
      pendingRecords: 0,
      recordsWritten: 0,
      consumerState: ROLE_ATTACHED,
    });
    producer.tryWrite(taggedPayload(0, 40), 0); // [160, 208)
    producer.tryWrite(taggedPayload(1, 50), 1); // padding [208, 256), then [0, 64)
    expect(producer.stats()).toMatchObject({ tail: start, writePosition: start + 48 + 48 + 64, bytesInFlight: 0, pendingRecords: 2, recordsWritten: 2 });
    expect(consumer.stats()).toMatchObject({ recordsInFlight: 0, bytesInFlight: 0 });
    producer.flush();
    const tail = start + 160;
    expect(producer.stats()).toMatchObject({ head: start, tail, bytesInFlight: 160, pendingRecords: 0 });
    expect(consumer.stats()).toEqual({
      capacity,
      maxRecordLength: 100,
      head: start,
      tail,
      readPosition: start,
      bytesInFlight: 160,
      recordsInFlight: 2,
      recordsRead: 0,
      producerState: ROLE_ATTACHED,
      ended: false,
    });
    const held = consumer.tryRead() as RecordView;
    expect(consumer.stats()).toMatchObject({ recordsInFlight: 2, bytesInFlight: 160, recordsRead: 0 });
    held.release();
    expect(consumer.stats()).toMatchObject({ head: start + 48, readPosition: start + 48, recordsInFlight: 1, bytesInFlight: 112, recordsRead: 1 });
    expect(producer.stats().bytesInFlight).toBe(112);
    drain(consumer);
    expect(consumer.stats()).toMatchObject({ head: tail, recordsInFlight: 0, bytesInFlight: 0, recordsRead: 2 });
    expect(ring.words[HEAD_INDEX]).toBe(tail);
  });
});
