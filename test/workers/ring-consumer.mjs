// Worker: takes the consumer role of an in-memory ring and reads until the end of the stream,
// checking every record against the seeded test stream (sequence through the type, full payload).
// Starts only when the main thread opens the barrier.
// workerData: { buffer, control, seed, maxLength, api: 'readSync' | 'pollSync' | 'batch', limit, spin }
//   batch: consumer.batch(limit) stepped through with next(), one release per batch; when empty,
//          waits with pollSync(handler, 1) (which checks the record it takes the same way).
// Posts one report: { role, records, bytes, ended, error } — error is the first mismatch or throw.
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../../dist/index.js';
import { checkStreamRecord } from '../../dist/teststream.js';
import { HANG_GUARD_MS, arriveAndWait, describeError } from './ring-common.mjs';

const { buffer, control, seed, maxLength, api = 'readSync', limit = Infinity, spin } = workerData;
const report = { role: 'consumer', records: 0, bytes: 0, ended: false, error: null };
let consumer;
try {
  consumer = new RingConsumer(buffer, { spin });
  arriveAndWait(control);
  const handler = (type, data, offset, length) => {
    if (report.error === null) report.error = checkStreamRecord(seed, report.records, maxLength, type, data, offset, length);
    report.records++;
    report.bytes += length;
  };
  if (api === 'readSync') {
    for (;;) {
      const record = consumer.readSync(HANG_GUARD_MS);
      if (record === null) {
        if (consumer.ended) break;
        throw new Error(`no record and no end of stream within ${HANG_GUARD_MS} ms after record ${report.records}`);
      }
      handler(record.type, record.data, 0, record.length);
      consumer.release();
    }
  } else if (api === 'batch') {
    for (;;) {
      const batch = consumer.batch(limit);
      while (batch.next()) handler(batch.type, batch.data, batch.offset, batch.length);
      if (batch.release() > 0) continue;
      if (consumer.pollSync(handler, 1, HANG_GUARD_MS) > 0) continue;
      if (consumer.ended) break;
      throw new Error(`no record and no end of stream within ${HANG_GUARD_MS} ms after record ${report.records}`);
    }
  } else {
    for (;;) {
      if (consumer.pollSync(handler, limit, HANG_GUARD_MS) > 0) continue;
      if (consumer.ended) break;
      throw new Error(`no record and no end of stream within ${HANG_GUARD_MS} ms after record ${report.records}`);
    }
  }
  report.ended = consumer.ended;
  consumer.close();
} catch (error) {
  if (report.error === null) report.error = describeError(error);
  consumer?.close();
}
parentPort.postMessage(report);
