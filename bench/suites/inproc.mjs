/**
 * Suite "inproc": main thread <-> worker thread in one process. Producer in a worker, consumer in the
 * main thread. Contenders per record size, interleaved round by round:
 *   shmring-eager     copy-in tryWrite, publish 'eager' (one tail store per record)
 *   shmring-batched   copy-in tryWrite, publish 'auto' (one tail store per 256 records / 64 KiB)
 *   shmring-batched-256k  the same over a 256 KiB ring instead of 4 MiB (what the ring size is worth)
 *   shmring-claim     zero-copy tryClaim + in-place write + commit, publish 'auto'
 *   shmring-batch     batch path: producer.batch() claims in place, one publish per 1024 records;
 *                     consumer.batch() steps through everything published, one release per batch
 *   shmring-batch-write  the same with batch.write() copying each payload in
 *   ringbuf.js        ringbuf.js 0.4.0 byte ring: push per framed record, bulk pop + parse
 *   postMessage       one structured-clone message per record, 'message' events
 *   postMessage-batch 1000 records (<= 1 MiB) per transferred ArrayBuffer
 *   MessageChannel    one message per record, drained with receiveMessageOnPort (no event loop)
 * and single-core copy references of the same size over an L2-resident buffer:
 *   memcpy-set        Uint8Array.prototype.set, ArrayBuffer -> ArrayBuffer
 *   memcpy-set-sab    the same into a SharedArrayBuffer (what tryWrite's copy does)
 *   memcpy-buffer     Buffer.prototype.copy
 *   memcpy-native     C memcpy (bench/native/memcpy.c, built with cc when present)
 */
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { RingConsumer, createRing } from '../../dist/index.js';
import { WorkerPeer, runRecordSize } from '../harness.mjs';
import { nativeMemcpy } from '../native/memcpy.mjs';
import { Delivery, FRAME_HEADER, makePayload, parseFrames, recordCounts, ringCapacityFor } from '../lib/workload.mjs';

const WORKER_URL = new URL('./inproc-worker.mjs', import.meta.url);

// One Delivery, so one handler, for every consumer in this thread: a single function keeps the ring's poll loop
// monomorphic (a different closure per contender would make the call site polymorphic).
const delivery = new Delivery();

const STALL_MS = 10_000;

/** For spinning consumers: throws when called for STALL_MS without the record count moving. */
function stallDetector() {
  let calls = 0;
  let lastSeen = delivery.seen;
  let since = performance.now();
  return () => {
    if ((++calls & 0xffff) !== 0) return;
    const now = performance.now();
    if (delivery.seen !== lastSeen) {
      lastSeen = delivery.seen;
      since = now;
    } else if (now - since > STALL_MS) {
      throw new Error(`no record for ${STALL_MS} ms`);
    }
  };
}



/** A contender whose producer runs in its own worker and whose consumer runs here. */
function workerContender({ transport, size, label, kind, extra = {}, consume, makeParams, maxBytes }) {
  let peer;
  return {
    id: `${transport}@${size}`,
    transport,
    label,
    recordSize: size,
    ...recordCounts(size, { maxBytes: maxBytes ?? 16 * 2 ** 30 }),
    async setup() {
      peer = new WorkerPeer(WORKER_URL);
      await peer.loaded;
    },
    async trial(count) {
      const { params, transfer, state } = makeParams(count);
      delivery.reset();
      const outcome = await peer.trial({ kind, count, size, ...extra, ...params }, transfer, () => consume(peer, count, state));
      delivery.check(transport, count, size);
      return outcome;
    },
    async teardown() {
      await peer?.close();
    },
  };
}

function shmringContender(transport, label, size, kind, publish, spin, capacity = ringCapacityFor(size)) {
  return workerContender({
    transport,
    label,
    size,
    kind,
    extra: { publish, spin },
    makeParams() {
      const sab = createRing({ capacity, maxRecordLength: size });
      return { params: { sab }, transfer: [], state: { sab } };
    },
    consume(_peer, count, { sab }) {
      const consumer = new RingConsumer(sab, { spin });
      while (delivery.seen < count) {
        if (consumer.pollSync(delivery.onRecord, Infinity, STALL_MS) === 0) {
          if (consumer.ended) break;
          throw new Error(`no record for ${STALL_MS} ms`);
        }
      }
      const end = performance.now();
      consumer.close();
      return end;
    },
  });
}

/** shmring's batch paths on both sides: producer.batch() (in place or copy-in), consumer.batch(). */
function shmringBatchContender(transport, label, size, inPlace) {
  return workerContender({
    transport,
    label,
    size,
    kind: 'shmringBatch',
    extra: { spin: 2000, inPlace },
    makeParams() {
      const sab = createRing({ capacity: ringCapacityFor(size), maxRecordLength: size });
      return { params: { sab }, transfer: [], state: { sab } };
    },
    consume(_peer, count, { sab }) {
      const consumer = new RingConsumer(sab, { spin: 2000 });
      const onRecord = delivery.onRecord;
      while (delivery.seen < count) {
        const batch = consumer.batch();
        while (batch.next()) onRecord(batch.type, batch.data, batch.offset, batch.length);
        if (batch.release() > 0) continue;
        // Nothing published: wait (spin, then park) for one record, taken through poll.
        if (consumer.pollSync(onRecord, 1, STALL_MS) === 0) {
          if (consumer.ended) break;
          throw new Error(`no record for ${STALL_MS} ms`);
        }
      }
      const end = performance.now();
      consumer.close();
      return end;
    },
  });
}

function ringbufContender(size) {
  return workerContender({
    transport: 'ringbuf.js',
    label: 'ringbuf.js 0.4.0 (push per framed record, bulk pop + parse, spin when full/empty); capacity as shmring',
    size,
    kind: 'ringbufjs',
    makeParams() {
      const sab = RingBuffer.getStorageForCapacity(ringCapacityFor(size), Uint8Array);
      return { params: { sab }, transfer: [], state: { sab } };
    },
    consume(_peer, count, { sab }) {
      const ring = new RingBuffer(sab, Uint8Array);
      const scratch = new Uint8Array(Math.max(64 * 1024, 2 * (size + FRAME_HEADER)));
      const view = new DataView(scratch.buffer);
      let filled = 0;
      const stall = stallDetector();
      while (delivery.seen < count) {
        const read = ring.pop(scratch, scratch.length - filled, filled);
        if (read === 0) {
          stall();
          continue;
        }
        filled += read;
        const used = parseFrames(scratch, view, filled, delivery.onRecord);
        if (used > 0) {
          scratch.copyWithin(0, used, filled);
          filled -= used;
        }
      }
      return performance.now();
    },
  });
}

function postMessageContender(size, batched) {
  return workerContender({
    transport: batched ? 'postMessage-batch' : 'postMessage',
    label: batched ? 'postMessage, up to 1000 records (<= 1 MiB) framed in one transferred ArrayBuffer' : 'postMessage, one message per record',
    size,
    kind: batched ? 'postMessageBatched' : 'postMessagePerRecord',
    // The receiving queue is unbounded: cap what one trial may queue.
    maxBytes: 512 * 2 ** 20,
    makeParams() {
      return { params: {}, transfer: [], state: {} };
    },
    consume(peer, count) {
      return new Promise((resolve) => {
        peer.onData = batched
          ? (bytes) => {
              parseFrames(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes.length, delivery.onRecord);
              if (delivery.seen >= count) resolve(performance.now());
            }
          : (payload) => {
              delivery.onRecord(1, payload, 0, payload.length);
              if (delivery.seen >= count) resolve(performance.now());
            };
      });
    },
  });
}

function messageChannelContender(size) {
  return workerContender({
    transport: 'MessageChannel',
    label: 'MessageChannel, one message per record, receiveMessageOnPort',
    size,
    kind: 'messageChannel',
    maxBytes: 512 * 2 ** 20,
    makeParams() {
      const { port1, port2 } = new MessageChannel();
      return { params: { port: port2 }, transfer: [port2], state: { port: port1 } };
    },
    consume(_peer, count, { port }) {
      const stall = stallDetector();
      while (delivery.seen < count) {
        const received = receiveMessageOnPort(port);
        if (received !== undefined) delivery.onRecord(1, received.message, 0, received.message.length);
        else stall();
      }
      const end = performance.now();
      port.close();
      return end;
    },
  });
}

/** Single-thread copy reference: `count` copies of `size` bytes cycling through an L2-sized target. */
function memcpyContender(size, transport, label, makeCopy) {
  return {
    id: `${transport}@${size}`,
    transport,
    label,
    recordSize: size,
    initialCount: Math.max(16, Math.floor((16 << 20) / size)),
    minCount: 16,
    maxCount: 1e9,
    trial(count) {
      const copy = makeCopy(size);
      const heapBefore = process.memoryUsage().heapUsed;
      const start = performance.now();
      copy(count);
      const end = performance.now();
      return { elapsedMs: end - start, heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore, rssBytes: process.memoryUsage().rss };
    },
  };
}

function targetLength(size) {
  return Math.max(256 * 1024, 2 * size);
}

function copyWithSet(shared) {
  return (size) => {
    const source = makePayload(size);
    const length = targetLength(size);
    const target = new Uint8Array(shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
    const wrap = length - size;
    return (count) => {
      let at = 0;
      for (let i = 0; i < count; i++) {
        target.set(source, at);
        at += size;
        if (at > wrap) at = 0;
      }
      return target[0];
    };
  };
}

function copyWithBuffer(size) {
  const source = Buffer.from(makePayload(size));
  const target = Buffer.alloc(targetLength(size));
  const wrap = target.length - size;
  return (count) => {
    let at = 0;
    for (let i = 0; i < count; i++) {
      source.copy(target, at, 0, size);
      at += size;
      if (at > wrap) at = 0;
    }
    return target[0];
  };
}

/**
 * The C memcpy reference, measured up front for all sizes (see bench/native/memcpy.mjs for why not
 * interleaved): one child process per size runs every round; the contender replays its rounds.
 */
function nativeMemcpyContender(size, measured) {
  // The harness's calibration call replays round 0; the timed rounds then replay rounds 0..n-1.
  let calls = -1;
  return {
    id: `memcpy-native@${size}`,
    transport: 'memcpy-native',
    label: 'C memcpy (cc -O2), one core, measured before the threaded rounds',
    recordSize: size,
    initialCount: measured.count,
    minCount: measured.count,
    maxCount: measured.count,
    warmupAfterCalibration: false,
    trial() {
      const round = Math.max(0, calls++);
      const elapsedNs = measured.elapsedNs[round % measured.elapsedNs.length];
      return { elapsedMs: elapsedNs / 1e6, heapGrowthBytes: 0, rssBytes: process.memoryUsage().rss + measured.rssBytes };
    },
  };
}

export const description = 'main thread <-> worker: shmring vs ringbuf.js vs postMessage vs MessageChannel, with memcpy references';

export async function run({ sizes, rounds, targetMs, progress, transports }) {
  const notes = [];
  const native = nativeMemcpy();
  const nativeRuns = new Map();
  if (!native.available) notes.push(`memcpy-native skipped: ${native.reason}`);
  else if (transports === undefined || transports.includes('memcpy-native')) {
    progress('inproc: native memcpy reference (before any worker starts)');
    for (const size of sizes) nativeRuns.set(size, native.run(size, targetLength(size), targetMs, rounds));
  }
  const cases = [];
  for (const size of sizes) {
    const ring = '; capacity max(4 MiB, 4 records), spin 2000';
    const contenders = [
      shmringContender('shmring-eager', "shmring tryWrite, publish 'eager' (per record)" + ring, size, 'shmringCopy', 'eager', 2000),
      shmringContender('shmring-batched', "shmring tryWrite, publish 'auto' (batched: 256 records / 64 KiB)" + ring, size, 'shmringCopy', 'auto', 2000),
      shmringContender(
        'shmring-batched-256k',
        "shmring-batched over a 256 KiB ring (fits one core's L2): what the ring size is worth; capacity max(256 KiB, 4 records), spin 2000",
        size,
        'shmringCopy',
        'auto',
        2000,
        ringCapacityFor(size, 256 * 1024),
      ),
      shmringContender('shmring-claim', "shmring tryClaim + in-place write of every 64-byte line + commit, 'auto'" + ring, size, 'shmringClaim', 'auto', 2000),
      shmringBatchContender('shmring-batch', 'shmring batch path: producer.batch() claims in place (every 64-byte line written), one publish per 1024 records; consumer.batch(), one release per batch' + ring, size, true),
      shmringBatchContender('shmring-batch-write', 'shmring batch path: producer.batch() write() copies each payload in, one publish per 1024 records; consumer.batch()' + ring, size, false),
      ringbufContender(size),
      postMessageContender(size, false),
      postMessageContender(size, true),
      messageChannelContender(size),
      memcpyContender(size, 'memcpy-set', 'Uint8Array#set, one core', copyWithSet(false)),
      memcpyContender(size, 'memcpy-set-sab', 'Uint8Array#set into a SharedArrayBuffer, one core', copyWithSet(true)),
      memcpyContender(size, 'memcpy-buffer', 'Buffer#copy, one core', copyWithBuffer),
    ];
    if (nativeRuns.has(size)) contenders.push(nativeMemcpyContender(size, nativeRuns.get(size)));
    cases.push(...(await runRecordSize({ suite: 'inproc', size, contenders, transports, rounds, targetMs, progress })));
  }
  return { cases, notes };
}
