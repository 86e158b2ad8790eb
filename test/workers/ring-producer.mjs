// Worker: takes the producer role of an in-memory ring and writes records [0, count) of the seeded
// test stream, then ends the stream. Starts only when the main thread opens the barrier.
// workerData: { buffer, control, seed, count, maxLength, mode: 'copy' | 'claim' | 'batch', publish, spin, abortEvery }
//   copy:  writeSync() of a payload filled in a scratch buffer;
//   claim: zero-copy claimSync() + fillStreamPayload into ring memory + commit(); every
//          `abortEvery`-th record first claims, scribbles and aborts (the consumer must never see it).
//   batch: producer.batch() claims in place until a record does not fit, one publish per batch;
//          every `abortEvery`-th batch is first filled with scribbles and aborted.
// Posts one report: { role, records, bytes, aborted, ended, error }.
import { parentPort, workerData } from 'node:worker_threads';
import { RingProducer } from '../../dist/index.js';
import { fillStreamPayload, streamLength } from '../../dist/teststream.js';
import { HANG_GUARD_MS, arriveAndWait, describeError } from './ring-common.mjs';

const { buffer, control, seed, count, maxLength, mode = 'copy', publish = 'auto', spin, abortEvery = 0 } = workerData;
const report = { role: 'producer', records: 0, bytes: 0, aborted: 0, ended: false, error: null };
let producer;
try {
  producer = new RingProducer(buffer, { publish, spin });
  arriveAndWait(control);
  const scratch = new Uint8Array(maxLength);
  for (let n = 0, batches = 0; mode === 'batch' && n < count; batches++) {
    if (abortEvery > 0 && batches % abortEvery === 0) {
      const doomed = producer.batch();
      for (let at; (at = doomed.claim(streamLength(seed, n, maxLength), n & 0xffff)) >= 0; ) producer.data.fill(0xa5, at, at + streamLength(seed, n, maxLength));
      doomed.abort();
      report.aborted++;
    }
    const batch = producer.batch();
    for (let at; n < count && (at = batch.claim(streamLength(seed, n, maxLength), n & 0xffff)) >= 0; n++) {
      const length = streamLength(seed, n, maxLength);
      fillStreamPayload(producer.data, at, length, seed, n);
      report.records++;
      report.bytes += length;
    }
    if (batch.publish() === 0 && n < count) {
      // Nothing fitted: wait for room for the next record (a claim that is then aborted moves nothing).
      if (producer.claimSync(streamLength(seed, n, maxLength), n & 0xffff, HANG_GUARD_MS) < 0) {
        throw new Error(`record ${n}: no space within ${HANG_GUARD_MS} ms`);
      }
      producer.abort();
    }
  }
  for (let n = 0; mode !== 'batch' && n < count; n++) {
    const length = streamLength(seed, n, maxLength);
    const type = n & 0xffff;
    if (mode === 'claim') {
      if (abortEvery > 0 && n % abortEvery === 0) {
        const offset = producer.claimSync(length, type, HANG_GUARD_MS);
        if (offset < 0) throw new Error(`record ${n}: no space for the aborted claim within ${HANG_GUARD_MS} ms`);
        producer.data.fill(0xa5, offset, offset + length);
        producer.abort();
        report.aborted++;
      }
      const offset = producer.claimSync(length, type, HANG_GUARD_MS);
      if (offset < 0) throw new Error(`record ${n}: no space within ${HANG_GUARD_MS} ms`);
      fillStreamPayload(producer.data, offset, length, seed, n);
      producer.commit();
    } else {
      fillStreamPayload(scratch, 0, length, seed, n);
      if (!producer.writeSync(scratch.subarray(0, length), type, HANG_GUARD_MS)) {
        throw new Error(`record ${n}: no space within ${HANG_GUARD_MS} ms`);
      }
    }
    report.records++;
    report.bytes += length;
  }
  producer.close();
  report.ended = true;
} catch (error) {
  report.error = describeError(error);
  // Leave the role so that a consumer waiting for data wakes, sees the end, and reports its count.
  producer?.close();
}
parentPort.postMessage(report);
