#!/usr/bin/env node
// Which way out of a stage is fastest (issue 14.1): source -> one stage -> sink, 64 B records, the
// stage written several ways (output-styles.mjs), interleaved round by round; median records/s from
// the first record in the sink to the last. Build first (npx tsc -p tsconfig.json).
// Styles: noop (returns the input view), fresh (a new array per record), reused (one array), write
// (context.write), claim (context.claim/commit), batchWriter (context.batch()), inPlace (inPlace: true).
//   node bench/suites/pipeline-stages/output-ab.mjs [--records N] [--rounds R] [--size B]
import { parseArgs } from 'node:util';
import { runPipeline } from '../../../dist/index.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '5' },
    size: { type: 'string', default: '64' },
  },
});
const records = Number(values.records);
const size = Number(values.size);
const module = new URL('./output-styles.mjs', import.meta.url);
const styles = ['noop', 'fresh', 'reused', 'write', 'claim', 'batchWriter', 'inPlace'];
/** Stage options per style: batchWriter needs an unordered stage, inPlace makes the pipeline one ring. */
const stageOptions = { batchWriter: { ordered: false }, inPlace: { inPlace: true } };
const rates = new Map(styles.map((style) => [style, []]));
/** The stage worker's busy time per record (stats: excludes waiting for input and for room), ns. */
const busy = new Map(styles.map((style) => [style, []]));

async function once(style) {
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  const record = new Uint8Array(size);
  const result = await runPipeline({
    stages: [{ name: style, module, export: style, ...stageOptions[style] }],
    async source(writer) {
      for (let n = 0; n < records; n++) {
        record[0] = n & 0xff;
        const full = writer.write(record);
        if (full) await full;
      }
    },
    sink: (data) => {
      if (data[0] !== (received & 0xff) || data[4] !== (style === 'noop' ? 0 : 0x5a)) throw new Error(`${style}: record ${received} is wrong`);
      if (received === 0) firstAt = performance.now();
      received++;
      if (received === records) lastAt = performance.now();
    },
  });
  busy.get(style).push((result.stages[0].busyMs * 1e6) / records);
  return (records - 1) / ((lastAt - firstAt) / 1000);
}

for (const style of styles) await once(style); // warm-up
for (let round = 0; round < Number(values.rounds); round++) {
  for (const style of round % 2 === 0 ? styles : [...styles].reverse()) rates.get(style).push(await once(style));
}
const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
console.log(`${records} x ${size} B per run, one stage`);
for (const style of styles) {
  console.log(
    `${style.padEnd(7)} median ${(median(rates.get(style)) / 1e6).toFixed(2)} M records/s  (${rates.get(style).map((rate) => (rate / 1e6).toFixed(2)).join(', ')}); ` +
      `stage busy ${median(busy.get(style)).toFixed(0)} ns/record (${busy.get(style).map((ns) => ns.toFixed(0)).join(', ')})`,
  );
}
