/**
 * Suite "log": the seed's log comparison (mmap log vs write(2)): appends of 128-byte records to a
 * file on disk in os.tmpdir(), one thread, no reader. Contenders, interleaved round by round:
 *   writeSync        fs.writeSync of each 128 B record (one write(2) per append)
 *   buffered-64k     records copied into a 64 KiB buffer, fs.writeSync of the chunk when full and
 *                    of the rest at the end (what loggers such as pino's sonic-boom do)
 *   ringfile         RingFile.create on a disk path, tryWrite per append (publish 'auto'), the
 *                    stream ended at the end. The ring is sized to hold the whole log (capacity the
 *                    next power of two of count x 136 B), so it never wraps and needs no consumer:
 *                    the ring file is the persistent log, readable afterwards (or live) by any
 *                    consumer or `shmring cat`, as a log file is by `tail`. A log that outgrows its
 *                    ring would need a drain consumer; that is a different workload (the pipelines).
 *   ringfile-prefault  the same with RingFile.create's `prefault: true` (madvise
 *                    MADV_POPULATE_WRITE at create: the file's pages allocated and mapped writable),
 *                    when this build of the library has the option; else skipped with a note. The
 *                    create time of both ring contenders is reported in a note: prefault moves the
 *                    page-fault cost from the appends to create.
 *   ringfile-prefault-batch  the same, appends through the producer's batch writer, published every
 *                    64 KiB of records (the buffered writer's chunk): a logger's shape on the ring
 * None of them fsyncs: each leaves the records in the page cache, where the kernel writes them back.
 * Timed: the append loop plus the final flush (buffered) or close (ring: publishes the last batch).
 * File creation, opening and the unlink are outside the timed span; a fresh file per trial.
 *
 * Per-append latency: every 61st append is timed on its own with performance.now() (a double: no
 * allocation) into a preallocated Float64Array; p50/p99/p99.9 over those samples. The timer's own
 * cost is in each sample; the suite measures it (an empty timed span) and states it in a note.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInterleaved, toCases } from '../harness.mjs';
import { ringFiles } from '../lib/availability.mjs';
import { RECORD_TYPE, makePayload, nextPowerOfTwo } from '../lib/workload.mjs';

export const RECORD_SIZE = 128;
const RECORD_SLOT = RECORD_SIZE + 8;
// A prime stride: with 64 (a divisor of the buffered writer's 512 records per chunk) every sample
// that fell on a chunk write was one, and an eighth of the samples timed a 64 KiB write(2).
const SAMPLE_EVERY = 61;
const FULL_APPENDS = 1_000_000;
const QUICK_APPENDS = 50_000;
const BUFFER_BYTES = 64 * 1024;

export const description =
  'The seed\'s log comparison: 128 B appends to a file on disk (os.tmpdir()): fs.writeSync per record vs a 64 KiB buffered writer vs a ring file on disk (tryWrite per append, or the batch writer published per 64 KiB; the ring is the log), MB/s and per-append latency (every 61st append timed).';

let unique = 0;
function logPath(dir, label) {
  unique++;
  return path.join(dir, `${label}-${process.pid}-${unique}.log`);
}

/** The filesystem of a path, from /proc/mounts (longest mount point that is a prefix), for the notes. */
function filesystemOf(target) {
  try {
    let best = { mount: '', type: 'unknown' };
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mount, type] = line.split(' ');
      if (mount && (target === mount || target.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) && mount.length >= best.mount.length) best = { mount, type };
    }
    return `${best.type} (${best.mount})`;
  } catch {
    return 'unknown';
  }
}

function contender(transport, label, count, makeTrial) {
  return {
    id: `${transport}@${RECORD_SIZE}`,
    transport,
    label,
    recordSize: RECORD_SIZE,
    // A fixed count (the 1 M appends): no calibration, the log is the workload.
    initialCount: count,
    minCount: count,
    maxCount: count,
    // One calibration trial of the full count warms the JIT; no further warm-up trials.
    warmupAfterCalibration: false,
    trial: makeTrial,
  };
}

function result(elapsedMs, samples, sampled, heapBefore) {
  return {
    elapsedMs,
    latency: samples.slice(0, sampled),
    heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore,
    rssBytes: process.memoryUsage().rss,
  };
}

function writeSyncContender(dir, count, record) {
  return contender('writeSync', 'fs.writeSync of each 128 B record (one write(2) per append)', count, (n) => {
    const file = logPath(dir, 'writesync');
    const fd = fs.openSync(file, 'wx', 0o600);
    const samples = new Float64Array(Math.ceil(n / SAMPLE_EVERY));
    try {
      const heapBefore = process.memoryUsage().heapUsed;
      // Each contender has its own loop (no shared loop calling a closure: that call site would
      // turn polymorphic and charge its cost to whichever contender ran last).
      let sampled = 0;
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        if (i % SAMPLE_EVERY !== 0) {
          fs.writeSync(fd, record, 0, RECORD_SIZE);
          continue;
        }
        const before = performance.now();
        fs.writeSync(fd, record, 0, RECORD_SIZE);
        samples[sampled++] = (performance.now() - before) * 1000;
      }
      const end = performance.now();
      if (fs.fstatSync(fd).size !== n * RECORD_SIZE) throw new Error('writeSync: file size does not match the appends');
      return result(end - start, samples, sampled, heapBefore);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  });
}

function bufferedContender(dir, count, record) {
  return contender('buffered-64k', 'records copied into a 64 KiB buffer, fs.writeSync of each full chunk and of the rest at the end (as loggers do)', count, (n) => {
    const file = logPath(dir, 'buffered');
    const fd = fs.openSync(file, 'wx', 0o600);
    const samples = new Float64Array(Math.ceil(n / SAMPLE_EVERY));
    const buffer = new Uint8Array(BUFFER_BYTES);
    let filled = 0;
    try {
      const heapBefore = process.memoryUsage().heapUsed;
      let sampled = 0;
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        const sample = i % SAMPLE_EVERY === 0;
        const before = sample ? performance.now() : 0;
        if (filled + RECORD_SIZE > BUFFER_BYTES) {
          fs.writeSync(fd, buffer, 0, filled);
          filled = 0;
        }
        buffer.set(record, filled);
        filled += RECORD_SIZE;
        if (sample) samples[sampled++] = (performance.now() - before) * 1000;
      }
      if (filled > 0) fs.writeSync(fd, buffer, 0, filled);
      const end = performance.now();
      if (fs.fstatSync(fd).size !== n * RECORD_SIZE) throw new Error('buffered-64k: file size does not match the appends');
      return result(end - start, samples, sampled, heapBefore);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  });
}

/**
 * Whether this build's RingFile.create honours `prefault: true` (the option another change adds):
 * its source names the option, or the first writes to a ring created with it in `dir` take no page
 * faults. (Block allocation is no sign: create already fallocates; what prefault must remove is the
 * fault on each page's first write.) An option the build does not know is ignored or refused; both
 * read as unsupported.
 */
export function prefaultSupported(RingFile, dir) {
  if (/\bprefault\b/.test(String(RingFile.create))) return true;
  const probe = path.join(dir, `prefault-probe-${process.pid}.ring`);
  const record = new Uint8Array(RECORD_SIZE);
  try {
    const ring = RingFile.create(probe, { capacity: 1 << 20, maxRecordLength: RECORD_SIZE, prefault: true });
    const producer = ring.producer({ publish: 'auto' });
    const before = process.resourceUsage().minorPageFault;
    // ~200 pages of records: an unpopulated mapping faults on each.
    for (let i = 0; i < 6000; i++) producer.tryWrite(record, RECORD_TYPE);
    const faults = process.resourceUsage().minorPageFault - before;
    producer.close();
    ring.close();
    return faults < 50;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

/** Milliseconds each ring contender's RingFile.create took, per trial (outside the timed span). */
const createTimes = { ringfile: [], 'ringfile-prefault': [], 'ringfile-prefault-batch': [] };

/**
 * One trial of a ring contender: a fresh ring file on disk (its create timed apart, outside the
 * timed span), `appends(ring, samples)` runs the contender's own timed loop and returns
 * { elapsedMs, sampled }; then the tail must hold every append, and the file goes.
 */
function ringFileTrial({ dir, transport, capacity, RingFile, prefault, n }, appends) {
  const file = logPath(dir, transport);
  const createStart = performance.now();
  const ring = RingFile.create(file, { capacity, maxRecordLength: RECORD_SIZE, ...(prefault ? { prefault: true } : {}) });
  createTimes[transport].push(performance.now() - createStart);
  const samples = new Float64Array(Math.ceil(n / SAMPLE_EVERY));
  try {
    const heapBefore = process.memoryUsage().heapUsed;
    const { elapsedMs, sampled } = appends(ring, samples);
    const { tail } = ring.stats();
    if (Number(tail) !== n * RECORD_SLOT) throw new Error(`${transport}: tail ${tail} after ${n} appends, expected ${n * RECORD_SLOT}`);
    return result(elapsedMs, samples, sampled, heapBefore);
  } finally {
    ring.close();
    RingFile.unlink(file);
  }
}

const capacityFor = (count) => nextPowerOfTwo(Math.max(count * RECORD_SLOT, 64 * 1024));
const sizeLabel = (capacity) => (capacity >> 20 > 0 ? `${capacity >> 20} MiB` : `${capacity >> 10} KiB`);

function ringFileContender(dir, count, record, RingFile, prefault) {
  const transport = prefault ? 'ringfile-prefault' : 'ringfile';
  const capacity = capacityFor(count);
  const label = `RingFile on disk (${os.tmpdir()}), capacity ${sizeLabel(capacity)} (holds the whole log: no wrap, no consumer), tryWrite per append, publish 'auto'${prefault ? ', created with prefault: true' : ' (sparse file: first touch of each page faults)'}`;
  return contender(transport, label, count, (n) =>
    ringFileTrial({ dir, transport, capacity, RingFile, prefault, n }, (ring, samples) => {
      const producer = ring.producer({ publish: 'auto' });
      let sampled = 0;
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        const sample = i % SAMPLE_EVERY === 0;
        const before = sample ? performance.now() : 0;
        if (!producer.tryWrite(record, RECORD_TYPE)) throw new Error(`${transport}: ring full (capacity ${capacity} for ${n} appends)`);
        if (sample) samples[sampled++] = (performance.now() - before) * 1000;
      }
      producer.close();
      return { elapsedMs: performance.now() - start, sampled };
    }),
  );
}

/**
 * ringfile-prefault-batch: the logger's shape on the ring. Appends go through the producer's batch
 * writer (batch.write copies the record in and writes its header; nothing is published yet) and
 * every BUFFER_BYTES of records, as the buffered writer's chunk, the batch is published with one
 * store of the tail and the next opened: records become visible per chunk, as a buffered logger's
 * do, and the ring's bookkeeping is paid per chunk instead of per record.
 */
function ringFileBatchContender(dir, count, record, RingFile) {
  const transport = 'ringfile-prefault-batch';
  const capacity = capacityFor(count);
  const perChunk = Math.floor(BUFFER_BYTES / RECORD_SIZE);
  const label = `RingFile on disk, capacity ${sizeLabel(capacity)}, prefault: true, producer.batch() write per append, published every ${perChunk} appends (the buffered writer's 64 KiB) and at the end`;
  return contender(transport, label, count, (n) =>
    ringFileTrial({ dir, transport, capacity, RingFile, prefault: true, n }, (ring, samples) => {
      const producer = ring.producer();
      let sampled = 0;
      let batch = producer.batch();
      let inChunk = 0;
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        const sample = i % SAMPLE_EVERY === 0;
        const before = sample ? performance.now() : 0;
        if (inChunk === perChunk) {
          batch.publish();
          batch = producer.batch();
          inChunk = 0;
        }
        if (!batch.write(record, RECORD_TYPE)) throw new Error(`${transport}: ring full (capacity ${capacity} for ${n} appends)`);
        inChunk++;
        if (sample) samples[sampled++] = (performance.now() - before) * 1000;
      }
      batch.publish();
      producer.close();
      return { elapsedMs: performance.now() - start, sampled };
    }),
  );
}

/** The timer's own cost in a latency sample: an empty timed span, p50 in µs. */
function timerFloorMicros() {
  const samples = new Float64Array(10_000);
  for (let i = 0; i < samples.length; i++) {
    const before = performance.now();
    samples[i] = (performance.now() - before) * 1000;
  }
  samples.sort();
  return samples[samples.length >> 1];
}

export async function run({ rounds, targetMs, progress, transports, quick }) {
  const count = quick ? QUICK_APPENDS : FULL_APPENDS;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-bench-log-'));
  const record = makePayload(RECORD_SIZE);
  const notes = [
    `${count.toLocaleString('en')} appends of ${RECORD_SIZE} B per trial to ${dir} on ${filesystemOf(dir)}; no fsync in any contender`,
    `per-append latency: every ${SAMPLE_EVERY}st append timed alone; the timer's own cost (an empty timed span, p50) is ${timerFloorMicros().toFixed(3)} µs and is inside every sample`,
  ];
  const contenders = [writeSyncContender(dir, count, record), bufferedContender(dir, count, record)];
  const rings = await ringFiles();
  if (!rings.available) notes.push(`ringfile contenders skipped: ${rings.reason}`);
  else {
    contenders.push(ringFileContender(dir, count, record, rings.RingFile, false));
    if (prefaultSupported(rings.RingFile, dir)) {
      contenders.push(ringFileContender(dir, count, record, rings.RingFile, true));
      contenders.push(ringFileBatchContender(dir, count, record, rings.RingFile));
    } else notes.push('ringfile-prefault skipped: RingFile.create has no prefault option in this build');
  }
  const chosen = transports === undefined ? contenders : contenders.filter((c) => transports.includes(c.transport));
  try {
    if (chosen.length === 0) return { cases: [], notes };
    progress(`log: ${chosen.length} contenders, ${count} appends each`);
    const states = await runInterleaved({ contenders: chosen, rounds, targetMs, progress, label: 'log' });
    for (const [transport, times] of Object.entries(createTimes)) {
      if (times.length === 0) continue;
      const sorted = [...times].sort((a, b) => a - b);
      notes.push(`${transport}: RingFile.create took ${sorted[sorted.length >> 1].toFixed(1)} ms (median of ${sorted.length}; ${sorted[0].toFixed(1)}-${sorted[sorted.length - 1].toFixed(1)}), outside the timed span${transport === 'ringfile-prefault' ? ': the page faults the appends no longer take are paid here, once per log file' : ''}`);
      times.length = 0;
    }
    return { cases: toCases('log', states), notes };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
