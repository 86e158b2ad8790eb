// The piscina task of piscina-tasks-batched: one stage over a batch of fixed-size records packed in
// one ArrayBuffer, which arrives transferred and goes back transferred (no structured-clone copy).
import { move } from 'piscina';
import parse from './parse.mjs';
import transform from './transform.mjs';
import verify from './verify.mjs';

const stages = { parse, transform, verify };

export default function runBatch({ stage, buffer, recordSize }) {
  const run = stages[stage];
  const records = buffer.byteLength / recordSize;
  for (let i = 0; i < records; i++) run(new Uint8Array(buffer, i * recordSize, recordSize));
  return move(buffer);
}
