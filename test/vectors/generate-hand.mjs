#!/usr/bin/env node
/**
 * Writes the hand-made test vectors (hand-*.ring + hand-*.json) from docs/FORMAT.md alone: plain
 * byte writes, no shmring code, no layout module. Every number below is read off FORMAT.md §1-§5, so
 * this script is a second, independent reading of the spec that the decoders in TypeScript, C++ and
 * Go must agree with.
 *
 *   node test/vectors/generate-hand.mjs        (rewrites the hand-* files next to this script)
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// FORMAT.md §1.
const HEADER_LENGTH = 4096;
const READY = 0x59444552;
const PADDING = 0xffffffff;
const CREATOR_PID = 4242;

function align8(value) {
  return (value + 7) & ~7;
}

function hexOf(bytes) {
  return Buffer.from(bytes).toString('hex');
}

/** A payload whose bytes name the record and their index, so a shifted read is visible. */
function payloadOf(tag, length) {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (tag * 31 + index) & 0xff;
  return bytes;
}

/**
 * A ring image: header fields, positions, states, then records laid out from `head` the way §4
 * says a producer does (padding when a record would cross the end).
 */
function ring({ capacity, maxRecordLength, head = 0, producerState = 0, consumerState = 0, records = [], tailOverride }) {
  const bytes = new Uint8Array(HEADER_LENGTH + capacity);
  const view = new DataView(bytes.buffer);
  const u32 = (offset, value) => view.setUint32(offset, value >>> 0, true);
  u32(0, 0x524d4853); // "SHMR"
  u32(4, 0x00474e49); // "ING\0"
  u32(8, 1); // version
  u32(12, HEADER_LENGTH);
  u32(16, capacity);
  u32(20, maxRecordLength);
  u32(24, 0); // flags
  u32(28, CREATOR_PID);
  u32(32, READY);
  let position = head >>> 0;
  const decoded = [];
  for (const record of records) {
    const slot = align8(8 + record.payload.length);
    let offset = position & (capacity - 1);
    if (slot > capacity - offset) {
      u32(HEADER_LENGTH + offset, capacity - offset - 8);
      u32(HEADER_LENGTH + offset + 4, PADDING);
      position = (position + capacity - offset) >>> 0;
      offset = 0;
    }
    u32(HEADER_LENGTH + offset, record.rawLength ?? record.payload.length);
    u32(HEADER_LENGTH + offset + 4, record.type);
    bytes.set(record.payload, HEADER_LENGTH + offset + 8);
    position = (position + slot) >>> 0;
    decoded.push({ type: record.type, payload: hexOf(record.payload) });
  }
  const tail = tailOverride ?? position;
  u32(128, tail);
  u32(256, head);
  u32(384, producerState);
  u32(512, consumerState);
  return { bytes, head: head >>> 0, tail: tail >>> 0, decoded };
}

function emit(name, description, image, expected) {
  writeFileSync(join(here, `${name}.ring`), image.bytes);
  const { capacity, maxRecordLength } = expected.header;
  const json = {
    description,
    createdBy: 'test/vectors/generate-hand.mjs (bytes written by FORMAT.md, no shmring code)',
    file: `${name}.ring`,
    header: { capacity, maxRecordLength, creatorPid: CREATOR_PID },
    head: image.head,
    tail: image.tail,
    producerState: expected.producerState ?? 0,
    consumerState: expected.consumerState ?? 0,
    ...(expected.error ? { error: expected.error } : { records: image.decoded, ended: expected.ended ?? false }),
  };
  writeFileSync(join(here, `${name}.json`), JSON.stringify(json, null, 2) + '\n');
}

function vector(name, description, options, expected = {}) {
  const image = ring(options);
  emit(name, description, image, {
    header: { capacity: options.capacity, maxRecordLength: options.maxRecordLength },
    producerState: options.producerState,
    consumerState: options.consumerState,
    ...expected,
  });
  return image;
}

const r = (type, tag, length) => ({ type, payload: payloadOf(tag, length) });

vector('hand-empty', 'smallest ring, nothing written: no records, not ended', { capacity: 64, maxRecordLength: 16 });

vector('hand-records', 'records of length 0, 1, 7, 8 and maxRecordLength from position 0, types 0..0xFFFF', {
  capacity: 256,
  maxRecordLength: 64,
  records: [r(0, 1, 0), r(1, 2, 1), r(0xffff, 3, 7), r(2, 4, 8), r(3, 5, 64)],
});

vector('hand-wrap-padding', 'head 24 bytes before the end: a 24-byte payload wraps behind a padding record', {
  capacity: 128,
  maxRecordLength: 64,
  head: 104,
  records: [r(7, 1, 24), r(8, 2, 4)],
});

vector('hand-full', 'tail - head == capacity: the ring is full, every byte is one record', {
  capacity: 64,
  maxRecordLength: 56,
  head: 64,
  records: [r(5, 9, 24), r(6, 10, 24)],
});

vector('hand-ended', 'producerState CLOSED after two records: both are read, then end of stream', {
  capacity: 256,
  maxRecordLength: 64,
  producerState: 2,
  consumerState: 0,
  records: [r(1, 1, 3), r(1, 2, 5)],
}, { ended: true });

vector('hand-consumer-closed', 'consumerState CLOSED (a consumer left for good) does not stop a new consumer reading', {
  capacity: 256,
  maxRecordLength: 64,
  producerState: 1,
  consumerState: 2,
  records: [r(4, 6, 12)],
});

vector('hand-near-2-32', 'positions just below 2^32; the tail wraps past 2^32 to a small number', {
  capacity: 256,
  maxRecordLength: 128,
  head: 0xffffffc0,
  records: [r(1, 1, 40), r(2, 2, 40), r(3, 3, 8)],
});

vector('hand-ended-empty', 'producerState CLOSED with nothing left: ended at once', {
  capacity: 64,
  maxRecordLength: 16,
  head: 0x100,
  producerState: 2,
}, { ended: true });

// Corrupt rings: each names the error every decoder must give, with the field at fault.
vector('hand-bad-record-length', 'a record length above maxRecordLength', {
  capacity: 256,
  maxRecordLength: 32,
  records: [{ type: 1, payload: payloadOf(1, 8), rawLength: 33 }],
}, { error: { code: 'ERR_CORRUPT', field: 'record.length', value: 33 } });

vector('hand-bad-record-type', 'a record type that is neither a user type nor padding', {
  capacity: 256,
  maxRecordLength: 32,
  records: [r(0x10000, 1, 8)],
}, { error: { code: 'ERR_CORRUPT', field: 'record.type', value: 0x10000 } });

vector('hand-tail-unaligned', 'a tail that is not a multiple of 8', {
  capacity: 256,
  maxRecordLength: 32,
  records: [r(1, 1, 8)],
  tailOverride: 20,
}, { error: { code: 'ERR_CORRUPT', field: 'tail', value: 20 } });

vector('hand-tail-too-far', 'tail - head > capacity', {
  capacity: 64,
  maxRecordLength: 16,
  tailOverride: 72,
}, { error: { code: 'ERR_CORRUPT', field: 'tail', value: 72 } });

vector('hand-record-past-tail', 'a record that extends past the published tail', {
  capacity: 256,
  maxRecordLength: 64,
  records: [r(1, 1, 32)],
  tailOverride: 16,
}, { error: { code: 'ERR_CORRUPT', field: 'record.length', value: 32 } });

vector('hand-bad-producer-state', 'producerState 7 is not a role state', {
  capacity: 64,
  maxRecordLength: 16,
  producerState: 7,
}, { error: { code: 'ERR_CORRUPT', field: 'producerState', value: 7 } });

{
  const image = ring({ capacity: 64, maxRecordLength: 16 });
  image.bytes[0] ^= 0xff;
  emit('hand-bad-magic', 'magicLo is not "SHMR"', image, {
    header: { capacity: 64, maxRecordLength: 16 },
    error: { code: 'ERR_BAD_MAGIC', field: 'magic', fieldByLanguage: { cpp: 'magicLo' } },
  });
}
{
  const image = ring({ capacity: 64, maxRecordLength: 16 });
  new DataView(image.bytes.buffer).setUint32(32, 0, true);
  emit('hand-not-ready', 'the magic is right but ready was never stored: a creator that did not finish', image, {
    header: { capacity: 64, maxRecordLength: 16 },
    error: { code: 'ERR_NOT_READY', field: 'ready', value: 0 },
  });
}
{
  const image = ring({ capacity: 128, maxRecordLength: 16 });
  new DataView(image.bytes.buffer).setUint32(16, 64, true);
  emit('hand-size-mismatch', 'capacity 64 in a region of 4096 + 128 bytes', image, {
    header: { capacity: 64, maxRecordLength: 16 },
    error: { code: 'ERR_SIZE_MISMATCH', field: 'capacity', fieldByLanguage: { cpp: 'size' } },
  });
}
{
  // The padding at offset 104 says 8 bytes where the rest of the data area is 24 - 8 = 16.
  const image = ring({ capacity: 128, maxRecordLength: 64, head: 104, records: [r(7, 1, 24)] });
  new DataView(image.bytes.buffer).setUint32(HEADER_LENGTH + 104, 8, true);
  emit('hand-bad-padding', 'a padding record whose length is not the rest of the data area', image, {
    header: { capacity: 128, maxRecordLength: 64 },
    error: { code: 'ERR_CORRUPT', field: 'padding.length', value: 8, fieldByLanguage: { go: 'record.length' } },
  });
}
