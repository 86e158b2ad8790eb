// The three stages of record.mjs as batch handlers (many records per call) writing in place.
import { checksum, maskedChecksum, pristineChecksum, sequenceOf } from './record.mjs';

function copyOut(batch, context) {
  const at = context.claim(batch.length);
  const output = context.output;
  output.set(batch.buffer.subarray(batch.offset, batch.offset + batch.length), at);
  return at;
}

export function parse(batch, context) {
  while (batch.next()) {
    const at = copyOut(batch, context);
    const record = context.output.subarray(at, at + batch.length);
    const sum = checksum(record);
    if (sum !== pristineChecksum(batch.length)) throw new Error(`parse: record ${sequenceOf(record)} has checksum ${sum}`);
    context.commit();
  }
}

export function transform(batch, context) {
  while (batch.next()) {
    const at = copyOut(batch, context);
    const output = context.output;
    const length = batch.length;
    output[at + 4] ^= 0x5a;
    for (let i = 64; i < length - 1; i += 64) output[at + i] ^= 0x5a;
    output[at + length - 1] ^= 0x5a;
    context.commit();
  }
}

export function verify(batch, context) {
  while (batch.next()) {
    const at = copyOut(batch, context);
    const record = context.output.subarray(at, at + batch.length);
    const sum = checksum(record);
    if (sum !== maskedChecksum(batch.length)) throw new Error(`verify: record ${sequenceOf(record)} has checksum ${sum}`);
    context.commit();
  }
}
