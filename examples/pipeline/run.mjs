#!/usr/bin/env node
// A three-part pipeline over shmring rings: the source (this thread) writes CSV order lines, 'parse'
// (worker threads) turns each into a binary record, 'transform' (worker threads) prices it and drops
// empty orders, and the sink (this thread) totals what arrives, in source order. Records cross
// threads through shared memory only. Build first: npx tsc -p tsconfig.json
//
//   node examples/pipeline/run.mjs [--records N] [--workers K] [--go]
//
// --go puts the Go peer (go-peer/bin/shmring relay; node scripts/build-go.mjs) between parse and
// transform as a process stage: records then also cross into a Go process and back through ring
// files in /dev/shm. examples/pipeline/compare.mjs runs the same stages as ordinary piscina tasks.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runPipeline } from '../../dist/index.js';
import { orderLine, PRICED_LENGTH } from './stages/orders.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '500000' },
    workers: { type: 'string', default: '2' },
    go: { type: 'boolean', default: false },
  },
});
const records = Number(values.records);
const goCli = fileURLToPath(new URL('../../go-peer/bin/shmring', import.meta.url));
if (values.go && !existsSync(goCli)) {
  console.error(`--go needs ${goCli}: build it with node scripts/build-go.mjs`);
  process.exit(2);
}
// A process stage reads one ring and writes one: the stages next to it run one worker each.
const workers = values.go ? 1 : Number(values.workers);

const encoder = new TextEncoder();
const stages = [
  { name: 'parse', module: new URL('./stages/parse.mjs', import.meta.url), workers },
  ...(values.go ? [{ name: 'go', command: [goCli, 'relay', '{input}', '{output}'] }] : []),
  { name: 'transform', module: new URL('./stages/transform.mjs', import.meta.url), workers },
];

let received = 0;
let lastId = -1;
let revenue = 0;
const result = await runPipeline({
  source: async (out) => {
    const line = new Uint8Array(64);
    for (let n = 0; n < records; n++) {
      const { written } = encoder.encodeInto(orderLine(n), line);
      const pending = out.write(line.subarray(0, written)); // copied into the ring at once
      if (pending !== undefined) await pending; // the ring is full: wait for room
    }
  },
  stages,
  // data is a view into the ring, valid during this call only.
  sink: (data) => {
    if (data.length !== PRICED_LENGTH) throw new Error(`a priced order has ${PRICED_LENGTH} bytes, got ${data.length}`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const id = view.getUint32(0, true);
    if (id <= lastId) throw new Error(`order ${id} arrived after order ${lastId}`);
    lastId = id;
    revenue += view.getFloat64(8, true);
    received++;
  },
});

let expected = 0;
for (let n = 0; n < records; n++) if ((n * 7) % 13 !== 0) expected++;
if (received !== expected) throw new Error(`the sink got ${received} orders, expected ${expected}`);
const seconds = result.elapsedMs / 1000;
console.log(`pipeline: source -> ${stages.map((stage) => `${stage.name}${stage.command ? ' (Go process)' : ` x${stage.workers}`}`).join(' -> ')} -> sink`);
console.log(`records:  ${records} lines in, ${received} priced orders out (in order), revenue ${revenue.toFixed(2)}`);
console.log(`elapsed:  ${result.elapsedMs.toFixed(0)} ms, ${Math.round(records / seconds).toLocaleString('en-US')} records/s`);
for (const stage of result.stages) {
  const busy = Number.isNaN(stage.busyMs) ? 'its own process' : `busy ${stage.busyMs.toFixed(0)} ms, waiting for input ${stage.inputWaitMs.toFixed(0)} ms`;
  console.log(`  ${stage.name.padEnd(10)} in ${stage.recordsIn}, out ${stage.recordsOut}; ${busy}`);
}
