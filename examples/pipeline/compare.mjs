#!/usr/bin/env node
// The stages of run.mjs as ordinary piscina tasks, for comparison: the same source, parse,
// transform and sink, but every batch of records travels to a worker and back by postMessage
// (structured clone of an array of Uint8Arrays), once per stage. No rings. Results are taken in
// source order; at most 2 batches per worker are in flight.
//
//   node examples/pipeline/compare.mjs [--records N] [--workers K] [--batch B]
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { orderLine, PRICED_LENGTH } from './stages/orders.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '500000' },
    workers: { type: 'string', default: '2' },
    batch: { type: 'string', default: '1000' },
  },
});
const records = Number(values.records);
const workers = Number(values.workers);
const batchSize = Number(values.batch);

const filename = new URL('./compare-worker.mjs', import.meta.url).href;
const pools = ['parse', 'transform'].map(() => new Piscina({ filename, minThreads: workers, maxThreads: workers }));
const [parsePool, transformPool] = pools;

const encoder = new TextEncoder();
let received = 0;
let lastId = -1;
let revenue = 0;
const sink = (data) => {
  if (data.length !== PRICED_LENGTH) throw new Error(`a priced order has ${PRICED_LENGTH} bytes, got ${data.length}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const id = view.getUint32(0, true);
  if (id <= lastId) throw new Error(`order ${id} arrived after order ${lastId}`);
  lastId = id;
  revenue += view.getFloat64(8, true);
  received++;
};

const started = performance.now();
const inFlight = [];
for (let first = 0; first < records; first += batchSize) {
  const batch = [];
  for (let n = first; n < Math.min(records, first + batchSize); n++) batch.push(encoder.encode(orderLine(n)));
  inFlight.push(parsePool.run({ stage: 'parse', batch }).then((parsed) => transformPool.run({ stage: 'transform', batch: parsed })));
  // Bounded: wait for the oldest batch (source order) before making more.
  while (inFlight.length >= 2 * workers) for (const priced of await inFlight.shift()) sink(priced);
}
while (inFlight.length > 0) for (const priced of await inFlight.shift()) sink(priced);
const elapsedMs = performance.now() - started;
await Promise.all(pools.map((pool) => pool.destroy()));

let expected = 0;
for (let n = 0; n < records; n++) if ((n * 7) % 13 !== 0) expected++;
if (received !== expected) throw new Error(`the sink got ${received} orders, expected ${expected}`);
console.log(`piscina tasks: source -> parse x${workers} -> transform x${workers} -> sink, ${batchSize} records per postMessage`);
console.log(`records:  ${records} lines in, ${received} priced orders out (in order), revenue ${revenue.toFixed(2)}`);
console.log(`elapsed:  ${elapsedMs.toFixed(0)} ms, ${Math.round(records / (elapsedMs / 1000)).toLocaleString('en-US')} records/s`);
