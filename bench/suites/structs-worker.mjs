/**
 * Consumer side of the `structs` suite (main thread -> this worker). Each kind decodes every field
 * of every record into a StructChecksum and reports it with the absolute time the last record was
 * folded (performance.timeOrigin + now: the main thread converts it to its own clock).
 */
import { RingBuffer } from 'ringbuf.js';
import { RingConsumer, defineRecord } from '../../dist/index.js';
import { serveWorkerTrials } from '../harness.mjs';
import { STRUCT_SIZE, STRUCT_SPEC, StructChecksum, StructCodec, decodeRingBatch } from './structs-records.mjs';

const STALL_MS = 10_000;
const checksum = new StructChecksum();
const layout = defineRecord(STRUCT_SPEC);

const finished = () => ({ checksum: checksum.result(), endedAt: performance.timeOrigin + performance.now() });

/** shmring: poll, point the layout's cursor at each record, read every field. */
/** A consumer of the ring, a cursor over it, and a poll handler reading every field of a record. */
function typedConsumer({ sab, spin }) {
  const consumer = new RingConsumer(sab, { spin });
  const cursor = layout.cursor(consumer.data);
  const onRecord = (_type, _data, offset) => {
    cursor.at(offset);
    checksum.add(cursor.id, cursor.price, cursor.qty, cursor.symbol);
  };
  return { consumer, cursor, onRecord };
}

function ringTyped(params) {
  const { count } = params;
  const { consumer, onRecord } = typedConsumer(params);
  return () => {
    checksum.reset();
    while (checksum.count < count) {
      if (consumer.pollSync(onRecord, Infinity, STALL_MS) === 0) {
        if (consumer.ended) break;
        throw new Error(`no record for ${STALL_MS} ms`);
      }
    }
    const result = finished();
    consumer.close();
    return result;
  };
}

/** shmring batch path: consumer.batch(), a cursor at each record, every field read; one release per batch. */
function ringTypedBatch(params) {
  const { count } = params;
  const { consumer, cursor, onRecord } = typedConsumer(params);
  return () => {
    checksum.reset();
    while (checksum.count < count) {
      // One batch per call (structs-records.mjs), as the postMessage consumers get one per message.
      if (decodeRingBatch(consumer, cursor, checksum) > 0) continue;
      // Nothing published: wait (spin, then park) for one record, taken through poll.
      if (consumer.pollSync(onRecord, 1, STALL_MS) === 0) {
        if (consumer.ended) break;
        throw new Error(`no record for ${STALL_MS} ms`);
      }
    }
    const result = finished();
    consumer.close();
    return result;
  };
}

/** The records in the first `bytes` bytes of a codec's buffer, into the checksum. */
function decodeCodecRecords(codec, bytes) {
  for (let at = 0; at < bytes; at += STRUCT_SIZE) codec.decodeInto(at, checksum);
}

/** ringbuf.js: bulk pop into a scratch buffer, decode the whole records, keep a partial one. */
function ringbufjs({ sab, count }) {
  const ring = new RingBuffer(sab, Uint8Array);
  const scratch = new Uint8Array(64 * 1024);
  const codec = new StructCodec(scratch);
  return () => {
    checksum.reset();
    let filled = 0;
    let idle = 0;
    let lastCount = -1;
    let since = 0;
    while (checksum.count < count) {
      const read = ring.pop(scratch, scratch.length - filled, filled);
      if (read === 0) {
        // Spinning (ringbuf.js has no wait): look at the clock only every 65536 empty pops.
        if ((++idle & 0xffff) !== 0) continue;
        const now = performance.now();
        if (checksum.count !== lastCount) {
          lastCount = checksum.count;
          since = now;
        } else if (now - since > STALL_MS) throw new Error(`no record for ${STALL_MS} ms`);
        continue;
      }
      filled += read;
      const whole = filled - (filled % STRUCT_SIZE);
      decodeCodecRecords(codec, whole);
      if (whole < filled) scratch.copyWithin(0, whole, filled);
      filled -= whole;
    }
    return finished();
  };
}

/** One structured-clone object per record on a MessagePort. */
function postMessageObjects({ port, count }) {
  return () =>
    new Promise((resolve) => {
      checksum.reset();
      port.on('message', (record) => {
        checksum.add(record.id, record.price, record.qty, record.symbol);
        if (checksum.count === count) {
          const result = finished();
          port.close();
          resolve(result);
        }
      });
    });
}

/** Transferred ArrayBuffers of packed records on a MessagePort. */
function postMessageBatch({ port, count }) {
  return () =>
    new Promise((resolve) => {
      checksum.reset();
      port.on('message', (buffer) => {
        const codec = new StructCodec(new Uint8Array(buffer));
        decodeCodecRecords(codec, buffer.byteLength);
        if (checksum.count === count) {
          const result = finished();
          port.close();
          resolve(result);
        }
      });
    });
}

// One entry per consumer kind.
const kinds = { ringTyped, ringTypedBatch, ringbufjs, postMessageObjects, postMessageBatch };

serveWorkerTrials((params) => {
  const make = kinds[params.kind];
  if (!make) throw new Error(`unknown consumer kind ${params.kind}`);
  return make(params);
});
