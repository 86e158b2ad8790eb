/**
 * Suite "structs": 40-byte struct records (id:u64, price:f64, qty:u32, symbol:utf8[20]; see
 * structs-records.mjs), encoded by the producer from JS values and decoded field by field by the
 * consumer, which folds every field into a checksum compared at the end (so no side skips work).
 *
 * Main thread -> worker (producer here, consumer in structs-worker.mjs), interleaved rounds:
 *   shmring-typed        tryClaim + the layout's cursor (defineRecord) writing each field in ring
 *                        memory + commit, publish 'auto'; the worker polls and reads every field
 *                        through a cursor
 *   ringbuf.js           the same fields encoded with typed arrays into a 256-record staging buffer,
 *                        pushed whole (partial pushes continued); bulk pop + decode in the worker
 *   shmring-typed-batch  the batch path: producer.batch() claims records in place, the cursor writes
 *                        the fields there, one publish per 1024 records; the worker reads through
 *                        consumer.batch() and a cursor, one release per batch
 *   postMessage          one object {id, price, qty, symbol} per record (structured clone)
 *   postMessage-batch    1000 records encoded with typed arrays into an ArrayBuffer, transferred
 * Node -> Go (separate rounds; native addon + Go CLI, and Go for the socket peer):
 *   node->go-ringfile-typed        /dev/shm ring file, cursor encode in place; Go
 *                                  `shmring bench-consume FILE --layout SPEC` decodes every field
 *                                  with ParseLayout and folds the same checksum
 *   node->go-ringfile-typed-batch  the same through the batch paths (producer.batch(); Go
 *                                  `bench-consume --layout SPEC --read-batch`)
 *   node->go-socket-batched-typed  the same records as length-prefixed frames (u32 length, u32
 *                                  type, record) encoded into 64 KiB chunks written to a Unix
 *                                  socket; `socketpeer consume SOCKET --layout SPEC` decodes them
 *
 * Time runs from the start barrier's release (worker) or the Go consumer's attach / the accepted
 * connection (Go) to the consumer's last record.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { RingProducer, createRing, defineRecord } from '../../dist/index.js';
import { WorkerPeer, gcCount, gcSince, heapBaseline, runInterleaved, toCases } from '../harness.mjs';
import { goCli, ringFiles, shmName } from '../lib/availability.mjs';
import { recordCounts, ringCapacityFor } from '../lib/workload.mjs';
import { socketServer } from '../lib/sockets.mjs';
import { ID_BASE, STRUCT_SIZE, STRUCT_SPEC, STRUCT_TYPE, StructCodec, checkChecksum, encodeRingBatch, priceOf, qtyOf, symbolOf } from './structs-records.mjs';

const WORKER_URL = new URL('./structs-worker.mjs', import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const SOCKET_PEER_DIR = path.join(here, '..', 'go', 'socketpeer');
const SOCKET_PEER = path.join(here, '..', 'native', '.build', 'socketpeer');
const STALL_MS = 30_000;
const SPIN = 2000;
const POST_BATCH_RECORDS = 1000;
const RINGBUF_PUSH_RECORDS = 256;
const layout = defineRecord(STRUCT_SPEC);
if (layout.size !== STRUCT_SIZE) throw new Error(`struct layout is ${layout.size} bytes, expected ${STRUCT_SIZE}`);

export const description =
  `40 B struct records (${STRUCT_SPEC}) encoded from JS values and decoded field by field into a checksum: main thread -> worker (shmring typed cursor vs postMessage per object vs postMessage batches vs ringbuf.js) and Node -> Go (ring file vs batched Unix socket, Go decoding with ParseLayout).`;

/** Encodes records [0, count) into the ring through a cursor, then ends the stream. */
function produceRingTyped(producer, count) {
  const cursor = layout.cursor(producer.data);
  for (let i = 0; i < count; i++) {
    let offset = producer.tryClaim(STRUCT_SIZE, STRUCT_TYPE);
    if (offset < 0) offset = producer.claimSync(STRUCT_SIZE, STRUCT_TYPE, STALL_MS);
    if (offset < 0) throw new Error(`ring full for ${STALL_MS} ms`);
    cursor.at(offset);
    cursor.id = ID_BASE + i;
    cursor.price = priceOf(i);
    cursor.qty = qtyOf(i);
    cursor.symbol = symbolOf(i);
    producer.commit();
  }
  producer.close();
}

const BATCH_RECORDS = 1024;

/**
 * The batch path: producer.batch() claims up to 1024 records in place, the cursor writes each
 * record's fields there, one publish per batch. When nothing fits, claimSync waits for room (spin,
 * then park) and is aborted: the next batch takes the space.
 *
 * Every batch producer and consumer of this suite (ring, postMessage-batch, ringbuf.js) encodes or
 * decodes one batch per call of a function of its own, as a message handler does: with the record
 * loop nested inside the batch loop of a function that runs once, V8 (Node 26) compiles the inner
 * loop on stack replacement and leaves that code at every inner loop exit ("exit from OSR'd inner
 * loop", 268 deoptimisations in one round of this contender), running the rest unoptimised.
 */
function produceRingTypedBatches(producer, count) {
  const cursor = layout.cursor(producer.data);
  for (let i = 0; i < count; ) {
    const next = encodeRingBatch(producer, cursor, i, Math.min(count, i + BATCH_RECORDS));
    if (next === i) {
      if (producer.claimSync(STRUCT_SIZE, STRUCT_TYPE, STALL_MS) < 0) throw new Error(`ring full for ${STALL_MS} ms`);
      producer.abort();
    }
    i = next;
  }
  producer.close();
}

/** Encodes records [first, first + records) with the hand-written codec at the start of its buffer. */
function encodeCodecBatch(codec, first, records) {
  for (let r = 0; r < records; r++) {
    const i = first + r;
    codec.encode(r * STRUCT_SIZE, ID_BASE + i, priceOf(i), qtyOf(i), symbolOf(i));
  }
}

// Main-thread producers; each returns the worker params, the transfer list and the produce function.
const PRODUCERS = {
  'shmring-typed': {
    label: "shmring tryClaim + typed cursor (defineRecord) in ring memory + commit, publish 'auto'; worker polls and reads every field through a cursor; capacity 4 MiB",
    kind: 'ringTyped',
    prepare() {
      const sab = createRing({ capacity: ringCapacityFor(STRUCT_SIZE), maxRecordLength: STRUCT_SIZE });
      const producer = new RingProducer(sab, { publish: 'auto', spin: SPIN });
      return { params: { sab, spin: SPIN }, transfer: [], produce: (count) => produceRingTyped(producer, count) };
    },
  },
  'shmring-typed-batch': {
    label: `shmring batch path: producer.batch() claims up to ${BATCH_RECORDS} records in place, the typed cursor writes every field there, one publish per batch; worker consumer.batch() reads every field through a cursor, one release per batch; capacity 4 MiB`,
    kind: 'ringTypedBatch',
    prepare() {
      const sab = createRing({ capacity: ringCapacityFor(STRUCT_SIZE), maxRecordLength: STRUCT_SIZE });
      const producer = new RingProducer(sab, { spin: SPIN });
      return { params: { sab, spin: SPIN }, transfer: [], produce: (count) => produceRingTypedBatches(producer, count) };
    },
  },
  'ringbuf.js': {
    label: `ringbuf.js 0.4.0: fields encoded with typed arrays into a ${RINGBUF_PUSH_RECORDS}-record staging buffer, pushed whole (spin when full); bulk pop + typed-array decode; capacity 4 MiB`,
    kind: 'ringbufjs',
    prepare() {
      const sab = RingBuffer.getStorageForCapacity(ringCapacityFor(STRUCT_SIZE), Uint8Array);
      const ring = new RingBuffer(sab, Uint8Array);
      const staging = new Uint8Array(RINGBUF_PUSH_RECORDS * STRUCT_SIZE);
      const codec = new StructCodec(staging);
      const produce = (count) => {
        for (let sent = 0; sent < count; ) {
          const records = Math.min(RINGBUF_PUSH_RECORDS, count - sent);
          encodeCodecBatch(codec, sent, records);
          const length = records * STRUCT_SIZE;
          let written = ring.push(staging, length);
          while (written < length) written += ring.push(staging, length - written, written);
          sent += records;
        }
      };
      return { params: { sab }, transfer: [], produce };
    },
  },
  postMessage: {
    label: 'postMessage of one object {id, price, qty, symbol} per record (structured clone) on a MessagePort',
    kind: 'postMessageObjects',
    maxBytes: 64 << 20,
    prepare() {
      const { port1, port2 } = new MessageChannel();
      const produce = (count) => {
        for (let i = 0; i < count; i++) port1.postMessage({ id: ID_BASE + i, price: priceOf(i), qty: qtyOf(i), symbol: symbolOf(i) });
        port1.close();
      };
      return { params: { port: port2 }, transfer: [port2], produce };
    },
  },
  'postMessage-batch': {
    label: `postMessage of ${POST_BATCH_RECORDS} records encoded with typed arrays into one transferred ArrayBuffer on a MessagePort`,
    kind: 'postMessageBatch',
    maxBytes: 1 << 30,
    prepare() {
      const { port1, port2 } = new MessageChannel();
      const produce = (count) => {
        for (let sent = 0; sent < count; ) {
          const records = Math.min(POST_BATCH_RECORDS, count - sent);
          const buffer = new ArrayBuffer(records * STRUCT_SIZE);
          encodeCodecBatch(new StructCodec(new Uint8Array(buffer)), sent, records);
          port1.postMessage(buffer, [buffer]);
          sent += records;
        }
        port1.close();
      };
      return { params: { port: port2 }, transfer: [port2], produce };
    },
  },
};

/** A main -> worker contender: the worker reports its checksum and the absolute time of its last record. */
function workerContender(transport) {
  const spec = PRODUCERS[transport];
  let peer;
  return {
    id: `${transport}@${STRUCT_SIZE}`,
    transport,
    label: spec.label,
    recordSize: STRUCT_SIZE,
    ...recordCounts(STRUCT_SIZE, { maxBytes: spec.maxBytes ?? 4 * 2 ** 30 }),
    async setup() {
      peer = new WorkerPeer(WORKER_URL);
      await peer.loaded;
    },
    async trial(count) {
      const { params, transfer, produce } = spec.prepare();
      const heapBefore = heapBaseline();
      const gcBefore = gcCount();
      const pending = await peer.begin({ kind: spec.kind, count, ...params }, transfer);
      const start = peer.go(pending);
      const { report } = await peer.finish(pending, () => produce(count));
      const { checksum, endedAt } = report.result;
      checkChecksum(transport, checksum, count);
      return {
        // The worker's clock is the same monotonic clock with another origin.
        elapsedMs: endedAt - performance.timeOrigin - start,
        heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore + (report.heapGrowthBytes ?? 0),
        gcCount: (await gcSince(gcBefore)) + (report.gcCount ?? 0),
        rssBytes: process.memoryUsage().rss,
      };
    },
    async teardown() {
      await peer?.close();
    },
  };
}

/** Builds bench/go/socketpeer (as the xlang suite does) when it is missing or older than its sources. */
function buildSocketPeer() {
  try {
    const sources = ['main.go', 'go.mod'].map((name) => fs.statSync(path.join(SOCKET_PEER_DIR, name)).mtimeMs);
    if (!fs.existsSync(SOCKET_PEER) || fs.statSync(SOCKET_PEER).mtimeMs < Math.max(...sources)) {
      fs.mkdirSync(path.dirname(SOCKET_PEER), { recursive: true });
      execFileSync('go', ['build', '-o', SOCKET_PEER, '.'], { cwd: SOCKET_PEER_DIR, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    }
    return { available: true };
  } catch (error) {
    return { available: false, reason: error.code === 'ENOENT' ? 'Go not found (the socket baseline builds bench/go/socketpeer)' : `building bench/go/socketpeer failed: ${String(error.stderr ?? error.message).trim().split('\n')[0]}` };
  }
}

/** Runs a Go peer, resolving with its last stdout JSON line and the time that line arrived. */
function runJsonPeer(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let arrivedAt;
  child.stdout.on('data', (chunk) => {
    arrivedAt ??= performance.now();
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const finished = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${path.basename(command)} ${args[0]} exited ${code}: ${stderr.trim().split('\n').pop()}`));
      try {
        resolve({ report: JSON.parse(stdout.trim().split('\n').pop()), arrivedAt });
      } catch (error) {
        reject(new Error(`${path.basename(command)}: no JSON report (${error.message})`));
      }
    });
  });
  return { child, finished };
}

function memoryNow(heapBefore) {
  return { heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore, rssBytes: process.memoryUsage().rss };
}

function checkGoReport(label, report, count) {
  checkChecksum(label, { count: report.records, hash: report.checksum, priceSum: report.floatSum }, count);
}

function nodeToGoRingTyped(RingFile, cli, batched = false) {
  const transport = batched ? 'node->go-ringfile-typed-batch' : 'node->go-ringfile-typed';
  return {
    id: `${transport}@${STRUCT_SIZE}`,
    transport,
    label: batched
      ? `Node producer.batch() + typed cursor in place (${BATCH_RECORDS} records per publish) -> Go bench-consume --layout --read-batch (ReadBatch + ParseLayout, every field decoded into the checksum), /dev/shm ring file`
      : "Node tryClaim + typed cursor + commit (publish 'auto') -> Go bench-consume --layout (ParseLayout, every field decoded into the checksum), /dev/shm ring file",
    recordSize: STRUCT_SIZE,
    ...recordCounts(STRUCT_SIZE, { initialRecords: 50_000 }),
    async trial(count) {
      const filePath = shmName(RingFile, 'structs');
      const file = RingFile.create(filePath, { capacity: ringCapacityFor(STRUCT_SIZE), maxRecordLength: STRUCT_SIZE });
      const producer = file.producer({ publish: 'auto' });
      const heapBefore = process.memoryUsage().heapUsed;
      const { child, finished } = runJsonPeer(cli.path, ['bench-consume', filePath, '--layout', STRUCT_SPEC, ...(batched ? ['--read-batch'] : [])]);
      finished.catch(() => undefined);
      try {
        const deadline = performance.now() + STALL_MS;
        while (file.stats().consumer.state !== 1) {
          if (performance.now() > deadline || child.exitCode !== null) throw new Error('Go consumer did not attach');
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const start = performance.now();
        if (batched) produceRingTypedBatches(producer, count);
        else produceRingTyped(producer, count);
        for (;;) {
          const { head, tail } = file.stats();
          if (head === tail) break;
          if (performance.now() - start > STALL_MS * 4) throw new Error('Go consumer stalled');
        }
        const end = performance.now();
        const { report } = await finished;
        checkGoReport(transport, report, count);
        return { elapsedMs: end - start, ...memoryNow(heapBefore), peerRecordsPerSec: report.recordsPerSecond };
      } finally {
        if (child.exitCode === null) child.kill();
        file.close();
        RingFile.unlink(filePath);
      }
    },
  };
}

const FRAME = 8 + STRUCT_SIZE;
const FRAMES_PER_WRITE = Math.floor((64 * 1024) / FRAME);

function nodeToGoSocketTyped() {
  let server;
  return {
    id: `node->go-socket-batched-typed@${STRUCT_SIZE}`,
    transport: 'node->go-socket-batched-typed',
    label: `Node encodes length-prefixed frames (u32 length, u32 type, record; typed arrays) into 64 KiB chunks (${FRAMES_PER_WRITE} frames) -> Unix socket -> Go socketpeer consume --layout (ParseLayout)`,
    recordSize: STRUCT_SIZE,
    ...recordCounts(STRUCT_SIZE, { initialRecords: 50_000 }),
    async setup() {
      server = await socketServer('structs');
    },
    async trial(count) {
      const heapBefore = process.memoryUsage().heapUsed;
      const { child, finished } = runJsonPeer(SOCKET_PEER, ['consume', server.path, '--layout', STRUCT_SPEC]);
      finished.catch(() => undefined);
      try {
        const socket = await server.connection();
        const drain = () => new Promise((resolve) => socket.once('drain', resolve));
        const start = performance.now();
        for (let sent = 0; sent < count; ) {
          const frames = Math.min(FRAMES_PER_WRITE, count - sent);
          // A fresh chunk per write: the socket holds it until the kernel took it.
          const chunk = new Uint8Array(frames * FRAME);
          const codec = new StructCodec(chunk);
          for (let f = 0; f < frames; f++) {
            const i = sent + f;
            const at = f * FRAME;
            codec.u32[at >> 2] = STRUCT_SIZE;
            codec.u32[(at >> 2) + 1] = STRUCT_TYPE;
            codec.encode(at + 8, ID_BASE + i, priceOf(i), qtyOf(i), symbolOf(i));
          }
          sent += frames;
          if (!socket.write(chunk)) await drain();
        }
        socket.end();
        const { report, arrivedAt } = await finished;
        checkGoReport('node->go-socket-batched-typed', report, count);
        return { elapsedMs: arrivedAt - start, ...memoryNow(heapBefore), peerRecordsPerSec: report.recordsPerSecond };
      } finally {
        if (child.exitCode === null) child.kill();
      }
    },
    async teardown() {
      await server?.close();
    },
  };
}

export async function run({ rounds, targetMs, progress, transports }) {
  const notes = [];
  const chosen = (list) => (transports === undefined ? list : list.filter((c) => transports.includes(c.transport)));
  const cases = [];
  const inThreads = chosen(Object.keys(PRODUCERS).map(workerContender));
  if (inThreads.length > 0) {
    progress(`structs: main thread -> worker, ${inThreads.length} contenders`);
    cases.push(...toCases('structs', await runInterleaved({ contenders: inThreads, rounds, targetMs, progress, label: 'structs main->worker' })));
  }
  const rings = await ringFiles();
  const cli = goCli();
  const socketPeer = buildSocketPeer();
  const toGo = [];
  if (!rings.available) notes.push(`node->go-ringfile-typed skipped: ${rings.reason}`);
  else if (!cli.available) notes.push(`node->go-ringfile-typed skipped: ${cli.reason}`);
  else toGo.push(nodeToGoRingTyped(rings.RingFile, cli), nodeToGoRingTyped(rings.RingFile, cli, true));
  if (!socketPeer.available) notes.push(`node->go-socket-batched-typed skipped: ${socketPeer.reason}`);
  else toGo.push(nodeToGoSocketTyped());
  const toGoChosen = chosen(toGo);
  if (toGoChosen.length > 0) {
    progress(`structs: Node -> Go, ${toGoChosen.length} contenders`);
    cases.push(...toCases('structs', await runInterleaved({ contenders: toGoChosen, rounds, targetMs, progress, label: 'structs node->go' })));
  }
  return { cases, notes };
}
