#!/usr/bin/env node
/**
 * Per-record cost of the ring's single-record and batch paths against a minimal framed ring, one
 * thread, 64 B records: each pass writes 4096 records, then reads them all back. Every variant runs
 * 3000 passes interleaved with the others, and the figure is the fastest pass (ns per record): the
 * cost with the code hot and the caches warm, which is what the bookkeeping adds, with the least
 * noise from the host. (bench/micro.mjs measures the same cases with benchmark.js means.)
 *
 *   node bench/per-record.mjs [--passes N]
 *
 * Variants: the minimal ring (the copy, two header words, one tail and one head store per pass);
 * the same with shmring's record checks (length/type/room on write; tail, length, type, bounds,
 * below-tail on read); tryWrite + poll; batch() claim + Uint8Array#set + batch() next().
 */
import { RingConsumer, RingProducer, createRing } from '../dist/index.js';

const passesArg = process.argv.indexOf('--passes');
const PASSES = passesArg > 0 ? Number(process.argv[passesArg + 1]) : 3000;
const RECORDS = 4096;
const CAPACITY = 1 << 20;
const MASK = CAPACITY - 1;
const MAX = 4096;
const payload = new Uint8Array(64).fill(7);
let sink = 0;

function touchHandler(type, data, offset, length) {
  let sum = 0;
  for (let i = offset; i < offset + length; i += 64) sum += data[i];
  sink += sum + data[offset + length - 1] + type;
}

function minimalRing(checked) {
  const control = new Int32Array(new SharedArrayBuffer(128));
  const data = new Uint8Array(new SharedArrayBuffer(CAPACITY));
  const words = new Int32Array(data.buffer);
  let tail = 0;
  let head = 0;
  let cachedHead = 0;
  const write = () => {
    const length = payload.length;
    const slot = (length + 15) & ~7;
    for (let i = 0; i < RECORDS; i++) {
      if (checked) {
        if (!(length >= 0 && length <= MAX)) throw new Error('bad record');
        if (CAPACITY - ((tail - cachedHead) | 0) < slot + 8) {
          cachedHead = Atomics.load(control, 0);
          if (CAPACITY - ((tail - cachedHead) | 0) < slot + 8) throw new Error('full');
        }
      }
      let offset = tail & MASK;
      if (CAPACITY - offset < slot) {
        tail = (tail + CAPACITY - offset) | 0;
        offset = 0;
      }
      data.set(payload, offset + 8);
      words[offset >> 2] = length;
      words[(offset >> 2) + 1] = 1;
      tail = (tail + slot) | 0;
    }
    Atomics.store(control, 16, tail);
  };
  const read = () => {
    const end = Atomics.load(control, 16);
    if (checked && (((end - head) | 0) < 0 || ((end - head) | 0) > CAPACITY || (end & 7) !== 0)) throw new Error('bad tail');
    while (head !== end) {
      let offset = head & MASK;
      if (CAPACITY - offset < 72) {
        head = (head + CAPACITY - offset) | 0;
        offset = 0;
      }
      const length = words[offset >> 2];
      const type = words[(offset >> 2) + 1];
      const slot = (length + 15) & ~7;
      if (checked && (length < 0 || length > MAX || (type & 0xffff) !== type || offset + 8 + length > CAPACITY || ((end - head) | 0) < slot)) throw new Error('corrupt');
      touchHandler(type, data, offset + 8, length);
      head = (head + slot) | 0;
    }
    Atomics.store(control, 0, head);
  };
  return { write, read };
}

function ring() {
  const sab = createRing({ capacity: CAPACITY, maxRecordLength: MAX });
  const producer = new RingProducer(sab);
  const consumer = new RingConsumer(sab);
  return {
    single: {
      write() {
        for (let i = 0; i < RECORDS; i++) producer.tryWrite(payload, 1);
        producer.flush();
      },
      read() {
        if (consumer.poll(touchHandler) !== RECORDS) throw new Error('poll lost records');
      },
    },
    batch: {
      write() {
        const batch = producer.batch();
        const data = batch.data;
        for (let i = 0; i < RECORDS; i++) data.set(payload, batch.claim(64, 1));
        batch.publish();
      },
      read() {
        const batch = consumer.batch();
        while (batch.next()) touchHandler(batch.type, batch.data, batch.offset, batch.length);
        if (batch.release() !== RECORDS) throw new Error('batch lost records');
      },
    },
  };
}

const rings = ring();
const variants = {
  'minimal framed ring': minimalRing(false),
  'minimal ring + shmring checks': minimalRing(true),
  'tryWrite + poll': rings.single,
  'batch() claim + set / batch() next()': rings.batch,
};
const best = Object.fromEntries(Object.keys(variants).map((name) => [name, { write: Infinity, read: Infinity }]));
const time = (fn) => {
  const start = performance.now();
  fn();
  return ((performance.now() - start) * 1e6) / RECORDS;
};
for (let pass = 0; pass < PASSES; pass++) {
  for (const [name, variant] of Object.entries(variants)) {
    best[name].write = Math.min(best[name].write, time(variant.write));
    best[name].read = Math.min(best[name].read, time(variant.read));
  }
}
const reference = best['minimal framed ring'].write + best['minimal framed ring'].read;
console.log(`Node ${process.version}, ${PASSES} passes of ${RECORDS} records of 64 B; fastest pass, ns per record`);
console.log('| variant | write | read | total | vs minimal |');
console.log('|---|---|---|---|---|');
for (const [name, { write, read }] of Object.entries(best)) {
  console.log(`| ${name} | ${write.toFixed(1)} | ${read.toFixed(1)} | ${(write + read).toFixed(1)} | ${((write + read) / reference).toFixed(2)}x |`);
}
if (sink === 0.5) console.log('');
