#!/usr/bin/env node
/**
 * One thread, the typed batch loop of the README (`producer.batch()` + a defineRecord cursor
 * writing id:u64, price:f64, qty:u32, symbol:utf8[20]; `consumer.batch()` + a cursor reading every
 * field into the structs suite's checksum), 1024 records per batch, each side in a function called
 * once per batch. Three variants, interleaved, 4 M records each, three repetitions after a warm-up:
 * encode (the consumer only steps over the records), decode (the producer only claims), both.
 * Prints ns per record and the garbage collections V8 ran (perf_hooks 'gc' entries): a u64 or f64
 * accessor that V8 did not inline into the loop boxes its number, one allocation per field.
 *
 *   node bench/typed-batch.mjs [--records N]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { RingConsumer, RingProducer, createRing, defineRecord } from '../dist/index.js';
import { ID_BASE, STRUCT_SPEC, StructChecksum, priceOf, qtyOf, symbolOf } from './suites/structs-records.mjs';

const recordsArg = process.argv.indexOf('--records');
const RECORDS = recordsArg > 0 ? Number(process.argv[recordsArg + 1]) : 4_000_000;
const BATCH = 1024;
const layout = defineRecord(STRUCT_SPEC);
const buffer = createRing({ capacity: 1 << 20, maxRecordLength: 64 });
const producer = new RingProducer(buffer);
const consumer = new RingConsumer(buffer);
const out = layout.cursor(producer.data);
const into = layout.cursor(consumer.data);
const checksum = new StructChecksum();

let collections = 0;
new PerformanceObserver((list) => (collections += list.getEntries().length)).observe({ entryTypes: ['gc'] });

function encodeBatch(i, end) {
  const batch = producer.batch();
  for (let at; i < end && (at = batch.claim(layout.size, 1)) >= 0; i++) {
    out.at(at);
    out.id = ID_BASE + i;
    out.price = priceOf(i);
    out.qty = qtyOf(i);
    out.symbol = symbolOf(i);
  }
  batch.publish();
  return i;
}

function claimBatch(i, end) {
  const batch = producer.batch();
  while (i < end && batch.claim(layout.size, 1) >= 0) i++;
  batch.publish();
  return i;
}

function decodeBatch() {
  const batch = consumer.batch();
  while (batch.next()) {
    into.at(batch.offset);
    checksum.add(into.id, into.price, into.qty, into.symbol);
  }
  return batch.release();
}

function stepBatch() {
  const batch = consumer.batch();
  while (batch.next());
  return batch.release();
}

const variants = {
  'encode (consumer steps over)': [encodeBatch, stepBatch],
  'decode (producer only claims)': [claimBatch, decodeBatch],
  'encode + decode': [encodeBatch, decodeBatch],
};

function run(write, read, count) {
  checksum.reset();
  for (let i = 0; i < count; ) {
    i = write(i, Math.min(count, i + BATCH));
    read();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 30));
for (const [write, read] of Object.values(variants)) run(write, read, 500_000); // warm up
const results = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (let repetition = 0; repetition < 3; repetition++) {
  for (const [name, [write, read]] of Object.entries(variants)) {
    await settle();
    const before = collections;
    const started = performance.now();
    run(write, read, RECORDS);
    const ns = ((performance.now() - started) * 1e6) / RECORDS;
    await settle(); // the gc entries of the run arrive after it
    results[name].push({ ns, collections: collections - before });
  }
}
console.log(`Node ${process.version}, ${RECORDS} records of 40 B per run, 3 runs each (interleaved)`);
console.log('| variant | ns per record (runs) | collections per run |');
console.log('|---|---|---|');
for (const [name, runs] of Object.entries(results)) {
  console.log(`| ${name} | ${runs.map((r) => r.ns.toFixed(1)).join(' / ')} | ${runs.map((r) => r.collections).join(' / ')} |`);
}
