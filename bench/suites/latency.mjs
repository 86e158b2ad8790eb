/**
 * Suite "latency": ping-pong round trips, one record in flight, the echo side in another thread or
 * process. Per contender: round trips/s and round-trip percentiles over every ping of every round.
 *   ring-thread-spin       two in-memory rings, worker echo, both sides spin (never park)
 *   c-thread-spin          the C reference for ring-thread-spin (bench/native/pingpong.c, cc -O2):
 *                          two threads, two SPSC rings with acquire/release positions, both
 *                          spinning; as many pings per trial as ring-thread-spin (sameCountAs)
 *   ring-thread-park       the same with spin 0: every wait parks (Atomics.wait), every publish wakes
 *   ring-thread-wakeup     one-way ping latency of ring-thread-park (send -> echo side running),
 *                          stamped with performance.timeOrigin + now() on both threads
 *   postMessage-thread     worker echo of one postMessage per ping
 *   ringfile-process-spin  two /dev/shm ring files, child process echo, spinning (native addon)
 *   ringfile-process-park  the same, parking on the futex doorbells (native addon)
 *   ringfile-process-wakeup  one-way ping latency of ringfile-process-park (publish -> parked
 *                          consumer in the other process running), stamped as ring-thread-wakeup
 *   socket-process         Unix domain socket echo in a child process
 *   ring-lost-wake         what a lost wake-up costs: one thread, an in-memory ring, a parked
 *                          read() whose waiting flag is cleared to 0 (planted) before the write, so
 *                          the notifier does not wake it; write -> read resolved. Bounded by the
 *                          park slice (PARK_SLICE_MS): the wait notices at the end of its slice
 */
import { fileURLToPath } from 'node:url';
import { PARK_SLICE_MS, RingConsumer, RingProducer, createRing, layout } from '../../dist/index.js';
import { storeSeqCst } from '../../dist/atomics.js';
import { ProcessPeer, WorkerPeer, runInterleaved, toCases } from '../harness.mjs';
import { ringFiles, shmName } from '../lib/availability.mjs';
import { nativePingPong } from '../native/pingpong.mjs';
import { socketServer } from '../lib/sockets.mjs';
import { FRAME_HEADER, RECORD_TYPE, makeFrame, makePayload } from '../lib/workload.mjs';

const WORKER_URL = new URL('./latency-worker.mjs', import.meta.url);
const PEER = fileURLToPath(new URL('./peer-process.mjs', import.meta.url));
const SPIN_FOREVER = 1_000_000_000;
const STALL_MS = 30_000;

export const description =
  'Ping-pong round trips with one record in flight (µs): rings between threads and processes, spinning and parked, vs postMessage and a Unix socket. Wake-up latency is the one-way figure of a parked consumer: in another thread (in-memory ring) and in another process (ring file). c-thread-spin is the C reference for ring-thread-spin. ring-lost-wake is what a lost wake-up costs (a planted waiting flag): bounded by the park slice.';

function latencyContender(transport, label, size, fields) {
  return {
    id: `${transport}@${size}`,
    transport,
    label,
    recordSize: size,
    kind: 'latency',
    initialCount: 200,
    minCount: 50,
    maxCount: 200_000,
    ...fields,
  };
}

/**
 * Ping-pong over two rings from this thread: write a ping (publish eager), wait for the echo.
 * Returns { roundTrips: Float64Array µs, oneWay: Float64Array µs }.
 */
function ringPingPong(producer, consumer, count, size) {
  const payload = makePayload(size);
  const roundTrips = new Float64Array(count);
  const oneWay = new Float64Array(count);
  const view = new DataView(consumer.data.buffer, consumer.data.byteOffset, consumer.data.byteLength);
  let receivedAt = 0;
  let replies = 0;
  const onReply = (type, data, offset) => {
    receivedAt = view.getFloat64(offset, true);
    replies++;
  };
  for (let i = 0; i < count; i++) {
    const sentAbsolute = performance.timeOrigin + performance.now();
    const sent = performance.now();
    if (!producer.tryWrite(payload, RECORD_TYPE)) throw new Error('ping ring full');
    while (replies === i) {
      if (consumer.pollSync(onReply, 1, STALL_MS) === 0) throw new Error(`no pong for ${STALL_MS} ms`);
    }
    roundTrips[i] = (performance.now() - sent) * 1000;
    oneWay[i] = (receivedAt - sentAbsolute) * 1000;
  }
  return { roundTrips, oneWay };
}

function threadRingContenders(size, spin, mode) {
  let peer;
  const rtt = latencyContender(`ring-thread-${mode}`, `in-memory rings, worker echo, ${mode === 'spin' ? 'spinning' : 'spin 0 (park every wait)'}`, size, {
    async setup() {
      peer = new WorkerPeer(WORKER_URL);
      await peer.loaded;
    },
    async trial(count) {
      const capacity = 64 * 1024;
      const ping = createRing({ capacity, maxRecordLength: Math.max(size, 8) });
      const pong = createRing({ capacity, maxRecordLength: Math.max(size, 8) });
      const producer = new RingProducer(ping, { publish: 'eager', spin });
      const consumer = new RingConsumer(pong, { spin });
      let result;
      const outcome = await peer.trial({ kind: 'ring-echo', ping, pong, spin }, [], () => {
        result = ringPingPong(producer, consumer, count, size);
        const end = performance.now();
        producer.close();
        return end;
      });
      consumer.close();
      const derived =
        mode === 'park'
          ? [{ transport: 'ring-thread-wakeup', label: 'one-way ping latency within ring-thread-park (publish -> parked echo thread running)', latency: result.oneWay }]
          : undefined;
      return { ...outcome, latency: result.roundTrips, derived };
    },
    async teardown() {
      await peer?.close();
    },
  });
  return [rtt];
}

/**
 * The C reference, one child process per trial. Its own clock times every round trip; the 1000
 * warm-up pings let both threads reach their cores and the rings' lines settle before the timed ones.
 */
function cReferenceContender(size, native) {
  return latencyContender('c-thread-spin', 'C reference (bench/native/pingpong.c, cc -O2, C11 atomics): two threads, two SPSC rings with acquire/release positions, both spinning; the same number of pings as ring-thread-spin', size, {
    sameCountAs: 'ring-thread-spin',
    async trial(count) {
      const report = await native.run(size, count, 1000);
      if (report.count !== count || report.latencyNs.length !== count) throw new Error(`C reference timed ${report.latencyNs.length} pings, expected ${count}`);
      return {
        elapsedMs: report.elapsedNs / 1e6,
        heapGrowthBytes: 0,
        rssBytes: process.memoryUsage().rss + report.rssBytes,
        latency: Float64Array.from(report.latencyNs, (ns) => ns / 1000),
      };
    },
  });
}

function postMessageContender(size) {
  let peer;
  return latencyContender('postMessage-thread', 'postMessage ping, worker echoes it', size, {
    async setup() {
      peer = new WorkerPeer(WORKER_URL);
      await peer.loaded;
    },
    async trial(count) {
      const payload = makePayload(size);
      const roundTrips = new Float64Array(count);
      const outcome = await peer.trial({ kind: 'message-echo', count }, [], () => new Promise((resolve) => {
        let i = 0;
        let sent = performance.now();
        peer.onData = () => {
          roundTrips[i++] = (performance.now() - sent) * 1000;
          if (i === count) {
            peer.onData = undefined;
            resolve(performance.now());
            return;
          }
          sent = performance.now();
          peer.worker.postMessage(payload);
        };
        peer.worker.postMessage(payload);
      }));
      return { ...outcome, latency: roundTrips };
    },
    async teardown() {
      await peer?.close();
    },
  });
}

function socketContender(size) {
  let peer;
  let server;
  return latencyContender('socket-process', 'Unix socket ping, child process echoes it', size, {
    async setup() {
      server = await socketServer('latency');
      peer = new ProcessPeer(PEER);
      await peer.loaded;
    },
    async trial(count) {
      const frame = makeFrame(size);
      const roundTrips = new Float64Array(count);
      const outcome = await peer.trial(
        { kind: 'socket-echo', path: server.path },
        (socket) =>
          new Promise((resolve, reject) => {
            socket.setNoDelay(true);
            let i = 0;
            let pending = 0;
            let sent = performance.now();
            socket.on('data', (chunk) => {
              pending += chunk.length;
              if (pending < frame.length) return;
              pending -= frame.length;
              roundTrips[i++] = (performance.now() - sent) * 1000;
              if (i === count) {
                const end = performance.now();
                socket.end();
                resolve(end);
                return;
              }
              sent = performance.now();
              socket.write(frame);
            });
            socket.once('error', reject);
            socket.write(frame);
          }),
        () => server.connection(),
      );
      return { ...outcome, latency: roundTrips };
    },
    async teardown() {
      await peer?.close();
      await server?.close();
    },
  });
}

/**
 * A lost wake-up, on purpose: the read parks (its waiter is registered before read() returns), the
 * flag is planted to 0, the write's notifier sees no waiter. The slice that was running when it
 * parked ends, the next one re-checks the tail: the worst case of a lost wake-up, one slice.
 */
function lostWakeContender(size) {
  return latencyContender('ring-lost-wake', `in-memory ring, one thread: parked read() with its waiting flag planted to 0 before the write (wake lost; found by the ${PARK_SLICE_MS} ms park slice)`, size, {
    initialCount: 5,
    minCount: 3,
    maxCount: 60,
    async trial(count) {
      const buffer = createRing({ capacity: 64 * 1024, maxRecordLength: Math.max(size, 8) });
      const words = new Int32Array(buffer, 0, layout.HEADER_LENGTH >> 2);
      const producer = new RingProducer(buffer, { publish: 'eager' });
      const consumer = new RingConsumer(buffer, { spin: 0 });
      const payload = makePayload(size);
      const latency = new Float64Array(count);
      const heapBefore = process.memoryUsage().heapUsed;
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const reading = consumer.read();
        storeSeqCst(words, layout.CONSUMER_WAITING_INDEX, 0);
        const sent = performance.now();
        if (!producer.tryWrite(payload, RECORD_TYPE)) throw new Error('lost-wake ring full');
        const record = await reading;
        latency[i] = (performance.now() - sent) * 1000;
        record.release();
      }
      const elapsedMs = performance.now() - start;
      producer.close();
      consumer.close();
      return { elapsedMs, heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore, rssBytes: process.memoryUsage().rss, latency };
    },
  });
}

function ringFileContender(size, RingFile, mode) {
  let peer;
  const spin = mode === 'spin' ? SPIN_FOREVER : 0;
  return latencyContender(`ringfile-process-${mode}`, `/dev/shm ring files, child process echo, ${mode === 'spin' ? 'spinning' : 'parking on futex doorbells'}`, size, {
    async setup() {
      peer = new ProcessPeer(PEER);
      await peer.loaded;
    },
    async trial(count) {
      const pingPath = shmName(RingFile, 'ping');
      const pongPath = shmName(RingFile, 'pong');
      const geometry = { capacity: 64 * 1024, maxRecordLength: Math.max(size, 8) };
      const pingFile = RingFile.create(pingPath, geometry);
      const pongFile = RingFile.create(pongPath, geometry);
      const producer = pingFile.producer({ publish: 'eager', spin });
      const consumer = pongFile.consumer({ spin });
      let result;
      try {
        const outcome = await peer.trial({ kind: 'ring-echo', pingPath, pongPath, spin }, async () => {
          await new Promise((resolve) => setImmediate(resolve));
          result = ringPingPong(producer, consumer, count, size);
          const end = performance.now();
          producer.close();
          return end;
        });
        const derived =
          mode === 'park'
            ? [{ transport: 'ringfile-process-wakeup', label: 'one-way ping latency within ringfile-process-park (publish -> parked echo process running; clocks: performance.timeOrigin + now() in each process, a few µs apart at worst)', latency: result.oneWay }]
            : undefined;
        return { ...outcome, latency: result.roundTrips, derived };
      } finally {
        consumer.close();
        pingFile.close();
        pongFile.close();
        RingFile.unlink(pingPath);
        RingFile.unlink(pongPath);
      }
    },
    async teardown() {
      await peer?.close();
    },
  });
}

export async function run({ sizes, rounds, targetMs, progress, transports }) {
  const size = Math.max(FRAME_HEADER, sizes[0]);
  const notes = [`record size ${size} B (the smallest of --sizes)`];
  const rings = await ringFiles();
  const native = nativePingPong();
  let contenders = [...threadRingContenders(size, SPIN_FOREVER, 'spin'), ...threadRingContenders(size, 0, 'park'), postMessageContender(size), socketContender(size), lostWakeContender(size)];
  if (native.available) contenders.splice(1, 0, cReferenceContender(size, native));
  else notes.push(`c-thread-spin (C reference) unavailable: ${native.reason}`);
  if (rings.available) contenders.push(ringFileContender(size, rings.RingFile, 'spin'), ringFileContender(size, rings.RingFile, 'park'));
  else notes.push(`ring-file contenders skipped: ${rings.reason}`);
  if (transports !== undefined) contenders = contenders.filter((c) => transports.includes(c.transport));
  progress(`latency: ${size} B pings, ${contenders.length} contenders`);
  const states = await runInterleaved({ contenders, rounds, targetMs, progress, label: 'latency' });
  return { cases: toCases('latency', states), notes };
}
