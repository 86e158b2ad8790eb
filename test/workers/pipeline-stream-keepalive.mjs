// Child process for test/streams.test.ts: a Readable parked on an empty ring must keep the process
// alive. The only producer is an unref'd worker that writes once the reader is parked (it watches the
// ring's consumerWaiting word); without the keep-alive the process would exit with nothing printed.
import { Worker } from 'node:worker_threads';
import { createRing, RingConsumer } from '../../dist/index.js';
import { createRingReadable } from '../../dist/streams.js';

const ring = createRing({ capacity: 4096 });
const worker = new Worker(
  `
  const { workerData } = require('node:worker_threads');
  import('${new URL('../../dist/index.js', import.meta.url).href}').then(({ RingProducer, layout }) => {
    const words = new Int32Array(workerData, 0, layout.HEADER_LENGTH >> 2);
    const tick = new Int32Array(new SharedArrayBuffer(4));
    while (Atomics.load(words, layout.CONSUMER_WAITING_INDEX) !== 1) Atomics.wait(tick, 0, 0, 1);
    const producer = new RingProducer(workerData);
    producer.tryWrite(new TextEncoder().encode('hello from a parked ring'));
    producer.close();
  });
  `,
  { eval: true, workerData: ring },
);
worker.unref();
const chunks = [];
for await (const chunk of createRingReadable(new RingConsumer(ring))) chunks.push(chunk);
process.stdout.write(Buffer.concat(chunks).toString() + '\n');
