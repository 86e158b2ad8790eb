// The three stages of record.mjs as in-place stages (stage option inPlace: true): each changes or
// checks the record where it lies in the pipeline's one ring, and writes nothing. Batch handlers
// (buffer/offset/length, no view per record) and, below, the same as record functions.
import { MASK, SEQUENCE_BYTES, checksum, checksumAt, mask, maskedChecksum, pristineChecksum, sequenceOf } from './record.mjs';

function failAt(stage, batch, sum, expected) {
  const record = batch.data;
  return new Error(`${stage}: record ${sequenceOf(record)} has checksum ${sum}, expected ${expected}`);
}

export function parse(batch) {
  while (batch.next()) {
    const { buffer, offset, length } = batch;
    const sum = checksumAt(buffer, offset, length);
    if (sum !== pristineChecksum(length)) throw failAt('parse', batch, sum, pristineChecksum(length));
  }
}

export function transform(batch) {
  while (batch.next()) {
    const { buffer, offset, length } = batch;
    buffer[offset + SEQUENCE_BYTES] ^= MASK;
    for (let i = 64; i < length - 1; i += 64) buffer[offset + i] ^= MASK;
    buffer[offset + length - 1] ^= MASK;
  }
}

export function verify(batch) {
  while (batch.next()) {
    const { buffer, offset, length } = batch;
    const sum = checksumAt(buffer, offset, length);
    if (sum !== maskedChecksum(length)) throw failAt('verify', batch, sum, maskedChecksum(length));
  }
}

/** Record functions: a view of the record per call, changed in place, nothing returned. */
export const records = {
  parse(data) {
    const sum = checksum(data);
    if (sum !== pristineChecksum(data.length)) throw new Error(`parse: record ${sequenceOf(data)} has checksum ${sum}`);
  },
  transform(data) {
    mask(data);
  },
  verify(data) {
    const sum = checksum(data);
    if (sum !== maskedChecksum(data.length)) throw new Error(`verify: record ${sequenceOf(data)} has checksum ${sum}`);
  },
};
export const parseRecord = records.parse;
export const transformRecord = records.transform;
export const verifyRecord = records.verify;
