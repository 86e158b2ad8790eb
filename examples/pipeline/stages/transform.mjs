// Stage 2 (worker threads): a binary order -> its total with tax; orders of quantity 0 are dropped
// (returning null drops a record; an ordered pipeline still delivers the rest in source order).
import { PRICED_LENGTH, TAX_RATE } from './orders.mjs';

export default function transform(data) {
  const input = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const quantity = input.getUint32(4, true);
  if (quantity === 0) return null;
  const out = new Uint8Array(PRICED_LENGTH);
  const view = new DataView(out.buffer);
  view.setUint32(0, input.getUint32(0, true), true);
  view.setUint32(4, quantity, true);
  view.setFloat64(8, (quantity * input.getUint32(8, true) * (1 + TAX_RATE)) / 100, true);
  return out;
}
