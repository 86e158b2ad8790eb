// The three stages of record.mjs writing their output in place (context.claim + commit) instead of
// returning the input view: the same checks and flips, the record copied once into the next ring.
import { checksum, maskedChecksum, pristineChecksum, sequenceOf } from './record.mjs';

function forward(data, context) {
  const at = context.claim(data.length);
  context.output.set(data, at);
}

export function parse(data, type, context) {
  const sum = checksum(data);
  if (sum !== pristineChecksum(data.length)) throw new Error(`parse: record ${sequenceOf(data)} has checksum ${sum}, expected ${pristineChecksum(data.length)}`);
  forward(data, context);
  context.commit();
}

export function transform(data, type, context) {
  const at = context.claim(data.length);
  const output = context.output;
  output.set(data, at);
  // Flip in the next ring, not in the input: the input is left as it came.
  const length = data.length;
  output[at + 4] ^= 0x5a;
  for (let i = 64; i < length - 1; i += 64) output[at + i] ^= 0x5a;
  output[at + length - 1] ^= 0x5a;
  context.commit();
}

export function verify(data, type, context) {
  const sum = checksum(data);
  if (sum !== maskedChecksum(data.length)) throw new Error(`verify: record ${sequenceOf(data)} has checksum ${sum}, expected ${maskedChecksum(data.length)}`);
  forward(data, context);
  context.commit();
}
