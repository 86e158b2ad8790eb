/**
 * Suite "pipeline": a three-stage chain, source -> relay -> sink, the sink in this thread. The relay
 * reads every record and writes it on (one copy per hop). Three threads on two cores here, so how
 * each transport waits (spin, then park) matters as much as how it copies.
 *   rings-threads        source worker -> ring -> relay worker -> ring -> main   (publish 'auto')
 *   ringfiles-processes  the same over /dev/shm ring files between processes   (native addon)
 *   sockets-processes    source process -> Unix socket -> relay process -> Unix socket -> main,
 *                        64 KiB writes of length-prefixed frames
 * (src/pipeline.ts, the worker-pool pipeline API, is not benchmarked here yet.)
 */
import { fileURLToPath } from 'node:url';
import { RingConsumer, createRing } from '../../dist/index.js';
import { ProcessPeer, WorkerPeer, heapBaseline, runInterleaved, toCases } from '../harness.mjs';
import { ringFiles, shmName } from '../lib/availability.mjs';
import { socketServer } from '../lib/sockets.mjs';
import { FRAME_HEADER, FrameParser, expectedTouch, ringCapacityFor, touch } from '../lib/workload.mjs';

const WORKER_URL = new URL('./inproc-worker.mjs', import.meta.url);
const PEER = fileURLToPath(new URL('./peer-process.mjs', import.meta.url));
const STALL_MS = 30_000;
const SPIN = 2000;

export const description =
  'Three-stage chain source -> relay -> sink (sink in the main thread): rings between threads, ring files between processes, Unix sockets between processes.';

let seen = 0;
let touched = 0;
function onRecord(type, data, offset, length) {
  seen++;
  touched += touch(data, offset, length);
}

function check(label, count, size) {
  if (seen !== count) throw new Error(`${label}: sink saw ${seen} records, expected ${count}`);
  if (touched !== expectedTouch(size) * count) throw new Error(`${label}: payload check failed`);
}

function contender(transport, label, size, fields) {
  return {
    id: `${transport}@${size}`,
    transport,
    label,
    recordSize: size,
    initialCount: Math.max(16, Math.min(20_000, Math.floor((4 << 20) / (size + FRAME_HEADER)))),
    minCount: 16,
    maxCount: Math.max(16, Math.floor(4 * 2 ** 30 / (size + FRAME_HEADER))),
    ...fields,
  };
}

function drainRing(consumer, count) {
  while (seen < count) {
    if (consumer.pollSync(onRecord, Infinity, STALL_MS) === 0) {
      if (consumer.ended) break;
      throw new Error(`no record for ${STALL_MS} ms`);
    }
  }
  return performance.now();
}

function memory(heapBefore, reports, extraRss = 0) {
  const peerHeap = reports.reduce((sum, r) => sum + (r.heapGrowthBytes ?? 0), 0);
  return { heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore + peerHeap, rssBytes: process.memoryUsage().rss + extraRss };
}

function ringThreads(size) {
  let source;
  let relay;
  return contender('rings-threads', "worker -> ring -> worker -> ring -> main, publish 'auto'", size, {
    async setup() {
      source = new WorkerPeer(WORKER_URL);
      relay = new WorkerPeer(WORKER_URL);
      await Promise.all([source.loaded, relay.loaded]);
    },
    async trial(count) {
      seen = 0;
      touched = 0;
      const geometry = { capacity: ringCapacityFor(size), maxRecordLength: size };
      const first = createRing(geometry);
      const second = createRing(geometry);
      const heapBefore = heapBaseline();
      const relayRun = await relay.begin({ kind: 'shmringRelay', from: first, to: second, spin: SPIN });
      const sourceRun = await source.begin({ kind: 'shmringCopy', sab: first, count, size, publish: 'auto', spin: SPIN });
      const consumer = new RingConsumer(second, { spin: SPIN });
      const start = relay.go(relayRun);
      source.go(sourceRun);
      const end = drainRing(consumer, count);
      consumer.close();
      const [a, b] = await Promise.all([source.finish(sourceRun), relay.finish(relayRun)]);
      check(this.transport, count, size);
      return { elapsedMs: end - start, ...memory(heapBefore, [a.report, b.report]) };
    },
    async teardown() {
      await Promise.all([source?.close(), relay?.close()]);
    },
  });
}

function ringFileProcesses(size, RingFile) {
  let source;
  let relay;
  return contender('ringfiles-processes', "process -> ring file -> process -> ring file -> main, publish 'auto'", size, {
    async setup() {
      source = new ProcessPeer(PEER);
      relay = new ProcessPeer(PEER);
      await Promise.all([source.loaded, relay.loaded]);
    },
    async trial(count) {
      seen = 0;
      touched = 0;
      const geometry = { capacity: ringCapacityFor(size), maxRecordLength: size };
      const firstPath = shmName(RingFile, 'pipe1');
      const secondPath = shmName(RingFile, 'pipe2');
      const firstFile = RingFile.create(firstPath, geometry);
      const secondFile = RingFile.create(secondPath, geometry);
      const consumer = secondFile.consumer({ spin: SPIN });
      try {
        const heapBefore = heapBaseline();
        const relayRun = await relay.begin({ kind: 'ring-relay', fromPath: firstPath, toPath: secondPath, spin: SPIN });
        const sourceRun = await source.begin({ kind: 'ring-produce', path: firstPath, count, size, publish: 'auto', spin: SPIN });
        const start = relay.go(relayRun);
        source.go(sourceRun);
        await new Promise((resolve) => setImmediate(resolve));
        const end = drainRing(consumer, count);
        const [a, b] = await Promise.all([source.finish(sourceRun), relay.finish(relayRun)]);
        check(this.transport, count, size);
        return { elapsedMs: end - start, ...memory(heapBefore, [a.report, b.report], (a.report.rssBytes ?? 0) + (b.report.rssBytes ?? 0)) };
      } finally {
        consumer.close();
        firstFile.close();
        secondFile.close();
        RingFile.unlink(firstPath);
        RingFile.unlink(secondPath);
      }
    },
    async teardown() {
      await Promise.all([source?.close(), relay?.close()]);
    },
  });
}

function socketProcesses(size) {
  let source;
  let relay;
  let server;
  return contender('sockets-processes', 'process -> Unix socket -> process -> Unix socket -> main, 64 KiB writes', size, {
    async setup() {
      server = await socketServer('pipeline');
      source = new ProcessPeer(PEER);
      relay = new ProcessPeer(PEER);
      await Promise.all([source.loaded, relay.loaded]);
    },
    async trial(count) {
      seen = 0;
      touched = 0;
      const heapBefore = heapBaseline();
      const listenPath = `${server.path}.relay`;
      const relayRun = await relay.begin({ kind: 'socket-relay', listenPath, toPath: server.path, size });
      const socket = await server.connection();
      const sourceRun = await source.begin({ kind: 'socket-produce', path: listenPath, count, size, batched: true });
      const received = new Promise((resolve, reject) => {
        const parser = new FrameParser(onRecord);
        let last;
        socket.on('data', (chunk) => {
          parser.push(chunk);
          if (seen >= count && last === undefined) last = performance.now();
        });
        socket.once('end', () => (last === undefined ? reject(new Error(`socket ended after ${seen} of ${count} records`)) : resolve(last)));
        socket.once('error', reject);
      });
      const start = relay.go(relayRun);
      source.go(sourceRun);
      const end = await received;
      const [a, b] = await Promise.all([source.finish(sourceRun), relay.finish(relayRun)]);
      check(this.transport, count, size);
      return { elapsedMs: end - start, ...memory(heapBefore, [a.report, b.report], (a.report.rssBytes ?? 0) + (b.report.rssBytes ?? 0)) };
    },
    async teardown() {
      await Promise.all([source?.close(), relay?.close()]);
      await server?.close();
    },
  });
}

export async function run({ sizes, rounds, targetMs, progress, transports }) {
  const notes = [];
  const rings = await ringFiles();
  if (!rings.available) notes.push(`ring-file contender skipped: ${rings.reason}`);
  const cases = [];
  for (const size of sizes) {
    let contenders = [ringThreads(size), socketProcesses(size)];
    if (rings.available) contenders.splice(1, 0, ringFileProcesses(size, rings.RingFile));
    if (transports !== undefined) contenders = contenders.filter((c) => transports.includes(c.transport));
    if (contenders.length === 0) continue;
    progress(`pipeline: ${size} B records, ${contenders.length} contenders`);
    const states = await runInterleaved({ contenders, rounds, targetMs, progress, label: `pipeline ${size} B` });
    cases.push(...toCases('pipeline', states));
  }
  return { cases, notes };
}
