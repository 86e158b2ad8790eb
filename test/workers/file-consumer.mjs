// Child process: opens a ring file, takes the consumer role and verifies the seeded test stream from
// record `start` until the end of the stream (or `count` records), each record checked byte for byte.
// With `stopAt`, reads record by record (tryRead/release); when `stopAt` records are released it
// reads one more WITHOUT releasing it, tells the parent over IPC {released, holding}, and blocks
// forever, so the parent can kill it at an exactly known point. Prints one JSON line; exits 1 on a
// bad record. With api 'batch', reads through consumer.batch(). argv[2]: JSON {path, seed, maxLength,
// start, count, spin, stopAt, api}
import { RingFile } from '../../dist/index.js';
import { checkStreamRecord } from '../../dist/teststream.js';

const options = JSON.parse(process.argv[2]);
const { path, seed, maxLength, start = 0, count = Infinity, spin, stopAt } = options;
const file = RingFile.open(path);
const consumer = file.consumer({ spin });
let next = start;
let failure = null;
if (stopAt !== undefined) {
  for (;;) {
    const record = consumer.readSync();
    if (record === null) break;
    failure = checkStreamRecord(seed, next >>> 0, maxLength, record.type, record.buffer, record.offset, record.length);
    if (failure) break;
    if (next === stopAt) {
      process.send({ released: next, holding: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // until killed
    }
    record.release();
    next++;
  }
} else {
  const handler = (type, data, offset, length) => {
    if (failure === null) failure = checkStreamRecord(seed, next >>> 0, maxLength, type, data, offset, length);
    next++;
  };
  while (failure === null && next - start < count) {
    if (options.api === 'batch') {
      // A cursor over what is published, one release per batch; waits (and checks the record it
      // takes the same way) with pollSync when there is nothing.
      const batch = consumer.batch(Math.min(count - (next - start), 4096));
      while (batch.next()) handler(batch.type, batch.data, batch.offset, batch.length);
      if (batch.release() > 0) continue;
      if (consumer.pollSync(handler, 1) === 0) break;
    } else if (consumer.pollSync(handler, count - (next - start)) === 0) break;
  }
}
consumer.close({ detach: true });
file.close();
process.stdout.write(JSON.stringify({ records: next - start, next, failure }) + '\n');
process.exitCode = failure ? 1 : 0;
