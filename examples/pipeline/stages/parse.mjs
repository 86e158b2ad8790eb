// Stage 1 (worker threads): a CSV order line (bytes) -> a binary order record. The input bytes are
// a view into the ring, valid during this call only; the result is written into the next ring.
import { PARSED_HEADER } from './orders.mjs';

const COMMA = 0x2c;
const NEWLINE = 0x0a;

/** Parses the unsigned decimal in data[start, end). */
function decimal(data, start, end) {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = data[i] - 0x30;
    if (digit < 0 || digit > 9) throw new Error(`not a digit at byte ${i}: ${data[i]}`);
    value = value * 10 + digit;
  }
  return value;
}

export default function parse(data) {
  let end = data.length;
  if (data[end - 1] === NEWLINE) end--;
  const c1 = data.indexOf(COMMA);
  const c2 = data.indexOf(COMMA, c1 + 1);
  const c3 = data.indexOf(COMMA, c2 + 1);
  if (c1 < 0 || c2 < 0 || c3 < 0) throw new Error('an order line has four comma-separated fields');
  const skuLength = c2 - c1 - 1;
  const out = new Uint8Array(PARSED_HEADER + skuLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, decimal(data, 0, c1), true);
  view.setUint32(4, decimal(data, c2 + 1, c3), true);
  view.setUint32(8, decimal(data, c3 + 1, end), true);
  out.set(data.subarray(c1 + 1, c2), PARSED_HEADER);
  return out;
}
