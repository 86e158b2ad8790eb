// Worker side of examples/demo.mjs: attaches to the ring it was handed (shared, not copied) and
// checks every record's sequence number and checksum, zero-copy, in batches.
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../dist/index.js';
import { checkStreamRecord } from '../dist/teststream.js';

const { ring, seed, maxLength } = workerData;
const consumer = new RingConsumer(ring);
let next = 0;
let failure = null;
const check = (type, data, offset, length) => {
  failure ??= checkStreamRecord(seed, next, maxLength, type, data, offset, length);
  next++;
};
// pollSync blocks this worker (spin, then Atomics.wait) until records arrive or the stream ends.
while (!consumer.ended) consumer.pollSync(check, 4096, 10_000);
consumer.close();
parentPort.postMessage({ records: next, failure });
