// Child of reliability/fuzz.mjs: meets every file of a corpus directory as a Node peer meets a file
// another process left (open, stats, attach a consumer and read everything, then attach a producer
// and write one record). Each outcome must be a clean run or a RingError with a code; anything else
// (another exception, a crash of this process) is a failure. Prints one JSON line of counts.
// argv[2]: the corpus directory.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { RingError, RingFile } from '../dist/index.js';

const dir = process.argv[2];
const outcomes = {};
const failures = [];
const count = (key) => (outcomes[key] = (outcomes[key] ?? 0) + 1);

function check(file) {
  let step = 'open';
  let ring;
  try {
    ring = RingFile.open(file);
    step = 'stats';
    ring.stats();
    step = 'attach';
    const consumer = ring.consumer();
    step = 'read';
    const limit = ring.capacity / 8 + 1;
    let read = 0;
    for (let handled; (handled = consumer.poll(() => {}, 4096)) > 0; ) {
      read += handled;
      if (read > limit) throw new Error(`read ${read} records from a ring of capacity ${ring.capacity}`);
    }
    consumer.close({ detach: true });
    step = 'write';
    const producer = ring.producer();
    producer.tryWrite(new Uint8Array(Math.min(8, ring.maxRecordLength)), 1);
    producer.close({ end: false });
    count('ok');
  } catch (error) {
    if (error instanceof RingError && typeof error.code === 'string') count(`${step}:${error.code}`);
    else failures.push(`${path.basename(file)} at ${step}: ${error?.stack ?? error}`);
  } finally {
    ring?.close();
  }
}

for (const name of readdirSync(dir)) if (name.endsWith('.ring')) check(path.join(dir, name));
process.stdout.write(JSON.stringify({ outcomes, failures }) + '\n');
