import { fileURLToPath } from 'node:url';
import { runPipeline } from 'shmring';

const stage = (file) => new URL(file, import.meta.url);
const lines = ['3,apples', '5,pears', '2,plums'].map((line) => new TextEncoder().encode(line));

const result = await runPipeline({
  source: lines,                                        // iterable / async iterable / (writer) => ...
  stages: [
    { name: 'parse', module: stage('./parse.mjs'), workers: 2 },    // claims its output in the next ring
    { name: 'total', module: stage('./total.mjs') },                // init + end hooks: a running total
    // A process stage: any program that relays between two ring files (here Node; a Go peer works too).
    { name: 'shout', command: [process.execPath, fileURLToPath(stage('./shout.mjs')), '{input}', '{output}'] },
  ],
  sink: (data, type) => {                               // a view of ring memory, valid during the call
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (type === 1) console.log(`total ${view.getUint32(0, true)}`);
    else console.log(`${view.getUint32(0, true)} ${new TextDecoder().decode(data.subarray(4))}`);
  },
});
console.log(result.stages.map((s) => `${s.name}: ${s.recordsIn} in, ${s.recordsOut} out`).join('; '));
