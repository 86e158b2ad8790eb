// Stage 1: checks the record's length and its touched bytes against the pristine pattern.
import { MIN_RECORD, checksum, pristineChecksum, sequenceOf } from './record.mjs';

export default function parse(data) {
  if (data.length < MIN_RECORD) throw new RangeError(`parse: a record of ${data.length} bytes (at least ${MIN_RECORD})`);
  const sum = checksum(data);
  if (sum !== pristineChecksum(data.length)) throw new Error(`parse: record ${sequenceOf(data)} has checksum ${sum}, expected ${pristineChecksum(data.length)}`);
  return data;
}
