/**
 * The workload every transport carries, defined once so the contenders stay comparable:
 * - records of a fixed payload size, each with an 8-byte header (u32 length, u32 type) where the
 *   transport has no framing of its own (ringbuf.js, postMessage batches, sockets);
 * - the consumer "touches" each record: it reads the first byte of every 64-byte line of the
 *   payload and its last byte. Every cache line of the record therefore crosses to the consumer's
 *   core (a consumer that read nothing would let a zero-copy transport look free), without
 *   turning the benchmark into a JS checksum loop.
 */

export const FRAME_HEADER = 8;
export const RECORD_TYPE = 1;

/** Reads one byte per 64-byte line of data[offset, offset + length) and the last byte. */
export function touch(data, offset, length) {
  let sum = 0;
  const end = offset + length;
  for (let i = offset; i < end; i += 64) sum += data[i];
  if (length > 0) sum += data[end - 1];
  return sum;
}

/**
 * What the consuming side of a trial received: records counted and payloads touched, checked at the
 * end against what was sent. `onRecord` has poll's handler signature and is bound, so it is passed
 * as is (to pollSync, FrameParser, ...).
 */
export class Delivery {
  seen = 0;
  touched = 0;
  onRecord = (type, data, offset, length) => {
    this.seen++;
    this.touched += touch(data, offset, length);
  };

  reset() {
    this.seen = 0;
    this.touched = 0;
  }

  /** Throws unless exactly `count` records of `size` bytes arrived with the expected payloads. */
  check(label, count, size) {
    if (this.seen !== count) throw new Error(`${label}: consumer saw ${this.seen} records, expected ${count}`);
    const expected = expectedTouch(size) * count;
    if (this.touched !== expected) throw new Error(`${label}: payload check ${this.touched} != ${expected}`);
  }
}

/** A payload of `size` bytes with a recognisable pattern. */
export function makePayload(size) {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
  return payload;
}

/** What `touch` returns for makePayload(size): lets a consumer check it saw the right bytes. */
export function expectedTouch(size) {
  return touch(makePayload(size), 0, size);
}

export function nextPowerOfTwo(value) {
  let result = 1;
  while (result < value) result *= 2;
  return result;
}

/** The ring capacity the throughput suites use unless a contender says otherwise: 4 MiB. */
export const BENCH_RING_CAPACITY = 4 * 1024 * 1024;

/**
 * Ring capacity for a record size: BENCH_RING_CAPACITY (4 MiB) or four slots of the record,
 * whichever is larger. Chosen by measurement: the previous choice, 256 KiB (sized to fit one
 * core's L2), was slower across threads: shmring-batched over 4 MiB vs 256 KiB in the full run of
 * 2026-11-23 13:18 was 1.6-2.6x for 256 B to 64 KiB records, 1.08x at 64 B and 0.92x at 8 B.
 * (Likely why: in a small ring producer and consumer stay within a few hundred KiB of each other,
 * so lines are handed between the two cores' private caches one at a time; not proven here.) The
 * inproc suite keeps the 256 KiB contender (shmring-batched-256k) so every run shows the
 * difference side by side.
 */
export function ringCapacityFor(recordSize, minimum = BENCH_RING_CAPACITY) {
  return Math.max(minimum, nextPowerOfTwo(recordSize + FRAME_HEADER) * 4);
}

/**
 * The record-count bounds of a contender moving framed records of `recordSize` bytes (runInterleaved
 * calibrates between them): the first trial carries at most `initialRecords` records and
 * `initialBytes` bytes, no trial more than `maxBytes` bytes, every trial at least 16 records.
 */
export function recordCounts(recordSize, { initialRecords = 20_000, initialBytes = 4 << 20, maxBytes = 4 * 2 ** 30 } = {}) {
  const frame = recordSize + FRAME_HEADER;
  return {
    initialCount: Math.max(16, Math.min(initialRecords, Math.floor(initialBytes / frame))),
    minCount: 16,
    maxCount: Math.max(16, Math.floor(maxBytes / frame)),
  };
}

/** Records per postMessage batch / socket batch: up to `records`, at most `bytes` per batch, at least 1. */
export function recordsPerBatch(recordSize, records = 1000, bytes = 1 << 20) {
  return Math.max(1, Math.min(records, Math.floor(bytes / (recordSize + FRAME_HEADER))));
}

/**
 * Parses length-prefixed frames out of `buffer[0, filled)`, calling onRecord(type, buffer, offset,
 * length) for each complete one. Returns how many bytes were consumed (a partial frame at the end
 * stays for the next call).
 */
export function parseFrames(buffer, view, filled, onRecord) {
  let position = 0;
  while (filled - position >= FRAME_HEADER) {
    const length = view.getUint32(position, true);
    const end = position + FRAME_HEADER + length;
    if (end > filled) break;
    onRecord(view.getUint32(position + 4, true), buffer, position + FRAME_HEADER, length);
    position = end;
  }
  return position;
}

export function formatBytes(bytes) {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/**
 * Incremental parser of length-prefixed frames from a byte stream (sockets): frames that lie wholly
 * inside a chunk are handed out in place; only a frame split across chunks is assembled in a side
 * buffer (so a 64 KiB chunk of 64 B frames is not copied again).
 */
export class FrameParser {
  constructor(onRecord) {
    this.onRecord = onRecord;
    this.partial = Buffer.alloc(64 * 1024);
    this.partialLength = 0;
  }

  push(chunk) {
    let position = 0;
    if (this.partialLength > 0) {
      // Complete the split frame: header first, then its payload.
      if (this.partialLength < FRAME_HEADER) {
        const take = Math.min(FRAME_HEADER - this.partialLength, chunk.length);
        chunk.copy(this.partial, this.partialLength, 0, take);
        this.partialLength += take;
        position = take;
        if (this.partialLength < FRAME_HEADER) return;
      }
      const frameLength = FRAME_HEADER + this.partial.readUInt32LE(0);
      if (this.partial.length < frameLength) {
        const bigger = Buffer.alloc(frameLength);
        this.partial.copy(bigger, 0, 0, this.partialLength);
        this.partial = bigger;
      }
      const take = Math.min(frameLength - this.partialLength, chunk.length - position);
      chunk.copy(this.partial, this.partialLength, position, position + take);
      this.partialLength += take;
      position += take;
      if (this.partialLength < frameLength) return;
      this.onRecord(this.partial.readUInt32LE(4), this.partial, FRAME_HEADER, frameLength - FRAME_HEADER);
      this.partialLength = 0;
    }
    const end = chunk.length;
    while (end - position >= FRAME_HEADER) {
      const length = chunk.readUInt32LE(position);
      const frameEnd = position + FRAME_HEADER + length;
      if (frameEnd > end) break;
      this.onRecord(chunk.readUInt32LE(position + 4), chunk, position + FRAME_HEADER, length);
      position = frameEnd;
    }
    if (position < end) {
      if (this.partial.length < end - position) this.partial = Buffer.alloc(Math.max(end - position, FRAME_HEADER));
      chunk.copy(this.partial, 0, position, end);
      this.partialLength = end - position;
    }
  }
}

/** A frame (header + payload) as a Buffer. */
export function makeFrame(size, type = RECORD_TYPE) {
  const frame = Buffer.alloc(FRAME_HEADER + size);
  frame.writeUInt32LE(size, 0);
  frame.writeUInt32LE(type, 4);
  frame.set(makePayload(size), FRAME_HEADER);
  return frame;
}

/** Frames per 64 KiB socket write (at least one). */
export function framesPerWrite(size, writeBytes = 64 * 1024) {
  return Math.max(1, Math.floor(writeBytes / (FRAME_HEADER + size)));
}
