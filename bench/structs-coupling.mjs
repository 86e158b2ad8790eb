#!/usr/bin/env node
/**
 * What bounds the `structs` suite across two threads: the main thread produces 5 M records of the
 * suite's struct (id:u64, price:f64, qty:u32, symbol:utf8[20]) through `producer.batch()` into a
 * 4 MiB ring, a worker consumes them through `consumer.batch()`. Each side either does its field
 * work (the cursor encodes every field / decodes every field into the checksum) or only the ring's
 * bookkeeping (claims / steps over), so the four pairings separate each side's cost from what the
 * two cores share. Records per second, main thread's start to the worker's last record; three
 * repetitions per pairing, interleaved.
 *
 *   node bench/structs-coupling.mjs [--records N]
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { RingConsumer, RingProducer, createRing, defineRecord } from '../dist/index.js';
import { STRUCT_SPEC, StructChecksum, decodeRingBatch, encodeRingBatch } from './suites/structs-records.mjs';

const layout = defineRecord(STRUCT_SPEC);
const STALL_MS = 30_000;
const SPIN = 2000;

if (isMainThread) {
  const recordsArg = process.argv.indexOf('--records');
  const RECORDS = recordsArg > 0 ? Number(process.argv[recordsArg + 1]) : 5_000_000;
  const pairings = [
    ['encode', 'decode'],
    ['encode', 'step'],
    ['claim', 'decode'],
    ['claim', 'step'],
  ];
  const rates = new Map(pairings.map((pair) => [pair.join(' -> '), []]));
  for (let repetition = 0; repetition < 3; repetition++) {
    for (const [produce, consume] of pairings) {
      const sab = createRing({ capacity: 4 << 20, maxRecordLength: 64 });
      const worker = new Worker(new URL(import.meta.url), { workerData: { sab, consume } });
      await new Promise((resolve) => worker.once('message', resolve));
      const producer = new RingProducer(sab, { spin: SPIN });
      const cursor = layout.cursor(producer.data);
      const encode = (i, end) => encodeRingBatch(producer, cursor, i, end);
      const claim = (i, end) => {
        const batch = producer.batch();
        while (i < end && batch.claim(layout.size, 1) >= 0) i++;
        batch.publish();
        return i;
      };
      const write = produce === 'encode' ? encode : claim;
      const done = new Promise((resolve) => worker.once('message', resolve));
      const started = performance.now();
      for (let i = 0; i < RECORDS; ) {
        const next = write(i, Math.min(RECORDS, i + 1024));
        if (next === i) {
          if (producer.claimSync(layout.size, 1, STALL_MS) < 0) throw new Error(`ring full for ${STALL_MS} ms`);
          producer.abort();
        }
        i = next;
      }
      producer.close();
      const { count, endedAt } = await done;
      if (count !== RECORDS) throw new Error(`the worker read ${count} of ${RECORDS} records`);
      rates.get(`${produce} -> ${consume}`).push(RECORDS / (endedAt - performance.timeOrigin - started) / 1000);
      await worker.terminate();
    }
  }
  console.log(`Node ${process.version}, ${RECORDS} records of 40 B per run, main thread -> worker, 3 runs each (interleaved)`);
  console.log('| producer -> consumer | M records/s (runs) |');
  console.log('|---|---|');
  for (const [pair, runs] of rates) console.log(`| ${pair} | ${runs.map((rate) => rate.toFixed(1)).join(' / ')} |`);
} else {
  const consumer = new RingConsumer(workerData.sab, { spin: SPIN });
  const cursor = layout.cursor(consumer.data);
  const checksum = new StructChecksum();
  let stepped = 0;
  const decode = () => decodeRingBatch(consumer, cursor, checksum);
  const step = () => {
    const batch = consumer.batch();
    while (batch.next());
    const released = batch.release();
    stepped += released;
    return released;
  };
  const read = workerData.consume === 'decode' ? decode : step;
  const one = () => stepped++;
  const decodeOne = (_type, _data, offset) => {
    cursor.at(offset);
    checksum.add(cursor.id, cursor.price, cursor.qty, cursor.symbol);
  };
  parentPort.postMessage('ready');
  for (;;) {
    if (read() > 0) continue;
    // Nothing published: wait (spin, then park) for one record, taken through poll.
    if (consumer.pollSync(workerData.consume === 'decode' ? decodeOne : one, 1, STALL_MS) === 0) {
      if (consumer.ended) break;
      throw new Error(`no record for ${STALL_MS} ms`);
    }
  }
  parentPort.postMessage({ count: workerData.consume === 'decode' ? checksum.count : stepped, endedAt: performance.timeOrigin + performance.now() });
}
