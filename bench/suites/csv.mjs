/**
 * Suite "csv": the CSV app of issue 13 as a new user would wire it. Generated trades (seeded;
 * 1.36 M lines, ~41 MB in the full run; 40,000 in --quick) in a file in os.tmpdir(). The main
 * thread reads the file in 1 MiB chunks and hands the lines to a parse worker, which parses each
 * line (symbol, price, qty, ts) and hands a typed trade record (csv-app.mjs: ts:u64, price:f64,
 * qty:u32, symbol key:u32) to an aggregate worker, which sums qty and price x qty per symbol.
 * Variants, interleaved round by round, all with the same parser, records and aggregate:
 *   rings              main -> parse: one ring record per line (tryClaim + copy + commit, publish
 *                      'auto'); parse -> aggregate: one typed record per line written through a
 *                      defineRecord cursor; both rings 4 MiB; stages poll (spin, then park)
 *   rings-batch        the batch paths: main -> parse one record per run of whole lines (up to 64
 *                      KiB, one Uint8Array#set), parse -> aggregate typed records claimed in place
 *                      with producer.batch(); both stages read through consumer.batch()
 *   postMessage-batch  4096 lines per transferred ArrayBuffer (up to: a batch ends at a 1 MiB read
 *                      too), 4096 typed-array-encoded trade records per transferred ArrayBuffer
 *   runPipeline        the same two stages as runPipeline stages (csv-stages.mjs): runs of lines
 *                      from the source, parse as a batch handler claiming typed trades in place,
 *                      aggregate with init/batch/end hooks (the end hook writes the result)
 *   postMessage-line   one message per line (a copied Uint8Array), one object per trade; on the
 *                      first 100,000 lines (10,000 in --quick), compared by rate
 * Each variant's aggregate (per-symbol sums, line count, largest ts) must equal the reference
 * computed on the main thread. Time runs from the release of both workers to the aggregate
 * worker's last line; rates are lines/s (recordSize is the mean line length, bytes/s the file's).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { RingProducer, createRing, runPipeline } from '../../dist/index.js';
import { WARM_TYPE } from './csv-stages.mjs';
import { WorkerPeer, gcCount, gcSince, heapBaseline, runInterleaved, toCases } from '../harness.mjs';
import { MAX_LINE, TRADE_SIZE, generateCsv, readLineChunks, readLineChunksAsync, referenceAggregate } from './csv-app.mjs';

const WORKER_URL = new URL('./csv-worker.mjs', import.meta.url);
const FULL_LINES = 1_360_000;
const QUICK_LINES = 40_000;
const PER_LINE_SUBSET = { full: 100_000, quick: 10_000 };
const LINES_PER_BATCH = 4096;
const RUN_BYTES = 64 * 1024;
const RING_CAPACITY = 4 * 1024 * 1024;
const STALL_MS = 30_000;
const SPIN = 2000;
const NEWLINE = 10;

export const description =
  'The CSV app: main thread reads lines -> parse worker -> aggregate worker (sum qty and price x qty per symbol), rings wired directly (typed records between parse and aggregate) vs batched postMessage (4096 lines per transferred message) vs one postMessage per line; same aggregate checked in every variant.';

/** Main thread, rings: one record per line, copied into the claimed payload. */
function sendLinesRing(file, lines, producer) {
  const data = producer.data;
  const chunk = Buffer.alloc(1 << 20);
  readLineChunks(file, chunk, lines, (bytes, start, end) => {
    let lineStart = start;
    for (let i = start; i < end; i++) {
      if (bytes[i] !== NEWLINE) continue;
      const length = i - lineStart;
      let at = producer.tryClaim(length, 1);
      if (at < 0) at = producer.claimSync(length, 1, STALL_MS);
      if (at < 0) throw new Error(`rings: line ring full for ${STALL_MS} ms`);
      for (let k = 0; k < length; k++) data[at + k] = bytes[lineStart + k];
      producer.commit();
      lineStart = i + 1;
    }
  });
  producer.close();
}

/**
 * Main thread, rings through the batch paths: runs of whole lines of up to RUN_BYTES as one record
 * each (tryClaim + one Uint8Array#set + commit), as a user who knows the ring ships a log.
 */
function sendLineRunsRing(file, lines, producer) {
  const data = producer.data;
  const chunk = Buffer.alloc(1 << 20);
  readLineChunks(file, chunk, lines, (bytes, start, end) => {
    for (let runStart = start; runStart < end; ) {
      // The run ends after the last newline within RUN_BYTES (every line is far shorter).
      const runEnd = end - runStart <= RUN_BYTES ? end : bytes.lastIndexOf(NEWLINE, runStart + RUN_BYTES - 1) + 1;
      const length = runEnd - runStart;
      let at = producer.tryClaim(length, 1);
      if (at < 0) at = producer.claimSync(length, 1, STALL_MS);
      if (at < 0) throw new Error(`rings-batch: line ring full for ${STALL_MS} ms`);
      data.set(bytes.subarray(runStart, runEnd), at);
      producer.commit();
      runStart = runEnd;
    }
  });
  producer.close();
}

/** Main thread, batched postMessage: runs of up to LINES_PER_BATCH whole lines, copied and transferred. */
function sendLinesBatched(file, lines, port) {
  const chunk = Buffer.alloc(1 << 20);
  readLineChunks(file, chunk, lines, (bytes, start, end) => {
    let batchStart = start;
    let inBatch = 0;
    for (let i = start; i < end; i++) {
      if (bytes[i] !== NEWLINE || ++inBatch < LINES_PER_BATCH) continue;
      const batch = bytes.buffer.slice(bytes.byteOffset + batchStart, bytes.byteOffset + i + 1);
      port.postMessage(batch, [batch]);
      batchStart = i + 1;
      inBatch = 0;
    }
    if (batchStart < end) {
      const batch = bytes.buffer.slice(bytes.byteOffset + batchStart, bytes.byteOffset + end);
      port.postMessage(batch, [batch]);
    }
  });
  port.postMessage(null);
  port.close();
}

/** Main thread, per line: a copy of each line as its own message. */
function sendLinesPerMessage(file, lines, port) {
  const chunk = Buffer.alloc(1 << 20);
  readLineChunks(file, chunk, lines, (bytes, start, end) => {
    let lineStart = start;
    for (let i = start; i < end; i++) {
      if (bytes[i] !== NEWLINE) continue;
      // A copy of the line: a view would clone its whole 1 MiB ArrayBuffer with every message.
      port.postMessage(Uint8Array.prototype.slice.call(bytes, lineStart, i));
      lineStart = i + 1;
    }
  });
  port.postMessage(null);
  port.close();
}

function channels() {
  const toParse = new MessageChannel();
  const toAggregate = new MessageChannel();
  return {
    parse: { input: toParse.port2, output: toAggregate.port1 },
    aggregate: { input: toAggregate.port2 },
    main: toParse.port1,
    transfer: { parse: [toParse.port2, toAggregate.port1], aggregate: [toAggregate.port2] },
  };
}

const VARIANTS = {
  rings: {
    label: "rings wired directly: main -> parse one record per line (tryClaim + copy + commit, 'auto'), parse -> aggregate one typed record per line through a defineRecord cursor; 4 MiB rings, spin 2000 then park",
    prepare(file, lines) {
      const lineRing = createRing({ capacity: RING_CAPACITY, maxRecordLength: MAX_LINE });
      const tradeRing = createRing({ capacity: RING_CAPACITY, maxRecordLength: TRADE_SIZE });
      const producer = new RingProducer(lineRing, { publish: 'auto', spin: SPIN });
      return {
        parse: { params: { kind: 'parseRing', lines: lineRing, out: tradeRing, spin: SPIN }, transfer: [] },
        aggregate: { params: { kind: 'aggregateRing', trades: tradeRing, spin: SPIN }, transfer: [] },
        send: () => sendLinesRing(file, lines, producer),
      };
    },
  },
  'rings-batch': {
    label: `rings through the batch paths: main -> parse one record per run of whole lines (<= ${RUN_BYTES / 1024} KiB, one copy), parse -> aggregate typed records claimed in place with producer.batch() (one publish per input run), both stages read with consumer.batch(); 4 MiB rings, spin 2000 then park`,
    prepare(file, lines) {
      const lineRing = createRing({ capacity: RING_CAPACITY, maxRecordLength: RUN_BYTES });
      const tradeRing = createRing({ capacity: RING_CAPACITY, maxRecordLength: TRADE_SIZE });
      const producer = new RingProducer(lineRing, { publish: 'auto', spin: SPIN });
      return {
        parse: { params: { kind: 'parseRingBatch', lines: lineRing, out: tradeRing, spin: SPIN }, transfer: [] },
        aggregate: { params: { kind: 'aggregateRingBatch', trades: tradeRing, spin: SPIN }, transfer: [] },
        send: () => sendLineRunsRing(file, lines, producer),
      };
    },
  },
  'postMessage-batch': {
    label: `batched postMessage: up to ${LINES_PER_BATCH} lines per transferred ArrayBuffer, up to ${LINES_PER_BATCH} typed-array-encoded trade records per transferred ArrayBuffer`,
    prepare(file, lines) {
      const wiring = channels();
      return {
        parse: { params: { kind: 'parseBatch', ...wiring.parse, perBatch: LINES_PER_BATCH }, transfer: wiring.transfer.parse },
        aggregate: { params: { kind: 'aggregateBatch', ...wiring.aggregate }, transfer: wiring.transfer.aggregate },
        send: () => sendLinesBatched(file, lines, wiring.main),
      };
    },
  },
  'postMessage-line': {
    label: 'one postMessage per line (a copied Uint8Array) and one per trade (an object), on a subset of the lines',
    subset: true,
    prepare(file, lines) {
      const wiring = channels();
      return {
        parse: { params: { kind: 'parseLinePerMessage', ...wiring.parse }, transfer: wiring.transfer.parse },
        aggregate: { params: { kind: 'aggregateLinePerMessage', ...wiring.aggregate }, transfer: wiring.transfer.aggregate },
        send: () => sendLinesPerMessage(file, lines, wiring.main),
      };
    },
  },
};

const STAGES_URL = new URL('./csv-stages.mjs', import.meta.url);
/** runPipeline's warm-up (its workers are fresh per run): at most this many lines, then the marker. */
const WARMUP_LINES = 200_000;

/** The file is the workload: a fixed count of lines (no calibration), one warm-up trial. */
function fileWorkload(lines, meanLine, bytesPerLine) {
  return { recordSize: meanLine, bytesPerRecord: bytesPerLine, initialCount: lines, minCount: lines, maxCount: lines, warmupAfterCalibration: false };
}

/**
 * The app through runPipeline (csv-stages.mjs): the source writes runs of whole lines (<= RUN_BYTES)
 * with writer.write, `parse` (a batch handler) claims a typed trade per line in the next ring,
 * `aggregate` folds them and its end hook writes the result, which the sink checks. Workers start
 * fresh per run (runPipeline's lifecycle), while the other variants' workers live across trials and
 * are warm: so each trial first sends the first WARMUP_LINES lines, then a WARM_TYPE marker
 * (aggregate starts over on it), then the whole file, and time runs from the marker's arrival in the
 * sink to the result, as the pipeline suite does for its runPipeline contenders. `parse` is declared
 * unordered: an aggregate needs no order (with one parse worker the records come in order anyway,
 * without the item framing an ordered stage writes).
 */
function pipelineContender(file, lines, expected, meanLine, bytesPerLine, parseWorkers = 1) {
  const transport = parseWorkers === 1 ? 'runPipeline' : `runPipeline-parse${parseWorkers}`;
  return {
    id: `${transport}@csv`,
    transport,
    label: `runPipeline: source writes runs of whole lines (<= ${RUN_BYTES / 1024} KiB), parse x${parseWorkers} (batch handler, ${parseWorkers > 1 ? 'ordered' : 'unordered'}, typed trades claimed in place) -> aggregate ({ init, batch, end }, the end hook writes the result); rings 4 MiB; timed from the end of a warm-up of the first ${WARMUP_LINES.toLocaleString('en')} lines (fresh workers per run)`,
    ...fileWorkload(lines, meanLine, bytesPerLine),
    async trial(count) {
      const heapBefore = heapBaseline();
      const gcBefore = gcCount();
      let start = 0;
      let result;
      const chunk = Buffer.alloc(1 << 20);
      await runPipeline({
        ringCapacity: RING_CAPACITY,
        maxRecordLength: RUN_BYTES,
        stages: [
          // Two parse workers keep order, so that the warm-up marker comes after every warm-up line.
          { name: 'parse', module: STAGES_URL, export: 'parse', batch: true, ordered: parseWorkers > 1, workers: parseWorkers },
          { name: 'aggregate', module: STAGES_URL, export: 'aggregate' },
        ],
        async source(writer) {
          const send = (lineCount) =>
            readLineChunksAsync(file, chunk, lineCount, async (bytes, first, end) => {
              for (let runStart = first; runStart < end; ) {
                const runEnd = end - runStart <= RUN_BYTES ? end : bytes.lastIndexOf(NEWLINE, runStart + RUN_BYTES - 1) + 1;
                // write() copies the run into the pipeline; a Promise means the pipeline is full.
                const full = writer.write(bytes.subarray(runStart, runEnd));
                if (full) await full;
                runStart = runEnd;
              }
            });
          await send(Math.min(WARMUP_LINES, count));
          const full = writer.write(new Uint8Array(0), WARM_TYPE);
          if (full) await full;
          await send(count);
        },
        sink: (data, type) => {
          if (type === WARM_TYPE) start = performance.now();
          if (type === 1) result = JSON.parse(new TextDecoder().decode(data));
        },
      });
      const elapsedMs = performance.now() - start;
      if (JSON.stringify(result) !== JSON.stringify(expected)) {
        throw new Error(`runPipeline: aggregate differs from the reference (${result?.lines} lines; expected ${expected.lines})`);
      }
      return { elapsedMs, heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore, gcCount: await gcSince(gcBefore), rssBytes: process.memoryUsage().rss };
    },
  };
}

function variantContender(transport, file, lines, expected, meanLine, bytesPerLine) {
  const variant = VARIANTS[transport];
  let parse;
  let aggregate;
  return {
    id: `${transport}@csv`,
    transport,
    label: variant.label,
    ...fileWorkload(lines, meanLine, bytesPerLine),
    async setup() {
      parse = new WorkerPeer(WORKER_URL);
      aggregate = new WorkerPeer(WORKER_URL);
      await Promise.all([parse.loaded, aggregate.loaded]);
    },
    async trial(count) {
      const wiring = variant.prepare(file, count);
      const heapBefore = heapBaseline();
      const gcBefore = gcCount();
      const parsing = await parse.begin(wiring.parse.params, wiring.parse.transfer);
      const aggregating = await aggregate.begin(wiring.aggregate.params, wiring.aggregate.transfer);
      const start = aggregate.go(aggregating);
      parse.go(parsing);
      // Synchronous: the ring variant blocks here when its ring is full, the others queue messages.
      wiring.send();
      const [report, parseReport] = await Promise.all([aggregating.done, parsing.done]);
      if (parseReport.error) throw new Error(`parse worker: ${parseReport.error}`);
      if (report.error) throw new Error(`aggregate worker: ${report.error}`);
      const { result, endedAt } = report.result;
      if (JSON.stringify(result) !== JSON.stringify(expected)) {
        throw new Error(`${transport}: aggregate differs from the reference (${result.lines} lines, ${result.rows.length} symbols; expected ${expected.lines}, ${expected.rows.length})`);
      }
      return {
        elapsedMs: endedAt - performance.timeOrigin - start,
        heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore + (report.heapGrowthBytes ?? 0) + (parseReport.heapGrowthBytes ?? 0),
        gcCount: (await gcSince(gcBefore)) + (report.gcCount ?? 0) + (parseReport.gcCount ?? 0),
        rssBytes: process.memoryUsage().rss,
      };
    },
    async teardown() {
      await Promise.all([parse?.close(), aggregate?.close()]);
    },
  };
}

export async function run({ rounds, targetMs, progress, transports, quick }) {
  const lines = quick ? QUICK_LINES : FULL_LINES;
  const subset = Math.min(lines, quick ? PER_LINE_SUBSET.quick : PER_LINE_SUBSET.full);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-bench-csv-'));
  try {
    const file = path.join(dir, 'trades.csv');
    progress(`csv: generating ${lines} lines`);
    const size = generateCsv(file, lines);
    const bytesPerLine = size / lines;
    const meanLine = Math.round(bytesPerLine);
    const expected = referenceAggregate(file, lines);
    const expectedSubset = referenceAggregate(file, subset);
    const notes = [
      `${lines.toLocaleString('en')} lines, ${(size / 1e6).toFixed(1)} MB (mean ${bytesPerLine.toFixed(1)} B per line, ${expected.rows.length} symbols), seeded; postMessage-line on the first ${subset.toLocaleString('en')} lines`,
    ];
    const contenders = Object.keys(VARIANTS).map((transport) =>
      VARIANTS[transport].subset
        ? variantContender(transport, file, subset, expectedSubset, meanLine, bytesPerLine)
        : variantContender(transport, file, lines, expected, meanLine, bytesPerLine),
    );
    contenders.push(pipelineContender(file, lines, expected, meanLine, bytesPerLine));
    const chosen = transports === undefined ? contenders : contenders.filter((c) => transports.includes(c.transport));
    if (chosen.length === 0) return { cases: [], notes };
    progress(`csv: ${chosen.length} variants`);
    const states = await runInterleaved({ contenders: chosen, rounds, targetMs, progress, label: 'csv' });
    const cases = toCases('csv', states);
    // The app's wall time, as a user would read it: the run's lines at the median rate.
    for (const c of cases) {
      if (c.error === undefined) notes.push(`${c.transport}: ${c.recordsPerTrial.toLocaleString('en')} lines in ${(c.recordsPerTrial / c.recordsPerSec).toFixed(3)} s at the median rate`);
    }
    return { cases, notes };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
