// compare.mjs's piscina task: runs one stage function over a batch of records that arrived by
// postMessage (structured clone) and returns the results the same way.
import parse from './stages/parse.mjs';
import transform from './stages/transform.mjs';

const stages = { parse, transform };

export default function runBatch({ stage, batch }) {
  const run = stages[stage];
  const results = [];
  for (const record of batch) {
    const result = run(record, 0);
    if (result !== null && result !== undefined) results.push(result);
  }
  return results;
}
