/**
 * Suite "pipeline": a three-stage chain, source -> relay -> sink, the sink in this thread. The relay
 * reads every record and writes it on (one copy per hop). Three threads on two cores here, so how
 * each transport waits (spin, then park) matters as much as how it copies.
 *   rings-threads        source worker -> ring -> relay worker -> ring -> main   (publish 'auto')
 *   ringfiles-processes  the same over /dev/shm ring files between processes   (native addon)
 *   sockets-processes    source process -> Unix socket -> relay process -> Unix socket -> main,
 *                        64 KiB writes of length-prefixed frames
 * and the library's worker-pool pipeline against piscina's ordinary tasks, the same three stage
 * functions (pipeline-stages/: parse -> transform -> verify, one worker each, in order) between a
 * source and a sink in this thread:
 *   shmring-pipeline*      runPipeline: the stages joined by rings (variants: PIPELINE_VARIANTS)
 *   piscina-tasks          one piscina pool per stage, pool.run(record) per record and stage
 *                          (structured clone both ways), chained, at most 1024 records in flight
 *   piscina-tasks-batched  the same with 256 records per task packed in one transferred ArrayBuffer
 * For these three, time runs from the moment the last warm-up record has come out of the last stage
 * (every worker is up) to the last record in the sink; heap growth is the main isolate's only. The
 * piscina pools live across trials, so one warm-up record suffices; runPipeline starts fresh workers
 * per run, whose code starts cold (a 64 B run of 5,000 records measured 90 k records/s here, of
 * 1,000,000 records 2 M/s), so its trials first send PIPELINE_WARMUP records (at most 256 MiB) and
 * the figure is its steady state, like the pools'.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { RingConsumer, createRing, runPipeline } from '../../dist/index.js';
import { ProcessPeer, WorkerPeer, heapBaseline, runRecordSize } from '../harness.mjs';
import { ringFiles, shmName } from '../lib/availability.mjs';
import { receiveFrames, socketServer } from '../lib/sockets.mjs';
import { Delivery, recordCounts, ringCapacityFor } from '../lib/workload.mjs';
import { MIN_RECORD, checksum, checksumAt, makeRecord, maskedChecksum, pristineChecksum, sequenceOf, setSequence } from './pipeline-stages/record.mjs';

const WORKER_URL = new URL('./inproc-worker.mjs', import.meta.url);
const PEER = fileURLToPath(new URL('./peer-process.mjs', import.meta.url));
const STALL_MS = 30_000;
const SPIN = 2000;
const STAGES = ['parse', 'transform', 'verify'];
const stageUrl = (stage) => new URL(`./pipeline-stages/${stage}.mjs`, import.meta.url);
const BATCH_TASK_URL = new URL('./pipeline-stages/batch-task.mjs', import.meta.url);
/** Records submitted and not yet in the sink, for the per-record piscina contender. */
const TASKS_IN_FLIGHT = 1024;
/** Records per task of piscina-tasks-batched, and at most this many bytes per task. */
const BATCH_RECORDS = 256;
const BATCH_BYTES = 4 << 20;
const PIPELINE_WARMUP = 100_000;
const PIPELINE_WARMUP_BYTES = 256 << 20;

export const description =
  'Three-stage chain source -> relay -> sink (sink in the main thread): rings between threads, ring files between processes, Unix sockets between processes; runPipeline with 3 worker stages vs the same stages as piscina tasks, per record and 256 per task.';

const delivery = new Delivery();

function contender(transport, label, size, fields) {
  return {
    id: `${transport}@${size}`,
    transport,
    label,
    recordSize: size,
    ...recordCounts(size),
    ...fields,
  };
}

function drainRing(consumer, count) {
  while (delivery.seen < count) {
    if (consumer.pollSync(delivery.onRecord, Infinity, STALL_MS) === 0) {
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
      delivery.reset();
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
      delivery.check(this.transport, count, size);
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
      delivery.reset();
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
        delivery.check(this.transport, count, size);
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
      delivery.reset();
      const heapBefore = heapBaseline();
      const listenPath = `${server.path}.relay`;
      const relayRun = await relay.begin({ kind: 'socket-relay', listenPath, toPath: server.path, size });
      const socket = await server.connection();
      const sourceRun = await source.begin({ kind: 'socket-produce', path: listenPath, count, size, batched: true });
      const received = receiveFrames(socket, delivery, count);
      const start = relay.go(relayRun);
      source.go(sourceRun);
      const end = await received;
      const [a, b] = await Promise.all([source.finish(sourceRun), relay.finish(relayRun)]);
      delivery.check(this.transport, count, size);
      return { elapsedMs: end - start, ...memory(heapBefore, [a.report, b.report], (a.report.rssBytes ?? 0) + (b.report.rssBytes ?? 0)) };
    },
    async teardown() {
      await Promise.all([source?.close(), relay?.close()]);
      await server?.close();
    },
  });
}

/**
 * The sink of the stage contenders: records arrive in source order, each with transform's flips;
 * sequences 0 .. warmup - 1 are the warm-up, `first` resolves when the last of them has arrived, and
 * check() returns the milliseconds from then to the arrival of sequence `last`.
 */
function stageSink(size, last, warmup = 1, pristine = false) {
  const expected = pristine ? pristineChecksum(size) : maskedChecksum(size);
  const sink = {
    next: 0,
    firstAt: 0,
    lastAt: 0,
    first: undefined,
    accept(data) {
      sink.acceptAt(data, 0, data.length);
    },
    /** accept() for the record at buffer[offset, offset + length) (a batch sink: no view per record). */
    acceptAt(buffer, offset, length) {
      const sequence = (buffer[offset] | (buffer[offset + 1] << 8) | (buffer[offset + 2] << 16) | (buffer[offset + 3] << 24)) >>> 0;
      if (sequence !== sink.next) throw new Error(`sink: record ${sequence} arrived, expected ${sink.next}`);
      if (length !== size) throw new Error(`sink: record ${sequence} has ${length} bytes, expected ${size}`);
      const sum = checksumAt(buffer, offset, length);
      if (sum !== expected) throw new Error(`sink: record ${sequence} has checksum ${sum}, expected ${expected}`);
      sink.next++;
      if (sequence === warmup - 1) {
        sink.firstAt = performance.now();
        sink.resolveFirst();
      }
      if (sequence === last) sink.lastAt = performance.now();
    },
    check(label) {
      if (sink.next !== last + 1) throw new Error(`${label}: sink saw ${sink.next} records, expected ${last + 1}`);
      return sink.lastAt - sink.firstAt;
    },
  };
  sink.first = new Promise((resolve) => (sink.resolveFirst = resolve));
  return sink;
}

function stageContender(transport, label, size, fields) {
  return {
    id: `${transport}@${size}`,
    transport,
    label,
    recordSize: size,
    initialCount: Math.max(16, Math.min(5_000, Math.floor((4 << 20) / size))),
    minCount: 16,
    maxCount: Math.max(16, Math.floor(2 * 2 ** 30 / size)),
    ...fields,
  };
}

/** Waits for the warm-up, or rejects when the pipeline stops early (a failed stage) so the source ends. */
function untilFirstOrAbort(first, signal) {
  if (signal.aborted) return Promise.reject(signal.reason);
  return Promise.race([first, new Promise((resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
}

/** A submitted chain whose failure the trial sees when it awaits it, not as an unhandled rejection before. */
function handled(promise) {
  promise.catch(() => undefined);
  return promise;
}

function memoryOfMain(heapBefore) {
  return { heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore, rssBytes: process.memoryUsage().rss };
}

/**
 * runPipeline contenders (`stages` makes the stage descriptors, `extra` adds pipeline options):
 *   shmring-pipeline          the 0.1 configuration: stage functions that return the input view, spin 200
 *   shmring-pipeline-auto     the same stages, default options (spin from threads and cores)
 *   shmring-pipeline-inplace  the stages write through context.claim/commit
 *   shmring-pipeline-fused    the three 0.1 stage functions called in turn by one stage (by hand)
 *   shmring-pipeline-batch    batch handlers (many records per call), writing in place
 *   shmring-pipeline-chain    in-place stages (inPlace: true) as batch handlers: one ring for the
 *                             whole pipeline, each stage changes the record where it lies (no copy);
 *                             the source claims records in place (writer.batch()) and the sink is
 *                             a batch sink ({ batch }: no view per record)
 *   shmring-pipeline-chain-records  the same with record functions (a view per record)
 *   shmring-noop-1/-2         one / two do-nothing stages: the per-record cost of a stage is the difference
 */
const PIPELINE_VARIANTS = {
  'shmring-pipeline': {
    label: 'parse -> transform -> verify returning views, spin 200 (the 0.1 configuration)',
    stages: () => STAGES.map((name) => ({ name, module: stageUrl(name), workers: 1, ordered: true })),
    extra: { spin: 200 },
  },
  'shmring-pipeline-auto': {
    label: 'parse -> transform -> verify returning views, default spin',
    stages: () => STAGES.map((name) => ({ name, module: stageUrl(name), workers: 1, ordered: true })),
    extra: {},
  },
  'shmring-pipeline-inplace': {
    label: 'parse -> transform -> verify writing in place (context.claim/commit)',
    stages: () => STAGES.map((name) => ({ name, module: stageUrl('inplace'), export: name })),
    extra: {},
  },
  'shmring-pipeline-fused': {
    label: 'the three stage functions called in turn by one stage (fused by hand: one worker, no ring between the stages)',
    stages: () => [{ name: 'all3', module: stageUrl('all3') }],
    extra: {},
  },
  'shmring-pipeline-batch': {
    label: 'parse -> transform -> verify as batch handlers writing in place',
    stages: () => STAGES.map((name) => ({ name, module: stageUrl('batch'), export: name, batch: true })),
    extra: {},
  },
  'shmring-pipeline-chain': {
    label: 'parse -> transform -> verify in place (inPlace batch handlers: one ring, no copy between stages), source claiming in place (writer.batch()), batch sink',
    stages: () => STAGES.map((name) => ({ name, module: stageUrl('chain'), export: name, batch: true, inPlace: true })),
    extra: {},
    batchSink: true,
  },
  'shmring-pipeline-chain-records': {
    label: 'parse -> transform -> verify in place (inPlace record functions: one ring, a view per record)',
    stages: () => STAGES.map((name) => ({ name, module: stageUrl('chain'), export: `${name}Record`, inPlace: true })),
    extra: {},
  },
  'shmring-noop-1': {
    label: 'one do-nothing stage',
    stages: () => [{ name: 'noop', module: stageUrl('noop') }],
    extra: {},
  },
  'shmring-noop-2': {
    label: 'two do-nothing stages',
    stages: () => [{ name: 'noop1', module: stageUrl('noop') }, { name: 'noop2', module: stageUrl('noop') }],
    extra: {},
  },
};

/** The source of the runPipeline contenders: records `from` .. `to` - 1, each a copy of `record` with its sequence number. */
async function sendWritten(writer, record, from, to) {
  for (let sequence = from; sequence < to; sequence++) {
    setSequence(record, sequence);
    const full = writer.write(record);
    if (full) await full;
  }
}

/** The same through the first ring's batch writer (writer.batch()): each record claimed and filled in place, published every 256. */
async function sendClaimed(writer, record, from, to) {
  const size = record.length;
  let out = writer.batch();
  for (let sequence = from; sequence < to; sequence++) {
    let at = out.claim(size, 0);
    if (at < 0) {
      out = await writer.waitForRoom(size);
      at = out.claim(size, 0);
    }
    const data = out.data;
    data.set(record, at);
    data[at] = sequence & 0xff;
    data[at + 1] = (sequence >>> 8) & 0xff;
    data[at + 2] = (sequence >>> 16) & 0xff;
    data[at + 3] = (sequence >>> 24) & 0xff;
    if ((sequence & 255) === 255) out = writer.publish();
  }
  writer.publish();
}

function shmringPipeline(size, variant = 'shmring-pipeline') {
  const warmup = Math.min(PIPELINE_WARMUP, Math.max(256, Math.floor(PIPELINE_WARMUP_BYTES / size)));
  const { label, stages, extra, batchSink = false } = PIPELINE_VARIANTS[variant];
  // The do-nothing pipelines skip transform: the sink then expects the pristine checksum.
  const pristine = variant.startsWith('shmring-noop');
  return stageContender(variant, `runPipeline: ${label} (after ${warmup} warm-up records)`, size, {
    initialCount: Math.max(1000, Math.min(200_000, Math.floor((64 << 20) / size))),
    async trial(count) {
      const sink = stageSink(size, warmup + count - 1, warmup, pristine);
      const record = makeRecord(size);
      const heapBefore = heapBaseline();
      await runPipeline({
        ...extra,
        stages: stages(),
        ringCapacity: ringCapacityFor(size),
        async source(writer) {
          const send = batchSink ? sendClaimed : sendWritten;
          // The warm-up: the clock starts once its last record is out of the last stage.
          await send(writer, record, 0, warmup);
          await untilFirstOrAbort(sink.first, writer.signal);
          await send(writer, record, warmup, warmup + count);
        },
        sink: batchSink
          ? {
              batch(batch) {
                while (batch.next()) sink.acceptAt(batch.buffer, batch.offset, batch.length);
              },
            }
          : (data) => sink.accept(data),
      });
      return { elapsedMs: sink.check(this.transport), ...memoryOfMain(heapBefore) };
    },
  });
}

/** One pool per stage, one thread each, like the ring pipeline's one worker per stage. */
function piscinaPools(filenames) {
  return filenames.map((filename) => new Piscina({ filename: filename.href, minThreads: 1, maxThreads: 1, idleTimeout: 60_000 }));
}

function piscinaTasks(size) {
  let pools;
  return stageContender('piscina-tasks', `piscina pool per stage, pool.run(record) per record and stage, <= ${TASKS_IN_FLIGHT} in flight`, size, {
    // Trials of at least twice the records in flight, so a trial is more than filling the window.
    initialCount: 2 * TASKS_IN_FLIGHT,
    minCount: 2 * TASKS_IN_FLIGHT,
    async setup() {
      pools = piscinaPools(STAGES.map(stageUrl));
    },
    async trial(count) {
      const sink = stageSink(size, count);
      const template = makeRecord(size);
      const [parsePool, transformPool, verifyPool] = pools;
      // Each record is a fresh copy: a queued task is cloned when piscina posts it, not at run().
      const submit = (sequence) => {
        const record = template.slice();
        setSequence(record, sequence);
        return parsePool.run(record).then((parsed) => transformPool.run(parsed)).then((transformed) => verifyPool.run(transformed));
      };
      const heapBefore = heapBaseline();
      sink.accept(await submit(0));
      const inFlight = [];
      for (let sequence = 1; sequence <= count; sequence++) {
        inFlight.push(handled(submit(sequence)));
        if (inFlight.length >= TASKS_IN_FLIGHT) sink.accept(await inFlight.shift());
      }
      while (inFlight.length > 0) sink.accept(await inFlight.shift());
      return { elapsedMs: sink.check(this.transport), ...memoryOfMain(heapBefore) };
    },
    async teardown() {
      await Promise.all((pools ?? []).map((pool) => pool.destroy()));
    },
  });
}

function piscinaTasksBatched(size) {
  let pools;
  const perTask = Math.max(1, Math.min(BATCH_RECORDS, Math.floor(BATCH_BYTES / size)));
  const batchesInFlight = Math.max(2, Math.ceil(TASKS_IN_FLIGHT / perTask));
  return stageContender('piscina-tasks-batched', `piscina pool per stage, ${perTask} records per task in one transferred ArrayBuffer`, size, {
    async setup() {
      pools = piscinaPools(STAGES.map(() => BATCH_TASK_URL));
    },
    async trial(count) {
      const sink = stageSink(size, count);
      const template = makeRecord(size);
      const run = (pool, stage, buffer) => pool.run({ stage, buffer, recordSize: size }, { transferList: [buffer] });
      const submit = (first, records) => {
        const buffer = new ArrayBuffer(records * size);
        for (let i = 0; i < records; i++) {
          const record = new Uint8Array(buffer, i * size, size);
          record.set(template);
          setSequence(record, first + i);
        }
        return STAGES.reduce((previous, stage, s) => previous.then((moved) => run(pools[s], stage, moved)), Promise.resolve(buffer));
      };
      const drain = (buffer) => {
        for (let offset = 0; offset < buffer.byteLength; offset += size) sink.accept(new Uint8Array(buffer, offset, size));
      };
      const heapBefore = heapBaseline();
      drain(await submit(0, 1));
      const inFlight = [];
      for (let first = 1; first <= count; first += perTask) {
        inFlight.push(handled(submit(first, Math.min(perTask, count + 1 - first))));
        if (inFlight.length >= batchesInFlight) drain(await inFlight.shift());
      }
      while (inFlight.length > 0) drain(await inFlight.shift());
      return { elapsedMs: sink.check(this.transport), ...memoryOfMain(heapBefore) };
    },
    async teardown() {
      await Promise.all((pools ?? []).map((pool) => pool.destroy()));
    },
  });
}

/** What a second do-nothing stage adds per record, from the medians of shmring-noop-1 and -2 (ns), if both ran. */
function stageCost(sized) {
  const rate = (transport) => sized.find((c) => c.transport === transport && c.recordsPerSec > 0)?.recordsPerSec;
  const one = rate('shmring-noop-1');
  const two = rate('shmring-noop-2');
  return one === undefined || two === undefined ? undefined : 1e9 / two - 1e9 / one;
}

export async function run({ sizes, rounds, targetMs, progress, transports }) {
  const notes = [];
  const rings = await ringFiles();
  if (!rings.available) notes.push(`ring-file contender skipped: ${rings.reason}`);
  const cases = [];
  for (const size of sizes) {
    const contenders = [ringThreads(size), socketProcesses(size)];
    if (rings.available) contenders.splice(1, 0, ringFileProcesses(size, rings.RingFile));
    if (size >= MIN_RECORD) {
      contenders.push(...Object.keys(PIPELINE_VARIANTS).map((variant) => shmringPipeline(size, variant)), piscinaTasks(size), piscinaTasksBatched(size));
    }
    else notes.push(`${size} B: runPipeline and piscina contenders skipped (records carry a 4-byte sequence number; at least ${MIN_RECORD} B)`);
    const sized = await runRecordSize({ suite: 'pipeline', size, contenders, transports, rounds, targetMs, progress });
    cases.push(...sized);
    const noopCost = stageCost(sized);
    if (noopCost !== undefined) notes.push(`${size} B: a do-nothing stage adds ${noopCost.toFixed(0)} ns per record (1 / shmring-noop-2 - 1 / shmring-noop-1, medians)`);
  }
  return { cases, notes };
}
