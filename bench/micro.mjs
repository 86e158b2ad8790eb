#!/usr/bin/env node
/**
 * Single-thread microbenchmarks with benchmark.js: the per-record costs of the API with no second
 * thread involved (ops/s with benchmark.js's relative margin of error).
 *
 *   node bench/micro.mjs [--quick]          standalone, prints a table
 *   node bench/run.mjs --suite micro        as a suite of the report
 *
 * Producer-side cases drain the ring with the consumer when it fills (a 64 MiB ring: once per
 * ~900 k records of 64 B), consumer-side cases refill it when it empties; that amortised cost is
 * inside their numbers and small next to them (see the poll case for what draining costs).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { RingConsumer, RingProducer, createRing, validateRing } from '../dist/index.js';
import { makePayload, touch } from './lib/workload.mjs';

const require = createRequire(import.meta.url);
const Benchmark = require('benchmark');

export const description =
  'Single-thread microbenchmarks (benchmark.js): per-operation costs of the producer, the consumer and the header check, and the copy they build on.';

let sink = 0;
function noop() {}
function touchHandler(type, data, offset, length) {
  sink += touch(data, offset, length);
}

function pair(capacity, maxRecordLength, publish = 'auto') {
  const sab = createRing({ capacity, maxRecordLength });
  return { producer: new RingProducer(sab, { publish }), consumer: new RingConsumer(sab), sab };
}

function cases() {
  const big = 64 * 1024 * 1024;
  const list = [];

  {
    const { producer, consumer } = pair(big, 4096);
    list.push([
      'tryClaim + commit, 64 B (nothing written)',
      () => {
        if (producer.tryClaim(64, 1) < 0) {
          consumer.poll(noop);
          producer.tryClaim(64, 1);
        }
        producer.commit();
      },
    ]);
  }
  for (const size of [64, 4096]) {
    const { producer, consumer } = pair(big, 4096);
    const payload = makePayload(size);
    list.push([
      `tryWrite copy-in, ${size} B`,
      () => {
        if (!producer.tryWrite(payload, 1)) {
          consumer.poll(noop);
          producer.tryWrite(payload, 1);
        }
      },
    ]);
  }
  {
    const { producer, consumer } = pair(big, 4096, 'eager');
    const payload = makePayload(64);
    list.push([
      "tryWrite copy-in, 64 B, publish 'eager'",
      () => {
        if (!producer.tryWrite(payload, 1)) {
          consumer.poll(noop);
          producer.tryWrite(payload, 1);
        }
      },
    ]);
  }
  const fill = (producer, payload) => {
    while (producer.tryWrite(payload, 1));
    producer.flush();
  };
  {
    const { producer, consumer } = pair(big, 4096);
    const payload = makePayload(64);
    list.push([
      'tryRead + release, 64 B',
      () => {
        let record = consumer.tryRead();
        if (record === null) {
          fill(producer, payload);
          record = consumer.tryRead();
        }
        sink += record.length;
        consumer.release();
      },
    ]);
  }
  {
    const { producer, consumer } = pair(big, 4096);
    const payload = makePayload(64);
    list.push([
      'poll, 1 record per call (release per record), 64 B',
      () => {
        if (consumer.poll(touchHandler, 1) === 0) {
          fill(producer, payload);
          consumer.poll(touchHandler, 1);
        }
      },
    ]);
  }
  {
    const { producer, consumer } = pair(big, 4096);
    const payload = makePayload(64);
    list.push([
      'poll, 256 records per call, 64 B (ops = calls)',
      () => {
        if (consumer.poll(touchHandler, 256) < 256) fill(producer, payload);
      },
      256,
    ]);
  }
  {
    const { sab } = pair(64 * 1024, 1024);
    list.push(['validateRing (header check)', () => (sink += validateRing(sab).capacity)]);
  }
  for (const size of [64, 4096]) {
    const source = makePayload(size);
    const plain = new Uint8Array(new ArrayBuffer(256 * 1024));
    const shared = new Uint8Array(new SharedArrayBuffer(256 * 1024));
    let at = 0;
    list.push([
      `Uint8Array#set ${size} B into an ArrayBuffer`,
      () => {
        plain.set(source, at);
        at = (at + size) & (256 * 1024 - 1);
      },
    ]);
    let sharedAt = 0;
    list.push([
      `Uint8Array#set ${size} B into a SharedArrayBuffer`,
      () => {
        shared.set(source, sharedAt);
        sharedAt = (sharedAt + size) & (256 * 1024 - 1);
      },
    ]);
    if (size === 64) {
      // The alternatives to `set` for a small record, as tryWrite would have to do them: a word
      // view of the caller's buffer (cached while the buffer stays the same) and a loop driven by
      // the record's length and offsets. Int32 words carry any bytes; Float64 loads and stores
      // need not preserve NaN bit patterns (the spec lets an engine pick any NaN encoding), so
      // that loop is a reference, not an option.
      const wordCopy = (WordArray) => {
        const shift = Math.log2(WordArray.BYTES_PER_ELEMENT);
        const target = new WordArray(shared.buffer);
        let cachedBuffer;
        let cachedView;
        let to = 0;
        return () => {
          const buffer = source.buffer;
          if (buffer !== cachedBuffer) {
            cachedBuffer = buffer;
            cachedView = new WordArray(buffer, 0, buffer.byteLength >> shift);
          }
          const from = source.byteOffset >> shift;
          const words = source.length >> shift;
          for (let k = 0; k < words; k++) target[to + k] = cachedView[from + k];
          to = (to + words) & ((256 * 1024 >> shift) - 1);
        };
      };
      list.push(['Int32Array word loop, 64 B into a SharedArrayBuffer', wordCopy(Int32Array)]);
      list.push(['Float64Array word loop, 64 B into a SharedArrayBuffer (not byte-exact for NaNs)', wordCopy(Float64Array)]);
    }
  }
  return list;
}

/** Runs every case; returns [{ name, opsPerSec, rmePercent, samples, nsPerOp, recordsPerOp }]. */
export function runMicro({ quick = false, progress = () => {} } = {}) {
  const results = [];
  for (const [name, fn, recordsPerOp = 1] of cases()) {
    const bench = new Benchmark(name, fn, { maxTime: quick ? 0.1 : 1, minSamples: quick ? 5 : 20, initCount: 1 });
    bench.run({ async: false });
    if (bench.error) throw bench.error;
    const result = {
      name,
      opsPerSec: bench.hz,
      rmePercent: bench.stats.rme,
      samples: bench.stats.sample.length,
      nsPerOp: 1e9 / bench.hz,
      recordsPerOp,
    };
    progress(`micro: ${name}: ${formatOps(result.opsPerSec)} ops/s ±${result.rmePercent.toFixed(1)}%`);
    results.push(result);
  }
  if (sink === 0.5) console.log('');
  return results;
}

function formatOps(value) {
  return value >= 1e6 ? `${(value / 1e6).toFixed(2)} M` : `${(value / 1e3).toFixed(1)} k`;
}

export function microTable(results) {
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${formatOps(r.opsPerSec)} | ±${r.rmePercent.toFixed(1)} % | ${r.nsPerOp.toFixed(1)} | ${(r.nsPerOp / r.recordsPerOp).toFixed(1)} | ${r.samples} |`,
  );
  return ['| case | ops/s | RME | ns/op | ns/record | samples |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

export async function run({ quick, progress }) {
  const results = runMicro({ quick, progress });
  return { cases: [], notes: [], extras: results, markdown: [microTable(results)] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = runMicro({ quick: process.argv.includes('--quick'), progress: (m) => process.stderr.write(`${m}\n`) });
  console.log(microTable(results));
}
