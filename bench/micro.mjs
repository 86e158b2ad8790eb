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
import { RingConsumer, RingProducer, createRing, defineRecord, validateRing } from '../dist/index.js';
import { ID_BASE, STRUCT_SPEC, StructChecksum, StructCodec, priceOf, qtyOf, symbolOf } from './suites/structs-records.mjs';
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
  // Issue 13's per-record bookkeeping floor: write 4096 records of 64 B, then read them all back,
  // in one thread. The minimal framed ring does only what any framed SPSC ring must: the same copy
  // (Uint8Array#set into a SharedArrayBuffer), the same two header words, one release-store of the
  // tail per 4096 records and of the head per read pass, the same handler per record; no checks, no
  // wrap padding, no validation of what it reads. shmring's ratio to it is the price of its checks.
  {
    const records = 4096;
    const payload = makePayload(64);
    const { producer, consumer } = pair(1 << 20, 4096);
    list.push([
      `tryWrite + poll, 64 B (${records} records per op)`,
      () => {
        for (let i = 0; i < records; i++) producer.tryWrite(payload, 1);
        producer.flush();
        if (consumer.poll(touchHandler) !== records) throw new Error('tryWrite + poll lost records');
      },
      records,
    ]);
    const batchPair = pair(1 << 20, 4096);
    list.push([
      `batch(): claim + set, then batch() next() + release, 64 B (${records} records per op)`,
      () => {
        const writer = batchPair.producer.batch();
        const data = writer.data;
        for (let i = 0; i < records; i++) data.set(payload, writer.claim(64, 1));
        writer.publish();
        const reader = batchPair.consumer.batch();
        while (reader.next()) touchHandler(reader.type, reader.data, reader.offset, reader.length);
        if (reader.release() !== records) throw new Error('batch write + read lost records');
      },
      records,
    ]);
    list.push([`minimal framed ring: set + 2 header words, then read, 64 B (${records} records per op)`, minimalFramedRing(records, payload, false), records]);
    list.push([`minimal framed ring with shmring's record checks, 64 B (${records} records per op)`, minimalFramedRing(records, payload, true), records]);
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
  list.push(...structCodecCases());
  return list;
}

/**
 * The structs suite's per-record codec on one thread (no transport): the layout's cursor
 * (defineRecord) against the hand-written typed-array codec the postMessage-batch and ringbuf.js
 * contenders use, encoding JS values into 4096 records of 40 B (48 B slots) and decoding them into
 * the suite's checksum. What a struct record costs before any record moves: the bound of both
 * struct contenders (issue 13's structs floor).
 */
function structCodecCases() {
  const layout = defineRecord(STRUCT_SPEC);
  const count = 4096;
  const slot = 48;
  const bytes = new Uint8Array(new SharedArrayBuffer(count * slot));
  const cursor = layout.cursor(bytes);
  const codec = new StructCodec(bytes);
  const checksum = new StructChecksum();
  let base = 0;
  const encodeCursor = () => {
    for (let i = 0; i < count; i++) {
      const n = base + i;
      cursor.at(i * slot);
      cursor.id = ID_BASE + n;
      cursor.price = priceOf(n);
      cursor.qty = qtyOf(n);
      cursor.symbol = symbolOf(n);
    }
    base += count;
  };
  const encodeCodec = () => {
    for (let i = 0; i < count; i++) {
      const n = base + i;
      codec.encode(i * slot, ID_BASE + n, priceOf(n), qtyOf(n), symbolOf(n));
    }
    base += count;
  };
  const decodeCursor = () => {
    for (let i = 0; i < count; i++) {
      cursor.at(i * slot);
      checksum.add(cursor.id, cursor.price, cursor.qty, cursor.symbol);
    }
  };
  const decodeCodec = () => {
    for (let i = 0; i < count; i++) codec.decodeInto(i * slot, checksum);
  };
  encodeCursor();
  return [
    ['structs encode, 40 B: defineRecord cursor (per 4096 records)', encodeCursor, count],
    ['structs encode, 40 B: hand-written typed-array codec (per 4096 records)', encodeCodec, count],
    ['structs decode, 40 B: defineRecord cursor (per 4096 records)', decodeCursor, count],
    ['structs decode, 40 B: hand-written typed-array codec (per 4096 records)', decodeCodec, count],
  ];
}

/**
 * The reference for the per-record floor: a framed SPSC ring with nothing but the work every such
 * ring does (same layout: 8-byte header, 8-aligned slots, 1 MiB data area, head/tail words, 32-bit
 * wrapping positions). `checked` adds what shmring checks per record and nothing else: the
 * writer's length/type and room tests, the reader's tail, length, type, bounds and below-tail
 * tests (FORMAT.md §5). Its constants are closure constants, which the compiler folds; a library
 * object's fields are loads.
 */
function minimalFramedRing(records, payload, checked) {
  const capacity = 1 << 20;
  const mask = capacity - 1;
  const maxRecordLength = 4096;
  const control = new Int32Array(new SharedArrayBuffer(128));
  const data = new Uint8Array(new SharedArrayBuffer(capacity));
  const words = new Int32Array(data.buffer);
  const TAIL = 16;
  const HEAD = 0;
  let tail = 0;
  let head = 0;
  let cachedHead = 0;
  return () => {
    const length = payload.length;
    const type = 1;
    const slot = (length + 8 + 7) & ~7;
    for (let i = 0; i < records; i++) {
      if (checked) {
        if (!(length >= 0 && length <= maxRecordLength) || (type & 0xffff) !== type) throw new Error('bad record');
        if (capacity - ((tail - cachedHead) | 0) < slot + 8) {
          cachedHead = Atomics.load(control, HEAD);
          if (capacity - ((tail - cachedHead) | 0) < slot + 8) throw new Error('minimal ring full');
        }
      }
      let offset = tail & mask;
      if (capacity - offset < slot) {
        tail = (tail + capacity - offset) | 0; // the wrap, without a padding record (the reader does the same)
        offset = 0;
      }
      data.set(payload, offset + 8);
      words[offset >> 2] = length;
      words[(offset >> 2) + 1] = type;
      tail = (tail + slot) | 0; // 32-bit wrapping positions, as the ring's (and as the Int32Array stores them)
    }
    Atomics.store(control, TAIL, tail);
    const end = Atomics.load(control, TAIL);
    if (checked && (((end - head) | 0) < 0 || ((end - head) | 0) > capacity || (end & 7) !== 0)) throw new Error('bad tail');
    let read = 0;
    while (head !== end) {
      let offset = head & mask;
      if (capacity - offset < slot) {
        head = (head + capacity - offset) | 0;
        offset = 0;
      }
      const recordLength = words[offset >> 2];
      const recordType = words[(offset >> 2) + 1];
      const recordSlot = (recordLength + 8 + 7) & ~7;
      if (checked && (recordLength < 0 || recordLength > maxRecordLength || (recordType & 0xffff) !== recordType || offset + 8 + recordLength > capacity || ((end - head) | 0) < recordSlot)) {
        throw new Error('corrupt record');
      }
      touchHandler(recordType, data, offset + 8, recordLength);
      head = (head + recordSlot) | 0;
      read++;
    }
    Atomics.store(control, HEAD, head);
    if (read !== records) throw new Error('minimal ring lost records');
  };
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
