/**
 * Bad input, foreign or corrupt regions, corruption planted while the sides run, timeouts, aborts and
 * closes. Every refusal must be a typed error whose `code`, `field` and `value` say what was wrong
 * (and whose message says it too); corruption must never produce an out-of-bounds view or a hang.
 */
import { describe, expect, it } from 'vitest';
import {
  RingClosedError,
  RingConsumer,
  RingCorruptError,
  RingError,
  RingFormatError,
  RingProducer,
  RingTimeoutError,
  RingUsageError,
  createRing,
  initializeRing,
  ringGeometry,
  validateRing,
  type RecordView,
} from '../src/index.js';
import {
  CAPACITY_OFFSET,
  CONSUMER_WAITING_INDEX,
  CONSUMER_STATE_INDEX,
  DATA_DOORBELL_INDEX,
  FLAGS_OFFSET,
  HEADER_LENGTH,
  HEADER_LENGTH_OFFSET,
  MAGIC_HI_OFFSET,
  MAGIC_LO_OFFSET,
  MAX_CAPACITY,
  MAX_RECORD_LENGTH_OFFSET,
  PADDING_TYPE,
  PRODUCER_STATE_INDEX,
  PRODUCER_WAITING_INDEX,
  READY_OFFSET,
  SPACE_DOORBELL_INDEX,
  VERSION_OFFSET,
} from '../src/layout.js';
import {
  drain,
  headOf,
  plantHeader,
  plantRecords,
  plantedRing,
  rejected,
  setHead,
  setTail,
  tailOf,
  taggedPayload,
  thrown,
  type PlantedRing,
} from './support/ring.js';
import { countingParker } from './support/parkers.js';

type ErrorClass = new (...args: never[]) => RingError;

function hexOf(value: number): string {
  return (value >>> 0).toString(16);
}

/** Asserts a typed error: class, code, and (when given) the field and value, both also named in the message. */
function expectRingError(
  error: unknown,
  expected: { type: ErrorClass; code: string; field?: string; value?: number | string; inMessage?: boolean },
): void {
  expect(error).toBeInstanceOf(expected.type);
  const ringError = error as RingError;
  expect(ringError.code).toBe(expected.code);
  expect(ringError.message).toMatch(/^shmring: /);
  if (expected.field !== undefined) {
    expect(ringError.field).toBe(expected.field);
    if (expected.inMessage !== false) expect(ringError.message).toContain(expected.field);
  }
  if (expected.value !== undefined) {
    expect(ringError.value).toBe(expected.value);
  }
  if (expected.value !== undefined && expected.inMessage !== false) {
    const shown = String(expected.value);
    const inMessage =
      ringError.message.includes(shown) ||
      (typeof expected.value === 'number' && ringError.message.toLowerCase().includes(hexOf(expected.value)));
    expect(inMessage, `message ${JSON.stringify(ringError.message)} names the value ${shown}`).toBe(true);
  }
}

describe('creation options', () => {
  const badCapacities: Array<[string, unknown]> = [
    ['not a power of two', 1000],
    ['not a power of two (one more than one)', 65],
    ['too small', 32],
    ['zero', 0],
    ['negative', -1024],
    ['above 2^30', 2 ** 31],
    ['2^32 (would wrap the u32 header field to 0)', 2 ** 32],
    ['2^30 + 2^29', 2 ** 30 + 2 ** 29],
    ['not an integer', 1024.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['a string', '1024'],
  ];
  for (const [label, capacity] of badCapacities) {
    it(`refuses capacity ${String(capacity)} (${label}) with ERR_BAD_CAPACITY`, () => {
      for (const create of [() => createRing({ capacity: capacity as number }), () => ringGeometry({ capacity: capacity as number })]) {
        expectRingError(thrown(create), { type: RingFormatError, code: 'ERR_BAD_CAPACITY', field: 'capacity', value: String(capacity) });
      }
    });
  }

  it('accepts every power of two from 64 to 2^30 (geometry only above 1 MiB)', () => {
    for (let capacity = 64; capacity <= MAX_CAPACITY; capacity *= 2) {
      expect(ringGeometry({ capacity })).toEqual({ capacity, maxRecordLength: capacity / 4, byteLength: HEADER_LENGTH + capacity });
    }
    expect(createRing({ capacity: 64 }).byteLength).toBe(HEADER_LENGTH + 64);
  });

  for (const maxRecordLength of [0, -8, 1024 - 7, 1024, 2 ** 31, 10.5, NaN]) {
    it(`refuses maxRecordLength ${maxRecordLength} for capacity 1024 with ERR_BAD_MAX_RECORD_LENGTH`, () => {
      expectRingError(
        thrown(() => createRing({ capacity: 1024, maxRecordLength })),
        { type: RingFormatError, code: 'ERR_BAD_MAX_RECORD_LENGTH', field: 'maxRecordLength', value: String(maxRecordLength) },
      );
    });
  }

  it('accepts maxRecordLength 1 and capacity - 8', () => {
    expect(ringGeometry({ capacity: 1024, maxRecordLength: 1 }).maxRecordLength).toBe(1);
    expect(ringGeometry({ capacity: 1024, maxRecordLength: 1016 }).maxRecordLength).toBe(1016);
  });

  it('initializeRing refuses a wrongly sized region and a region that already holds a ring', () => {
    expectRingError(thrown(() => initializeRing(new SharedArrayBuffer(HEADER_LENGTH + 100), { capacity: 64 })), {
      type: RingUsageError,
      code: 'ERR_BAD_ARGUMENT',
      field: 'byteLength',
      value: HEADER_LENGTH + 100,
      inMessage: false,
    });
    const ring = createRing({ capacity: 64 });
    expectRingError(thrown(() => initializeRing(ring, { capacity: 64 })), { type: RingUsageError, code: 'ERR_BAD_ARGUMENT', field: 'ready' });
  });

  it('side options: spin, publish policy, batch sizes', () => {
    const buffer = createRing({ capacity: 1024 });
    for (const spin of [-1, 1.5, NaN]) {
      for (const attach of [() => new RingProducer(buffer, { spin }), () => new RingConsumer(buffer, { spin })]) {
        expectRingError(thrown(attach), { type: RingUsageError, code: 'ERR_BAD_ARGUMENT', field: 'spin', value: String(spin) });
      }
    }
    expectRingError(thrown(() => new RingProducer(buffer, { publish: 'sometimes' as 'auto' })), {
      type: RingUsageError,
      code: 'ERR_BAD_ARGUMENT',
      field: 'publish',
      value: 'sometimes',
    });
    for (const [field, value] of [['batchRecords', 0], ['batchRecords', 2.5], ['batchBytes', 0], ['batchBytes', -1]] as const) {
      expectRingError(thrown(() => new RingProducer(buffer, { [field]: value })), { type: RingUsageError, code: 'ERR_BAD_ARGUMENT', field, value: String(value) });
    }
    // None of the refused attaches kept a role.
    const words = new Int32Array(buffer, 0, HEADER_LENGTH >> 2);
    expect([words[PRODUCER_STATE_INDEX], words[CONSUMER_STATE_INDEX]]).toEqual([0, 0]);
    expect(() => new RingProducer(buffer)).not.toThrow();
    expect(() => new RingConsumer(buffer)).not.toThrow();
  });
});

describe('records the producer refuses', () => {
  function producer(maxRecordLength = 100): RingProducer {
    return new RingProducer(createRing({ capacity: 1024, maxRecordLength }));
  }

  it('a record longer than maxRecordLength: ERR_RECORD_TOO_LONG naming the length and the limit', () => {
    const side = producer(100);
    for (const call of [
      () => side.tryWrite(new Uint8Array(101)),
      () => side.tryClaim(101),
      () => side.claim(101),
      () => side.writeSync(new Uint8Array(101)),
      () => side.claimSync(5000),
    ]) {
      const error = thrown(call);
      expectRingError(error, { type: RingUsageError, code: 'ERR_RECORD_TOO_LONG', field: 'length' });
      const { value, message } = error as RingUsageError;
      expect([101, 5000]).toContain(value);
      expect(message).toContain(String(value));
      expect(message).toContain('100');
    }
    expect(side.stats()).toMatchObject({ writePosition: 0, recordsWritten: 0 });
    expect(side.claiming).toBe(false);
  });

  it('negative and fractional claim lengths are refused', () => {
    const side = producer();
    for (const length of [-1, 1.5, NaN]) {
      expectRingError(thrown(() => side.tryClaim(length)), { type: RingUsageError, code: 'ERR_RECORD_TOO_LONG', field: 'length', value: length });
    }
  });

  it('async writes of a too-long record reject rather than wait', async () => {
    const side = producer(100);
    await expect(side.write(new Uint8Array(101))).rejects.toMatchObject({ code: 'ERR_RECORD_TOO_LONG', value: 101 });
    await expect(side.claimAsync(101)).rejects.toMatchObject({ code: 'ERR_RECORD_TOO_LONG', value: 101 });
  });

  for (const type of [-1, 0x10000, 1.5, 0xffffffff, NaN]) {
    it(`type ${type}: ERR_BAD_TYPE`, () => {
      const side = producer();
      for (const call of [() => side.tryWrite(new Uint8Array(1), type), () => side.tryClaim(1, type), () => side.claim(1, type)]) {
        expectRingError(thrown(call), { type: RingUsageError, code: 'ERR_BAD_TYPE', field: 'type', value: type });
      }
      expect(side.stats().writePosition).toBe(0);
    });
  }

  it('types 0 and 0xffff are user types', () => {
    const buffer = createRing({ capacity: 1024 });
    const side = new RingProducer(buffer, { publish: 'eager' });
    expect(side.tryWrite(new Uint8Array(1), 0)).toBe(true);
    expect(side.tryWrite(new Uint8Array(1), 0xffff)).toBe(true);
    expect(drain(new RingConsumer(buffer)).map((r) => r.type)).toEqual([0, 0xffff]);
  });
});

describe('attaching to a region that is not a usable ring', () => {
  const attachers: Array<[string, (buffer: SharedArrayBuffer) => unknown]> = [
    ['validateRing', (buffer) => validateRing(buffer)],
    ['RingProducer', (buffer) => new RingProducer(buffer)],
    ['RingConsumer', (buffer) => new RingConsumer(buffer)],
  ];

  /** A valid ring with one header field overwritten (u32 at `offset`). */
  function ringWith(offset: number, value: number, capacity = 1024): SharedArrayBuffer {
    const buffer = createRing({ capacity });
    new DataView(buffer).setUint32(offset, value >>> 0, true);
    return buffer;
  }

  const cases: Array<{ label: string; buffer: () => SharedArrayBuffer; code: string; field: string; value?: number }> = [
    { label: 'too small for a header and the minimum capacity', buffer: () => new SharedArrayBuffer(HEADER_LENGTH + 32), code: 'ERR_TRUNCATED', field: 'byteLength', value: HEADER_LENGTH + 32 },
    { label: 'empty', buffer: () => new SharedArrayBuffer(0), code: 'ERR_TRUNCATED', field: 'byteLength', value: 0 },
    { label: 'zero-filled (no magic)', buffer: () => new SharedArrayBuffer(HEADER_LENGTH + 1024), code: 'ERR_BAD_MAGIC', field: 'magic', value: 0 },
    { label: 'wrong magic, ready set', buffer: () => ringWith(MAGIC_LO_OFFSET, 0x12345678), code: 'ERR_BAD_MAGIC', field: 'magic', value: 0x12345678 },
    { label: 'wrong high magic word', buffer: () => ringWith(MAGIC_HI_OFFSET, 0x00474e48), code: 'ERR_BAD_MAGIC', field: 'magic' },
    { label: 'right magic, ready not set', buffer: () => ringWith(READY_OFFSET, 0), code: 'ERR_NOT_READY', field: 'ready', value: 0 },
    { label: 'right magic, ready garbage', buffer: () => ringWith(READY_OFFSET, 0x59444553), code: 'ERR_NOT_READY', field: 'ready', value: 0x59444553 },
    { label: 'version 2', buffer: () => ringWith(VERSION_OFFSET, 2), code: 'ERR_BAD_VERSION', field: 'version', value: 2 },
    { label: 'version 0', buffer: () => ringWith(VERSION_OFFSET, 0), code: 'ERR_BAD_VERSION', field: 'version', value: 0 },
    { label: 'headerLength 8192', buffer: () => ringWith(HEADER_LENGTH_OFFSET, 8192), code: 'ERR_BAD_HEADER_LENGTH', field: 'headerLength', value: 8192 },
    { label: 'headerLength 0', buffer: () => ringWith(HEADER_LENGTH_OFFSET, 0), code: 'ERR_BAD_HEADER_LENGTH', field: 'headerLength', value: 0 },
    { label: 'capacity not a power of two', buffer: () => ringWith(CAPACITY_OFFSET, 1000), code: 'ERR_BAD_CAPACITY', field: 'capacity', value: 1000 },
    { label: 'capacity 0', buffer: () => ringWith(CAPACITY_OFFSET, 0), code: 'ERR_BAD_CAPACITY', field: 'capacity', value: 0 },
    { label: 'capacity 2^31', buffer: () => ringWith(CAPACITY_OFFSET, 2 ** 31), code: 'ERR_BAD_CAPACITY', field: 'capacity', value: 2 ** 31 },
    { label: 'capacity 0xffffffff', buffer: () => ringWith(CAPACITY_OFFSET, 0xffffffff), code: 'ERR_BAD_CAPACITY', field: 'capacity', value: 0xffffffff },
    { label: 'capacity smaller than the region', buffer: () => ringWith(CAPACITY_OFFSET, 512), code: 'ERR_SIZE_MISMATCH', field: 'capacity', value: 512 },
    { label: 'capacity larger than the region', buffer: () => ringWith(CAPACITY_OFFSET, 2048), code: 'ERR_SIZE_MISMATCH', field: 'capacity', value: 2048 },
    {
      label: 'region larger than header + capacity',
      buffer: () => {
        const bigger = new SharedArrayBuffer(HEADER_LENGTH + 2048);
        new Uint8Array(bigger).set(new Uint8Array(createRing({ capacity: 1024 }), 0, HEADER_LENGTH));
        return bigger;
      },
      code: 'ERR_SIZE_MISMATCH',
      field: 'capacity',
      value: 1024,
    },
    { label: 'maxRecordLength 0', buffer: () => ringWith(MAX_RECORD_LENGTH_OFFSET, 0), code: 'ERR_BAD_MAX_RECORD_LENGTH', field: 'maxRecordLength', value: 0 },
    { label: 'maxRecordLength capacity - 7', buffer: () => ringWith(MAX_RECORD_LENGTH_OFFSET, 1017), code: 'ERR_BAD_MAX_RECORD_LENGTH', field: 'maxRecordLength', value: 1017 },
    { label: 'maxRecordLength 0xffffffff', buffer: () => ringWith(MAX_RECORD_LENGTH_OFFSET, 0xffffffff), code: 'ERR_BAD_MAX_RECORD_LENGTH', field: 'maxRecordLength', value: 0xffffffff },
    { label: 'flags 1', buffer: () => ringWith(FLAGS_OFFSET, 1), code: 'ERR_BAD_FLAGS', field: 'flags', value: 1 },
    { label: 'flags 0x80000000', buffer: () => ringWith(FLAGS_OFFSET, 0x80000000), code: 'ERR_BAD_FLAGS', field: 'flags', value: 0x80000000 },
  ];
  for (const { label, buffer, code, field, value } of cases) {
    it(`${label}: ${code} naming ${field}`, () => {
      for (const [who, attach] of attachers) {
        const region = buffer();
        const error = thrown(() => attach(region));
        expectRingError(error, { type: RingFormatError, code, field, value });
        // A refused attach takes no role.
        const words = new Int32Array(region, 0, Math.min(region.byteLength, HEADER_LENGTH) >> 2);
        if (words.length > CONSUMER_STATE_INDEX) {
          expect([who, words[PRODUCER_STATE_INDEX], words[CONSUMER_STATE_INDEX]]).toEqual([who, 0, 0]);
        }
      }
    });
  }

  it('a plain ArrayBuffer: ERR_NOT_SHARED', () => {
    for (const [, attach] of attachers) {
      const plain = new ArrayBuffer(HEADER_LENGTH + 1024);
      expectRingError(thrown(() => attach(plain as unknown as SharedArrayBuffer)), { type: RingFormatError, code: 'ERR_NOT_SHARED', field: 'buffer', inMessage: false });
    }
  });

  it('a typed array over a ring rather than the ring itself: ERR_NOT_SHARED', () => {
    const view = new Uint8Array(createRing({ capacity: 64 }));
    expectRingError(thrown(() => validateRing(view as unknown as SharedArrayBuffer)), { type: RingFormatError, code: 'ERR_NOT_SHARED' });
  });
});

describe('the largest capacity (2^30): no index overflow (rigtorp #49, aeron PR #2017)', () => {
  // The buffer is 1 GiB + 4 KiB of address space; only the pages touched here are ever committed.
  it('wraps at the end of the data area and across 2^32, reads back every record', () => {
    const capacity = MAX_CAPACITY;
    const start = 0xfffffff0; // offset 2^30 - 16: 16 bytes to the end, 16 bytes to 2^32
    const ring = plantedRing({ capacity, head: start });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const consumer = new RingConsumer(ring.buffer);
    expect(producer.tryWrite(taggedPayload(1, 8), 1)).toBe(true); // exactly fits [2^30 - 16, 2^30)
    expect(producer.tryWrite(taggedPayload(2, 100), 2)).toBe(true); // at offset 0, position 0
    expect(tailOf(ring)).toBe(112);
    expect(drain(consumer).map((r) => [r.type, r.offset, r.bytes.length])).toEqual([
      [1, capacity - 8, 8],
      [2, 8, 100],
    ]);
    // A wrap with padding at the very end of a 2^30 area.
    const wrapAt = (capacity * 3 + capacity - 24) >>> 0; // offset 2^30 - 24, on the fourth lap
    const ring2 = plantedRing({ capacity, head: wrapAt });
    const producer2 = new RingProducer(ring2.buffer, { publish: 'eager' });
    const consumer2 = new RingConsumer(ring2.buffer);
    expect(producer2.tryWrite(taggedPayload(3, 64), 3)).toBe(true);
    expect(ring2.view.getUint32(capacity - 24, true)).toBe(16);
    expect(ring2.view.getUint32(capacity - 20, true)).toBe(PADDING_TYPE);
    expect(tailOf(ring2)).toBe(72);
    const records = drain(consumer2);
    expect(records.map((r) => [r.type, r.offset])).toEqual([[3, 8]]);
    expect(records[0].bytes).toEqual(taggedPayload(3, 64));
  });

  it('a full 2^30 ring is full, not empty or negative; 8 bytes more is corruption', () => {
    const capacity = MAX_CAPACITY;
    const ring = plantedRing({ capacity, head: 0x7ffffff8, tail: (0x7ffffff8 + capacity) >>> 0 });
    const producer = new RingProducer(ring.buffer);
    expect(producer.tryWrite(new Uint8Array(0))).toBe(false);
    expect(producer.stats()).toMatchObject({ bytesInFlight: capacity });
    producer.close();
    setTail(ring, (0x7ffffff8 + capacity + 8) >>> 0);
    expectRingError(thrown(() => new RingConsumer(ring.buffer)), { type: RingCorruptError, code: 'ERR_CORRUPT', field: 'tail', value: (0x7ffffff8 + capacity + 8) >>> 0 });
  });
});

describe('corruption planted while running', () => {
  const capacity = 256;

  /** Every consumer read API must throw ERR_CORRUPT promptly, hand out no record and make no progress. */
  async function expectConsumerRefuses(consumer: RingConsumer, ring: PlantedRing, field: string, value: number): Promise<void> {
    const headBefore = headOf(ring);
    let handled = 0;
    const handler = () => void handled++;
    const expected = { type: RingCorruptError, code: 'ERR_CORRUPT', field, value };
    expectRingError(thrown(() => consumer.poll(handler)), expected);
    expectRingError(thrown(() => consumer.tryRead()), expected);
    expectRingError(thrown(() => consumer.readSync(100)), expected);
    expectRingError(thrown(() => consumer.pollSync(handler, Infinity, 100)), expected);
    expectRingError(await rejected(consumer.read({ timeout: 100 })), expected);
    expectRingError(await rejected(consumer.pollAsync(handler, Infinity, { timeout: 100 })), expected);
    expectRingError(await rejected(consumer.read()), expected);
    expect(handled).toBe(0);
    expect(headOf(ring)).toBe(headBefore);
  }

  /** A running pair: the consumer has read two records, so nothing about it is fresh. */
  function running(start = 0x1000, maxRecordLength = 100) {
    const ring = plantedRing({ capacity, maxRecordLength, head: start });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const consumer = new RingConsumer(ring.buffer);
    producer.tryWrite(taggedPayload(0, 24), 0);
    producer.tryWrite(taggedPayload(1, 24), 1);
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1]);
    const position = (start + 64) >>> 0;
    producer.close({ end: false });
    return { ring, consumer, position, offset: position & (capacity - 1) };
  }

  it('tail ahead of head by more than capacity', async () => {
    const { ring, consumer, position } = running();
    const tail = (position + capacity + 8) >>> 0;
    setTail(ring, tail);
    await expectConsumerRefuses(consumer, ring, 'tail', tail);
  });

  it('tail not a multiple of 8', async () => {
    const { ring, consumer, position } = running();
    setTail(ring, position + 12);
    await expectConsumerRefuses(consumer, ring, 'tail', position + 12);
  });

  it('tail behind the read position', async () => {
    const { ring, consumer, position } = running();
    setTail(ring, position - 32);
    await expectConsumerRefuses(consumer, ring, 'tail', position - 32);
  });

  it('record length above maxRecordLength', async () => {
    const { ring, consumer, position, offset } = running();
    plantHeader(ring, offset, 101, 0);
    setTail(ring, position + 120);
    await expectConsumerRefuses(consumer, ring, 'record.length', 101);
  });

  it('record length with the sign bit set (negative through an Int32Array)', async () => {
    const { ring, consumer, position, offset } = running();
    plantHeader(ring, offset, 0xfffffff0, 0);
    setTail(ring, position + 16);
    await expectConsumerRefuses(consumer, ring, 'record.length', 0xfffffff0);
  });

  it('record crossing the end of the data area', async () => {
    // maxRecordLength large enough that only the end of the data area is wrong.
    const { ring, consumer, position, offset } = running(0x1000 + 160, capacity - 8);
    expect(offset).toBe(224);
    plantHeader(ring, offset, 100, 0);
    setTail(ring, position + 112);
    await expectConsumerRefuses(consumer, ring, 'record.length', 100);
  });

  it('record beyond the published tail', async () => {
    const { ring, consumer, position, offset } = running();
    plantHeader(ring, offset, 100, 0);
    setTail(ring, position + 16);
    await expectConsumerRefuses(consumer, ring, 'record.length', 100);
  });

  it('a valid record before a corrupt one is delivered, then the corrupt one is refused', async () => {
    const { ring, consumer, position, offset } = running();
    const next = plantRecords(ring, position, [{ length: 8, type: 5, tag: 5 }]);
    plantHeader(ring, offset + 16, 100, 0);
    setTail(ring, next + 16);
    const types: number[] = [];
    expectRingError(
      thrown(() => consumer.poll((type) => types.push(type))),
      { type: RingCorruptError, code: 'ERR_CORRUPT', field: 'record.length', value: 100 },
    );
    expect(types).toEqual([5]);
    expect(headOf(ring)).toBe(next);
    await expectConsumerRefuses(consumer, ring, 'record.length', 100);
  });

  for (const type of [0x10000, 0xfffffffe, 0x80000000]) {
    it(`record type ${type.toString(16)}`, async () => {
      const { ring, consumer, position, offset } = running();
      plantHeader(ring, offset, 8, type);
      setTail(ring, position + 16);
      await expectConsumerRefuses(consumer, ring, 'record.type', type);
    });
  }

  it('padding with the wrong length', async () => {
    const { ring, consumer, position, offset } = running();
    plantHeader(ring, offset, 8, PADDING_TYPE);
    setTail(ring, position + 16);
    await expectConsumerRefuses(consumer, ring, 'padding.length', 8);
  });

  it('padding reaching beyond the published tail', async () => {
    const { ring, consumer, position, offset } = running();
    plantHeader(ring, offset, capacity - offset - 8, PADDING_TYPE);
    setTail(ring, position + 16);
    await expectConsumerRefuses(consumer, ring, 'padding.length', capacity - offset - 8);
  });

  it('a consumer parked in read() is woken into ERR_CORRUPT, not left hanging', async () => {
    const { ring, consumer, position } = running();
    const pending = consumer.read();
    expect(Atomics.load(ring.words, CONSUMER_WAITING_INDEX)).toBe(1);
    // A hostile producer publishes a bad tail and rings the doorbell as the protocol says.
    setTail(ring, position + 4);
    Atomics.add(ring.words, DATA_DOORBELL_INDEX, 1);
    Atomics.notify(ring.words, DATA_DOORBELL_INDEX);
    expectRingError(await rejected(pending), { type: RingCorruptError, code: 'ERR_CORRUPT', field: 'tail', value: position + 4 });
    expect(Atomics.load(ring.words, CONSUMER_WAITING_INDEX)).toBe(0);
  });

  describe('head planted for the producer', () => {
    /** A producer that has filled its ring, so its next write must reload the head. */
    function fullProducer() {
      const start = 0x2000;
      const ring = plantedRing({ capacity, maxRecordLength: 56, head: start });
      const producer = new RingProducer(ring.buffer, { publish: 'eager' });
      for (let tag = 0; tag < 4; tag++) expect(producer.tryWrite(taggedPayload(tag, 56), tag)).toBe(true);
      return { ring, producer, writePosition: start + capacity };
    }

    const bogusHeads: Array<[string, (writePosition: number) => number]> = [
      ['ahead of the write position', (w) => w + 8],
      ['not a multiple of 8', (w) => w - capacity + 4],
      ['more than capacity behind the write position', (w) => w - capacity - 8],
      ['half the u32 range away', (w) => w + 0x80000000],
    ];
    for (const [label, bogus] of bogusHeads) {
      it(`head ${label}: every write API throws ERR_CORRUPT naming head`, async () => {
        const { ring, producer, writePosition } = fullProducer();
        const before = ring.data.slice();
        const head = bogus(writePosition) >>> 0;
        setHead(ring, head);
        const expected = { type: RingCorruptError, code: 'ERR_CORRUPT', field: 'head', value: head };
        expectRingError(thrown(() => producer.tryWrite(new Uint8Array(8))), expected);
        expectRingError(thrown(() => producer.tryClaim(8)), expected);
        expectRingError(thrown(() => producer.writeSync(new Uint8Array(8), 0, 100)), expected);
        expectRingError(thrown(() => producer.claimSync(8, 0, 100)), expected);
        expectRingError(await rejected(producer.write(new Uint8Array(8), 0, { timeout: 100 })), expected);
        expectRingError(await rejected(producer.claimAsync(8)), expected);
        expect(producer.claiming).toBe(false);
        expect(ring.data).toEqual(before);
        // And a producer attaching to it refuses too.
        producer.close({ end: false });
        expectRingError(thrown(() => new RingProducer(ring.buffer)), expected);
      });
    }

    it('a producer parked in write() is woken into ERR_CORRUPT when a bad head is published', async () => {
      const { ring, producer, writePosition } = fullProducer();
      const pending = producer.write(new Uint8Array(8), 9);
      expect(Atomics.load(ring.words, PRODUCER_WAITING_INDEX)).toBe(1);
      setHead(ring, writePosition + 64);
      Atomics.add(ring.words, SPACE_DOORBELL_INDEX, 1);
      Atomics.notify(ring.words, SPACE_DOORBELL_INDEX);
      expectRingError(await rejected(pending), { type: RingCorruptError, code: 'ERR_CORRUPT', field: 'head', value: writePosition + 64 });
    });
  });

  it('positions and state words corrupt at attach', () => {
    const misaligned = plantedRing({ capacity, head: 4, tail: 4 });
    expectRingError(thrown(() => new RingConsumer(misaligned.buffer)), { type: RingCorruptError, code: 'ERR_CORRUPT', field: 'head', value: 4 });
    expectRingError(thrown(() => new RingProducer(misaligned.buffer)), { type: RingCorruptError, code: 'ERR_CORRUPT', field: 'tail', value: 4 });
    // A refused attach holds no role: once the positions are repaired, both sides attach.
    expect([misaligned.words[PRODUCER_STATE_INDEX], misaligned.words[CONSUMER_STATE_INDEX]]).toEqual([0, 0]);
    setHead(misaligned, 8);
    setTail(misaligned, 8);
    expect(() => new RingConsumer(misaligned.buffer)).not.toThrow();
    expect(() => new RingProducer(misaligned.buffer)).not.toThrow();
    for (const [index, role] of [
      [PRODUCER_STATE_INDEX, 'producer'],
      [CONSUMER_STATE_INDEX, 'consumer'],
    ] as const) {
      const ring = plantedRing({ capacity });
      ring.words[index] = 7;
      const attach = role === 'producer' ? () => new RingProducer(ring.buffer) : () => new RingConsumer(ring.buffer);
      expectRingError(thrown(attach), { type: RingCorruptError, code: 'ERR_CORRUPT', field: `${role}State`, value: 7 });
    }
  });
});

describe('timeouts', () => {
  function pair(maxRecordLength = 56) {
    const ring = plantedRing({ capacity: 256, maxRecordLength });
    return { ring, producer: new RingProducer(ring.buffer, { publish: 'eager', spin: 0 }), consumer: new RingConsumer(ring.buffer, { spin: 0 }) };
  }
  function fill(producer: RingProducer): void {
    for (let tag = 0; tag < 4; tag++) expect(producer.tryWrite(taggedPayload(tag, 56), tag)).toBe(true);
  }

  it('readSync(timeout) and pollSync(timeout) return null / 0 on an empty ring', () => {
    const { ring, consumer } = pair();
    expect(consumer.readSync(30)).toBeNull();
    expect(consumer.readSync(0)).toBeNull();
    expect(consumer.pollSync(() => undefined, Infinity, 30)).toBe(0);
    expect(consumer.ended).toBe(false);
    expect(Atomics.load(ring.words, CONSUMER_WAITING_INDEX)).toBe(0);
  });

  it('read({timeout}) and pollAsync({timeout}) reject with ERR_TIMEOUT, and the consumer still works after', async () => {
    const { ring, producer, consumer } = pair();
    for (const timeout of [0, 30]) {
      // The error carries the timeout the caller asked for, not what was left of it at the last park.
      const expected = { type: RingTimeoutError, code: 'ERR_TIMEOUT', field: 'timeout', value: timeout, inMessage: false };
      expectRingError(await rejected(consumer.read({ timeout })), expected);
      expectRingError(await rejected(consumer.pollAsync(() => undefined, Infinity, { timeout })), expected);
      expect((await rejected(consumer.read({ timeout })) as Error).message).toContain(`after ${timeout} ms`);
    }
    expect(Atomics.load(ring.words, CONSUMER_WAITING_INDEX)).toBe(0);
    producer.tryWrite(taggedPayload(1, 4), 1);
    const record = (await consumer.read({ timeout: 1000 })) as RecordView;
    expect(record.data).toEqual(taggedPayload(1, 4));
  });

  it('writeSync, claimSync, write and claimAsync time out on a full ring, leaving no claim open', async () => {
    const { ring, producer, consumer } = pair();
    fill(producer);
    const before = ring.data.slice();
    expect(producer.writeSync(taggedPayload(9, 8), 9, 30)).toBe(false);
    expect(producer.claimSync(8, 9, 30)).toBe(-1);
    expectRingError(await rejected(producer.write(taggedPayload(9, 8), 9, { timeout: 30 })), { type: RingTimeoutError, code: 'ERR_TIMEOUT', field: 'timeout', value: 30, inMessage: false });
    expectRingError(await rejected(producer.claimAsync(8, 9, { timeout: 0 })), { type: RingTimeoutError, code: 'ERR_TIMEOUT', field: 'timeout', value: 0, inMessage: false });
    expect(producer.claiming).toBe(false);
    expect(ring.data).toEqual(before);
    expect(Atomics.load(ring.words, PRODUCER_WAITING_INDEX)).toBe(0);
    expect(drain(consumer, 1).map((r) => r.type)).toEqual([0]);
    expect(producer.writeSync(taggedPayload(9, 8), 9, 1000)).toBe(true);
  });

  it('a negative or NaN timeout is a usage error', async () => {
    const { producer, consumer } = pair();
    for (const timeout of [-1, NaN]) {
      expectRingError(await rejected(consumer.read({ timeout })), { type: RingUsageError, code: 'ERR_BAD_ARGUMENT', field: 'timeout' });
      fill(producer);
      expectRingError(await rejected(producer.write(new Uint8Array(8), 0, { timeout })), { type: RingUsageError, code: 'ERR_BAD_ARGUMENT', field: 'timeout' });
      drain(consumer);
    }
  });
});

describe('abort signals and closes end pending waits', () => {
  function pair() {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 56 });
    return { ring, producer: new RingProducer(ring.buffer, { publish: 'eager' }), consumer: new RingConsumer(ring.buffer) };
  }
  function fill(producer: RingProducer): void {
    for (let tag = 0; tag < 4; tag++) expect(producer.tryWrite(taggedPayload(tag, 56), tag)).toBe(true);
  }

  it('aborting a pending read rejects it with the signal reason', async () => {
    const { ring, consumer, producer } = pair();
    const controller = new AbortController();
    const pending = consumer.read({ signal: controller.signal });
    expect(Atomics.load(ring.words, CONSUMER_WAITING_INDEX)).toBe(1);
    const reason = new Error('stop reading');
    controller.abort(reason);
    expect(await rejected(pending)).toBe(reason);
    expect(Atomics.load(ring.words, CONSUMER_WAITING_INDEX)).toBe(0);
    // The side is usable afterwards, and the abort consumed nothing.
    producer.tryWrite(taggedPayload(1, 4), 1);
    expect(((await consumer.read()) as RecordView).type).toBe(1);
  });

  it('an already aborted signal rejects a read that would wait, with its reason', async () => {
    const { consumer } = pair();
    const reason = new Error('already');
    expect(await rejected(consumer.read({ signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(await rejected(consumer.pollAsync(() => undefined, Infinity, { signal: AbortSignal.abort(reason) }))).toBe(reason);
  });

  it('aborting a pending write rejects it with the signal reason and writes nothing', async () => {
    const { ring, producer, consumer } = pair();
    fill(producer);
    const before = ring.data.slice();
    const controller = new AbortController();
    const pending = producer.write(taggedPayload(9, 8), 9, { signal: controller.signal });
    expect(Atomics.load(ring.words, PRODUCER_WAITING_INDEX)).toBe(1);
    const reason = new Error('stop writing');
    controller.abort(reason);
    expect(await rejected(pending)).toBe(reason);
    expect(producer.claiming).toBe(false);
    expect(ring.data).toEqual(before);
    expect(drain(consumer).map((r) => r.type)).toEqual([0, 1, 2, 3]);
  });

  it('a second wait on the same side while one is pending is ERR_BUSY', async () => {
    const { consumer } = pair();
    const controller = new AbortController();
    const first = consumer.read({ signal: controller.signal });
    expectRingError(await rejected(consumer.read()), { type: RingUsageError, code: 'ERR_BUSY' });
    controller.abort();
    await expect(first).rejects.toBeDefined();
  });

  it('closing a consumer rejects its own pending read with ERR_CLOSED', async () => {
    const { consumer } = pair();
    const pending = consumer.read();
    consumer.close();
    expectRingError(await rejected(pending), { type: RingClosedError, code: 'ERR_CLOSED' });
    expectRingError(thrown(() => consumer.tryRead()), { type: RingClosedError, code: 'ERR_CLOSED' });
    expectRingError(thrown(() => consumer.poll(() => undefined)), { type: RingClosedError, code: 'ERR_CLOSED' });
  });

  it('closing a producer rejects its own pending write with ERR_CLOSED', async () => {
    const { producer } = pair();
    fill(producer);
    const pending = producer.write(new Uint8Array(8));
    producer.close();
    expectRingError(await rejected(pending), { type: RingClosedError, code: 'ERR_CLOSED' });
  });

  it('a write waiting for space rejects with ERR_CLOSED when the consumer closes', async () => {
    const { ring, producer, consumer } = pair();
    fill(producer);
    const pending = producer.write(new Uint8Array(8), 0);
    expect(Atomics.load(ring.words, PRODUCER_WAITING_INDEX)).toBe(1);
    consumer.close();
    expectRingError(await rejected(pending), { type: RingClosedError, code: 'ERR_CLOSED', field: 'consumerState', value: 2, inMessage: false });
    expectRingError(await rejected(producer.claimAsync(8)), { type: RingClosedError, code: 'ERR_CLOSED' });
    expectRingError(thrown(() => producer.writeSync(new Uint8Array(8))), { type: RingClosedError, code: 'ERR_CLOSED' });
    expectRingError(thrown(() => producer.claimSync(8)), { type: RingClosedError, code: 'ERR_CLOSED' });
    expect(Atomics.load(ring.words, PRODUCER_WAITING_INDEX)).toBe(0);
  });

  it('a pending read resolves null when the producer ends the stream', async () => {
    const { producer, consumer } = pair();
    const pending = consumer.read();
    producer.close();
    expect(await pending).toBeNull();
    expect(await consumer.pollAsync(() => undefined)).toBe(0);
    expect(consumer.ended).toBe(true);
  });

  it('a detaching producer does not end a pending read; its successor\'s record does', async () => {
    const ring = plantedRing({ capacity: 256, maxRecordLength: 56 });
    const producer = new RingProducer(ring.buffer, { publish: 'eager' });
    const parks = countingParker();
    const consumer = new RingConsumer(ring.buffer, { parker: parks.parker });
    const pending = consumer.read();
    expect(parks.asyncWaits).toBe(1);
    producer.close({ end: false });
    // The detach rings the doorbell: the consumer wakes, sees no end of stream, and parks again.
    await parks.waitsReached(2);
    expect(Atomics.load(ring.words, CONSUMER_WAITING_INDEX)).toBe(1);
    const successor = new RingProducer(ring.buffer, { publish: 'eager' });
    successor.tryWrite(taggedPayload(3, 3), 3);
    const record = (await pending) as RecordView;
    expect(record.type).toBe(3);
    expect(record.data).toEqual(taggedPayload(3, 3));
  });
});
