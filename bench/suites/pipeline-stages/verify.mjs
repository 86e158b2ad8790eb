// Stage 3: checks that transform's flips arrived, then passes the record on to the sink.
import { checksum, maskedChecksum, sequenceOf } from './record.mjs';

export default function verify(data) {
  const sum = checksum(data);
  if (sum !== maskedChecksum(data.length)) throw new Error(`verify: record ${sequenceOf(data)} has checksum ${sum}, expected ${maskedChecksum(data.length)}`);
  return data;
}
