/**
 * Producer side of the in-process suite, one worker per contender. Each trial's parameters say which
 * transport, how many records of what size; the worker sets up, waits at the start barrier, then
 * produces as fast as the transport takes them.
 */
import { parentPort } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { RingConsumer, RingProducer } from '../../dist/index.js';
import { serveWorkerTrials } from '../harness.mjs';
import { FRAME_HEADER, RECORD_TYPE, makePayload, recordsPerBatch } from '../lib/workload.mjs';

/** shmring, copy-in: tryWrite per record; writeSync (spin, then park) only when the ring is full. */
function shmringCopy({ sab, count, size, publish, spin }) {
  const producer = new RingProducer(sab, { publish, spin });
  const payload = makePayload(size);
  return () => {
    for (let i = 0; i < count; i++) {
      if (!producer.tryWrite(payload, RECORD_TYPE)) producer.writeSync(payload, RECORD_TYPE);
    }
    producer.close();
    return { recordsWritten: count };
  };
}

/**
 * shmring, zero-copy: tryClaim, write the record in place, commit. The producer writes every 64-byte
 * line of the payload once (a sequence number in the first word, one byte per further line), so
 * each line crosses cores as with a copy, without a JS-level memcpy. There is no blocking claim in
 * the API, so on a full ring this spins on tryClaim (which reloads the head each time).
 */
function shmringClaim({ sab, count, size, spin }) {
  const producer = new RingProducer(sab, { publish: 'auto', spin });
  const data = producer.data;
  const template = makePayload(size);
  let fullSpins = 0;
  return () => {
    for (let i = 0; i < count; i++) {
      let offset = producer.tryClaim(size, RECORD_TYPE);
      while (offset < 0) {
        fullSpins++;
        offset = producer.tryClaim(size, RECORD_TYPE);
      }
      for (let k = 0; k < size; k += 64) data[offset + k] = template[k];
      if (size > 0) data[offset + size - 1] = template[size - 1];
      producer.commit();
    }
    producer.close();
    return { recordsWritten: count, fullSpins };
  };
}

/**
 * shmring batch path: producer.batch() claims records in place until one does not fit (or
 * `perBatch` are in), one publish (one tail store) per batch. `inPlace` writes every 64-byte line
 * of the payload as shmringClaim does; otherwise batch.write copies the payload in. When a batch
 * takes nothing the ring is full: claimSync (spin, then park) waits for room, and the claim is
 * aborted (the next batch takes the space).
 */
function shmringBatch({ sab, count, size, spin, inPlace, perBatch = 1024 }) {
  const producer = new RingProducer(sab, { publish: 'auto', spin });
  const data = producer.data;
  const payload = makePayload(size);
  let waits = 0;
  return () => {
    for (let sent = 0; sent < count; ) {
      const batch = producer.batch();
      const end = Math.min(count, sent + perBatch);
      if (inPlace) {
        for (let at; sent < end && (at = batch.claim(size, RECORD_TYPE)) >= 0; sent++) {
          for (let k = 0; k < size; k += 64) data[at + k] = payload[k];
          if (size > 0) data[at + size - 1] = payload[size - 1];
        }
      } else {
        while (sent < end && batch.write(payload, RECORD_TYPE)) sent++;
      }
      if (batch.publish() === 0) {
        waits++;
        if (producer.claimSync(size, RECORD_TYPE, 30_000) < 0) throw new Error('no room for 30 s');
        producer.abort();
      }
    }
    producer.close();
    return { recordsWritten: count, waits };
  };
}

/**
 * ringbuf.js 0.4.0, used its fastest way: one push() per record of a reusable frame (header +
 * payload, built once; push copies it with TypedArray.set when it does not wrap), partial pushes
 * continued from where they stopped, spinning when full (the library has no wait).
 */
function ringbufjs({ sab, count, size }) {
  const ring = new RingBuffer(sab, Uint8Array);
  const frame = new Uint8Array(FRAME_HEADER + size);
  const view = new DataView(frame.buffer);
  frame.set(makePayload(size), FRAME_HEADER);
  const frameLength = frame.length;
  return () => {
    for (let i = 0; i < count; i++) {
      view.setUint32(0, size, true);
      view.setUint32(4, RECORD_TYPE, true);
      let written = ring.push(frame);
      while (written < frameLength) written += ring.push(frame, frameLength - written, written);
    }
    return { recordsWritten: count };
  };
}

/** One structured-clone postMessage per record (the payload is copied by the runtime). */
function postMessagePerRecord({ count, size }) {
  const payload = makePayload(size);
  return () => {
    for (let i = 0; i < count; i++) parentPort.postMessage(payload);
    return { recordsWritten: count };
  };
}

/**
 * Batched postMessage: up to 1000 records (at most 1 MiB) framed into one ArrayBuffer that is
 * transferred, not cloned (the fastest way to move many records with postMessage).
 */
function postMessageBatched({ count, size }) {
  const payload = makePayload(size);
  const perBatch = recordsPerBatch(size);
  const frameLength = FRAME_HEADER + size;
  return () => {
    for (let sent = 0; sent < count; ) {
      const records = Math.min(perBatch, count - sent);
      const buffer = new ArrayBuffer(records * frameLength);
      const bytes = new Uint8Array(buffer);
      const view = new DataView(buffer);
      for (let r = 0, at = 0; r < records; r++, at += frameLength) {
        view.setUint32(at, size, true);
        view.setUint32(at + 4, RECORD_TYPE, true);
        bytes.set(payload, at + FRAME_HEADER);
      }
      parentPort.postMessage(bytes, [buffer]);
      sent += records;
    }
    return { recordsWritten: count };
  };
}

/** One message per record on a dedicated MessageChannel port (the main thread drains it synchronously). */
function messageChannel({ count, size, port }) {
  const payload = makePayload(size);
  return () => {
    for (let i = 0; i < count; i++) port.postMessage(payload);
    return { recordsWritten: count };
  };
}

/**
 * Pipeline stage: consume from one ring, write each record to the next (publish 'auto'). A bounded
 * poll releases the input while this stage waits for room downstream.
 */
function shmringRelay({ from, to, spin }) {
  const consumer = new RingConsumer(from, { spin });
  const producer = new RingProducer(to, { publish: 'auto', spin });
  let relayed = 0;
  const relay = (type, data, offset, length) => {
    const payload = data.subarray(offset, offset + length);
    if (!producer.tryWrite(payload, type)) producer.writeSync(payload, type);
    relayed++;
  };
  return () => {
    for (;;) {
      const handled = consumer.pollSync(relay, 256, 30_000);
      if (handled === 0 && consumer.ended) break;
      if (handled === 0) throw new Error('relay: nothing for 30 s');
    }
    producer.close();
    consumer.close();
    return { relayed };
  };
}

const kinds = { shmringRelay, shmringCopy, shmringClaim, shmringBatch, ringbufjs, postMessagePerRecord, postMessageBatched, messageChannel };

serveWorkerTrials((params) => {
  const make = kinds[params.kind];
  if (!make) throw new Error(`unknown producer kind ${params.kind}`);
  return make(params);
});
