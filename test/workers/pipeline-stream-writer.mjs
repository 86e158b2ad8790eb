// Worker thread for test/streams.test.ts: writes `bytes` seeded bytes into the ring through a
// 'bytes' Writable with stream.pipeline, in chunks of `chunk` bytes, optionally failing after
// `failAfter` bytes. Posts { digest } (sha256 of what it sent) or { error } when done, with the
// highWaterMarks of its two streams (what a failure can discard depends on them, and on the Node line).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { RingProducer } from '../../dist/index.js';
import { createRingWritable } from '../../dist/streams.js';
import { fillStreamPayload } from '../../dist/teststream.js';

const { ring, bytes, chunk, seed, failAfter = -1 } = workerData;
const hash = createHash('sha256');
let sent = 0;
let n = 0;
const source = new Readable({
  read() {
    if (failAfter >= 0 && sent >= failAfter) {
      this.destroy(Object.assign(new Error(`writer failed after ${sent} bytes`), { code: 'E_WRITER' }));
      return;
    }
    if (sent >= bytes) {
      this.push(null);
      return;
    }
    const length = Math.min(chunk, bytes - sent);
    const data = Buffer.allocUnsafe(length);
    fillStreamPayload(data, 0, length, seed, n++);
    hash.update(data);
    sent += length;
    this.push(data);
  },
});
const writable = createRingWritable(new RingProducer(ring), { mode: 'bytes' });
const highWaterMarks = [source.readableHighWaterMark, writable.writableHighWaterMark];
try {
  await pipeline(source, writable);
  parentPort.postMessage({ digest: hash.digest('hex'), sent, highWaterMarks });
} catch (error) {
  parentPort.postMessage({ error: error.message, code: error.code, sent, highWaterMarks });
}
