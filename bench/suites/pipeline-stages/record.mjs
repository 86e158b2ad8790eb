/**
 * The record the pipeline contenders carry and the per-record work of their three stages, defined
 * once so the ring pipeline and the piscina tasks do exactly the same work:
 *   bytes 0..3   sequence number (u32, little endian), written by the source, checked in order by the sink
 *   bytes 4..    the payload pattern of lib/workload.mjs makePayload
 * Each stage touches the record where workload.mjs `touch` does (one byte per 64-byte line and the
 * last byte; line 0 at byte 4, past the sequence number), so every cache line crosses to the stage's
 * core: `parse` checks those bytes against the pristine pattern, `transform` flips them in place
 * (XOR MASK), `verify` checks the flipped values. Records are at least MIN_RECORD bytes.
 */
export const SEQUENCE_BYTES = 4;
export const MIN_RECORD = 8;
export const MASK = 0x5a;

/** Sum of the touched bytes: byte 4, every 64th byte from 64, and the last byte. */
export function checksum(data) {
  const length = data.length;
  let sum = data[SEQUENCE_BYTES];
  for (let i = 64; i < length - 1; i += 64) sum += data[i];
  return sum + data[length - 1];
}

/** checksum() of the record at buffer[offset, offset + length), without a view. */
export function checksumAt(buffer, offset, length) {
  let sum = buffer[offset + SEQUENCE_BYTES];
  for (let i = 64; i < length - 1; i += 64) sum += buffer[offset + i];
  return sum + buffer[offset + length - 1];
}

/** Flips each touched byte once (XOR MASK); the positions are those `checksum` reads, each once. */
export function mask(data) {
  const length = data.length;
  data[SEQUENCE_BYTES] ^= MASK;
  for (let i = 64; i < length - 1; i += 64) data[i] ^= MASK;
  data[length - 1] ^= MASK;
}

export function sequenceOf(data) {
  return (data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24)) >>> 0;
}

export function setSequence(data, sequence) {
  data[0] = sequence & 0xff;
  data[1] = (sequence >>> 8) & 0xff;
  data[2] = (sequence >>> 16) & 0xff;
  data[3] = (sequence >>> 24) & 0xff;
}

/** A record of `size` bytes (sequence 0) with the payload pattern of workload.mjs makePayload. */
export function makeRecord(size) {
  if (!(size >= MIN_RECORD)) throw new RangeError(`pipeline records are at least ${MIN_RECORD} bytes, got ${size}`);
  const record = new Uint8Array(size);
  for (let i = 0; i < size; i++) record[i] = (i * 31 + 7) & 0xff;
  setSequence(record, 0);
  return record;
}

const pristine = new Map();
const masked = new Map();

/** What `checksum` gives for a fresh record of `size` bytes (cached per size). */
export function pristineChecksum(size) {
  let sum = pristine.get(size);
  if (sum === undefined) pristine.set(size, (sum = checksum(makeRecord(size))));
  return sum;
}

/** What `checksum` gives for a record of `size` bytes after `mask` (cached per size). */
export function maskedChecksum(size) {
  let sum = masked.get(size);
  if (sum === undefined) {
    const record = makeRecord(size);
    mask(record);
    masked.set(size, (sum = checksum(record)));
  }
  return sum;
}
