#!/usr/bin/env node
// A/B of the waiting policy (issue 14.3): a 3-stage do-nothing pipeline (3 workers + the calling
// thread), 64 B records, run with spin 0, 200 and 2000, interleaved round by round, reporting the
// median records/s of each. Build first (npx tsc -p tsconfig.json).
//   node bench/suites/pipeline-stages/spin-ab.mjs [--records N] [--rounds R] [--workers K]
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { runPipeline } from '../../../dist/index.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1' },
  },
});
const records = Number(values.records);
const workers = Number(values.workers);
const noop = new URL('./noop.mjs', import.meta.url);
const spins = [0, 200, 2000];
const rates = new Map(spins.map((spin) => [spin, []]));

async function once(spin) {
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  const record = new Uint8Array(64);
  await runPipeline({
    spin,
    stages: ['a', 'b', 'c'].map((name) => ({ name, module: noop, workers })),
    async source(writer) {
      for (let n = 0; n < records; n++) {
        record[0] = n & 0xff;
        const full = writer.write(record);
        if (full) await full;
      }
    },
    sink: (data) => {
      if (data[0] !== (received & 0xff)) throw new Error(`record ${received} out of order`);
      // From the first record out of the last stage (every worker is up) to the last.
      if (received === 0) firstAt = performance.now();
      received++;
      if (received === records) lastAt = performance.now();
    },
  });
  if (received !== records) throw new Error(`${received} of ${records} records`);
  return (records - 1) / ((lastAt - firstAt) / 1000);
}

await once(200); // warm-up: module loading, V8 tiers
for (let round = 0; round < Number(values.rounds); round++) {
  for (const spin of round % 2 === 0 ? spins : [...spins].reverse()) rates.get(spin).push(await once(spin));
}
const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
console.log(`threads ${3 * workers + 1} on ${availableParallelism()} cores, ${records} x 64 B per run`);
for (const spin of spins) console.log(`spin ${String(spin).padStart(4)}: median ${(median(rates.get(spin)) / 1e6).toFixed(2)} M records/s  (${rates.get(spin).map((rate) => (rate / 1e6).toFixed(2)).join(', ')})`);
