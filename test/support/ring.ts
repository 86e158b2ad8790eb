/**
 * Helpers for the in-memory ring tests: planting positions and records directly in a ring's shared
 * words (to reach wrap, padding, full and corrupt states without driving a producer there), reading
 * everything a consumer has, and snapshots of the data area.
 */
import { onTestFailed } from 'vitest';
import { createRing, RingConsumer, type RecordView } from '../../src/index.js';
import {
  HEADER_LENGTH,
  HEAD_INDEX,
  PADDING_TYPE,
  RECORD_HEADER_LENGTH,
  TAIL_INDEX,
  recordSlotLength,
} from '../../src/layout.js';

export interface PlantedRing {
  buffer: SharedArrayBuffer;
  /** The header as Int32 words (index = byte offset >> 2). */
  words: Int32Array;
  /** The data area as bytes. */
  data: Uint8Array;
  /** The data area as little-endian u32 fields. */
  view: DataView;
  capacity: number;
  maxRecordLength: number;
}

/** A fresh ring with head and tail both planted at `position` (u32, a multiple of 8) before any side attaches. */
export function plantedRing(options: { capacity: number; maxRecordLength?: number; head?: number; tail?: number }): PlantedRing {
  const buffer = createRing({ capacity: options.capacity, maxRecordLength: options.maxRecordLength });
  const ring = ringViews(buffer);
  setHead(ring, options.head ?? 0);
  setTail(ring, options.tail ?? options.head ?? 0);
  return ring;
}

export function ringViews(buffer: SharedArrayBuffer): PlantedRing {
  const header = new DataView(buffer, 0, HEADER_LENGTH);
  const capacity = header.getUint32(16, true);
  return {
    buffer,
    words: new Int32Array(buffer, 0, HEADER_LENGTH >> 2),
    data: new Uint8Array(buffer, HEADER_LENGTH, capacity),
    view: new DataView(buffer, HEADER_LENGTH, capacity),
    capacity,
    maxRecordLength: header.getUint32(20, true),
  };
}

export function setHead(ring: PlantedRing, position: number): void {
  Atomics.store(ring.words, HEAD_INDEX, position | 0);
}
export function setTail(ring: PlantedRing, position: number): void {
  Atomics.store(ring.words, TAIL_INDEX, position | 0);
}
/** The shared head as an unsigned position. */
export function headOf(ring: PlantedRing): number {
  return Atomics.load(ring.words, HEAD_INDEX) >>> 0;
}
/** The shared tail as an unsigned position. */
export function tailOf(ring: PlantedRing): number {
  return Atomics.load(ring.words, TAIL_INDEX) >>> 0;
}

/** Writes a record header (raw u32 fields) at a byte offset of the data area. */
export function plantHeader(ring: PlantedRing, offset: number, length: number, type: number): void {
  ring.view.setUint32(offset, length >>> 0, true);
  ring.view.setUint32(offset + 4, type >>> 0, true);
}

export function readHeader(ring: PlantedRing, offset: number): { length: number; type: number } {
  return { length: ring.view.getUint32(offset, true), type: ring.view.getUint32(offset + 4, true) };
}

/** Payload bytes that name their record: byte k of record `tag` is (tag * 31 + k) & 0xff. */
export function taggedPayload(tag: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let k = 0; k < length; k++) bytes[k] = (tag * 31 + k) & 0xff;
  return bytes;
}

/**
 * Plants well-formed records (tagged payloads) one after another starting at `position`, as a
 * producer would, wrapping with a padding record where one would not fit. Returns the position after
 * the last one. Does not move the shared tail: the caller decides what is published.
 */
export function plantRecords(ring: PlantedRing, position: number, records: Array<{ length: number; type: number; tag: number }>): number {
  for (const record of records) {
    let offset = position & (ring.capacity - 1);
    const slot = recordSlotLength(record.length);
    if (slot > ring.capacity - offset) {
      plantHeader(ring, offset, ring.capacity - offset - RECORD_HEADER_LENGTH, PADDING_TYPE);
      position = (position + ring.capacity - offset) >>> 0;
      offset = 0;
    }
    ring.data.set(taggedPayload(record.tag, record.length), offset + RECORD_HEADER_LENGTH);
    plantHeader(ring, offset, record.length, record.type);
    position = (position + slot) >>> 0;
  }
  return position;
}

export interface ReadRecord {
  type: number;
  bytes: Uint8Array;
  /** Offset of the payload in the data area. */
  offset: number;
}

/** Everything poll() hands out now, copied. */
export function drain(consumer: RingConsumer, limit = Infinity): ReadRecord[] {
  const records: ReadRecord[] = [];
  consumer.poll((type, data, offset, length) => {
    records.push({ type, bytes: data.slice(offset, offset + length), offset });
  }, limit);
  return records;
}

/** Copies a view's payload and releases it. */
export function takeRecord(consumer: RingConsumer, record: RecordView): ReadRecord {
  const taken = { type: record.type, bytes: record.copy(), offset: record.offset };
  consumer.release();
  return taken;
}

export function snapshot(ring: PlantedRing): Uint8Array {
  return ring.data.slice();
}

/** Byte offsets where the data area differs from a snapshot. */
export function changedOffsets(ring: PlantedRing, before: Uint8Array): number[] {
  const changed: number[] = [];
  for (let i = 0; i < before.length; i++) if (ring.data[i] !== before[i]) changed.push(i);
  return changed;
}

/** Fills the whole data area with seeded noise so that any stray write shows in a snapshot. */
export function fillNoise(ring: PlantedRing, seed: number): void {
  const random = seededRandom(seed);
  for (let i = 0; i < ring.data.length; i++) ring.data[i] = random() & 0xff;
}

/** mulberry32: a small seeded generator; returns u32 values. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * A seed for this test: SHMRING_SEED if set (to replay a failure), else a fresh one. Printed when
 * the test fails, so every random run can be replayed.
 */
export function testSeed(label: string): number {
  const fromEnv = process.env.SHMRING_SEED;
  const seed = fromEnv !== undefined ? Number(fromEnv) >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0;
  onTestFailed(() => {
    console.error(`[${label}] failed with seed ${seed} (replay: SHMRING_SEED=${seed})`);
  });
  return seed;
}

/** Runs `fn` and returns the error it throws (fails the caller's expectation if it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, but the call returned');
}

export async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
