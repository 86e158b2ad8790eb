/**
 * Echo side of the in-process latency suite: ring ping-pong (consume a record from the ping ring,
 * write it back on the pong ring with the receive time stamped into its first 8 bytes) and
 * postMessage ping-pong (echo every message).
 */
import { parentPort } from 'node:worker_threads';
import { RingConsumer, RingProducer } from '../../dist/index.js';
import { serveWorkerTrials } from '../harness.mjs';

function ringEcho({ ping, pong, spin }) {
  const consumer = new RingConsumer(ping, { spin });
  const producer = new RingProducer(pong, { publish: 'eager', spin });
  const out = new DataView(producer.data.buffer, producer.data.byteOffset, producer.data.byteLength);
  let echoed = 0;
  const echo = (type, data, offset, length) => {
    const receivedAt = performance.timeOrigin + performance.now();
    const at = producer.tryClaim(length, type);
    if (at < 0) throw new Error('pong ring full');
    producer.data.set(data.subarray(offset, offset + length), at);
    out.setFloat64(at, receivedAt, true);
    producer.commit();
    echoed++;
  };
  return () => {
    for (;;) {
      const handled = consumer.pollSync(echo, Infinity, 30_000);
      if (handled === 0 && consumer.ended) break;
      if (handled === 0) throw new Error('no ping for 30 s');
    }
    producer.close();
    consumer.close();
    return { echoed };
  };
}

function messageEcho({ count }) {
  return () =>
    new Promise((resolve) => {
      let echoed = 0;
      const onMessage = (message) => {
        if (message?.control !== undefined) return;
        parentPort.postMessage(message);
        if (++echoed === count) {
          parentPort.off('message', onMessage);
          resolve({ echoed });
        }
      };
      parentPort.on('message', onMessage);
    });
}

serveWorkerTrials((params) => (params.kind === 'ring-echo' ? ringEcho(params) : messageEcho(params)));
