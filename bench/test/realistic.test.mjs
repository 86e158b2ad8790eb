/**
 * The realistic-workload suites (structs, csv, log): their floors, their report tables, and the
 * workload code every contender shares (codecs, checksum, CSV parser), checked against the
 * library's typed-record cursor and, where the Go CLI and the addon are built, against Go.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createRing, RingConsumer, RingProducer, defineRecord } from '../../dist/index.js';
import { machineInfo, toCases } from '../harness.mjs';
import { SUITES, parseOptions } from '../lib/args.mjs';
import { goCli, ringFiles, shmName } from '../lib/availability.mjs';
import { buildResults, checkFloors, microFloors, renderMarkdown, validateResults } from '../lib/report.mjs';
import { Aggregate, TRADE_SIZE, TRADE_SPEC, TradeCodec, generateCsv, parseLine, referenceAggregate, symbolName } from '../suites/csv-app.mjs';
import {
  ID_BASE,
  STRUCT_SIZE,
  STRUCT_SPEC,
  StructChecksum,
  StructCodec,
  checkChecksum,
  expectedChecksum,
  priceOf,
  qtyOf,
  symbolOf,
} from '../suites/structs-records.mjs';

const at = (suite, transport, recordSize, ratios) => ({ suite, transport, recordSize, recordsPerSec: 1e6, bytesPerSec: 1e6 * recordSize, ratios });

test('the new suites are registered and part of the default (and --quick) run', () => {
  for (const suite of ['structs', 'csv', 'log']) {
    assert.ok(SUITES.includes(suite), suite);
    assert.ok(parseOptions(['--quick']).suites.includes(suite), suite);
    assert.deepEqual(parseOptions(['--suite', suite]).suites, [suite]);
  }
});

test('issue 13 floors: batch paths, structs, CSV, log and Node <-> Go 64 B, from same-round ratios', () => {
  const cases = [
    at('inproc', 'shmring-batch', 64, { 'postMessage-batch': 1.6, 'ringbuf.js': 3.9 }),
    at('structs', 'shmring-typed', 40, { postMessage: 60, 'postMessage-batch': 1.2, 'ringbuf.js': 5 }),
    at('structs', 'shmring-typed-batch', 40, { postMessage: 70, 'postMessage-batch': 1.4 }),
    at('structs', 'node->go-ringfile-typed', 40, { 'node->go-socket-batched-typed': 2.5 }),
    at('structs', 'node->go-ringfile-typed-batch', 40, { 'node->go-socket-batched-typed': 1.9 }),
    at('csv', 'rings', 30, { 'postMessage-batch': 1.1, 'postMessage-line': 40 }),
    at('csv', 'rings-batch', 30, { 'postMessage-batch': 0.9 }),
    at('csv', 'runPipeline', 30, { rings: 1.1, 'postMessage-batch': 1.1 }),
    at('pipeline', 'shmring-pipeline-batch', 64, { 'shmring-pipeline': 3, 'piscina-tasks-batched': 4 }),
    at('log', 'ringfile', 128, { writeSync: 8, 'buffered-64k': 1.4 }),
    at('xlang', 'node->go-ringfile', 64, { 'node->go-socket-batched': 1.8 }),
    at('xlang', 'go->node-ringfile', 64, { 'go->node-socket-batched': 2.2 }),
    at('xlang', 'node->go-ringfile-batch', 64, { 'node->go-socket-batched': 2.1 }),
  ];
  const byName = Object.fromEntries(checkFloors(cases).map((f) => [f.name, f]));
  const expect = (name, suite, value, threshold, met) => {
    const f = byName[name];
    assert.ok(f, name);
    assert.deepEqual([f.suite, f.value, f.threshold, f.unit, f.met], [suite, value, threshold, 'x', met], name);
  };
  expect('64 B shmring-batch (batch path) vs postMessage-batch', 'inproc', 1.6, 1.5, true);
  expect('64 B shmring-batch (batch path) vs ringbuf.js', 'inproc', 3.9, 4, false);
  expect('40 B structs, shmring-typed (typed encode in place) vs postMessage per object', 'structs', 60, 50, true);
  expect('40 B structs, shmring-typed (typed encode in place) vs postMessage-batch (same encode)', 'structs', 1.2, 1.3, false);
  expect('40 B structs, shmring-typed-batch (typed encode in place) vs postMessage per object', 'structs', 70, 50, true);
  expect('40 B structs, shmring-typed-batch (typed encode in place) vs postMessage-batch (same encode)', 'structs', 1.4, 1.3, true);
  expect('Node -> Go 40 B structs, node->go-ringfile-typed vs batched Unix socket', 'structs', 2.5, 2, true);
  expect('Node -> Go 40 B structs, node->go-ringfile-typed-batch vs batched Unix socket', 'structs', 1.9, 2, false);
  expect('CSV app, rings vs batched postMessage', 'csv', 1.1, 1, true);
  expect('CSV app, rings-batch (batch paths) vs batched postMessage', 'csv', 0.9, 1, false);
  expect('CSV app, runPipeline vs hand-wired rings (issue 14)', 'csv', 1.1, 1, true);
  expect('CSV app, runPipeline vs batched postMessage (issue 14)', 'csv', 1.1, 1.2, false);
  expect('3-stage pipeline 64 B, shmring-pipeline-batch vs the 0.1 configuration (issue 14)', 'pipeline', 3, 2.5, true);
  expect('3-stage pipeline 64 B, shmring-pipeline-batch vs piscina 256 records per task (issue 14)', 'pipeline', 4, 5, false);
  expect('log 128 B appends, ringfile vs fs.writeSync per record', 'log', 8, 6, true);
  expect('log 128 B appends, ringfile vs 64 KiB buffered writer', 'log', 1.4, 1.5, false);
  expect('Node -> Go 64 B node->go-ringfile vs batched Unix socket (issue 13)', 'xlang', 1.8, 2, false);
  expect('Go -> Node 64 B go->node-ringfile vs batched Unix socket (issue 13)', 'xlang', 2.2, 2, true);
  expect('Node -> Go 64 B node->go-ringfile-batch vs batched Unix socket (issue 13)', 'xlang', 2.1, 2, true);
  // The earlier 1.5x Node -> Go floor stays beside the issue 13 one.
  assert.equal(byName['Node -> Go 64 B ring file vs batched Unix socket'].met, true);
  // A prefault contender, when it ran, gets its own two floors.
  const prefault = checkFloors([at('log', 'ringfile-prefault', 128, { writeSync: 20, 'buffered-64k': 2 })]).map((f) => [f.name, f.met]);
  assert.deepEqual(prefault, [
    ['log 128 B appends, ringfile-prefault vs fs.writeSync per record', true],
    ['log 128 B appends, ringfile-prefault vs 64 KiB buffered writer', true],
  ]);
  // Nothing is checked without the peer, or for a failed case.
  assert.deepEqual(checkFloors([at('structs', 'shmring-typed', 40, { 'ringbuf.js': 5 })]), []);
  assert.deepEqual(checkFloors([{ ...at('csv', 'rings', 30, { 'postMessage-batch': 2 }), error: 'boom' }]), []);
});

test('issue 13 micro floor: per-record cost against the minimal framed ring of the same run, a ceiling', () => {
  const micro = [
    { name: 'tryWrite + poll, 64 B (4096 records per op)', nsPerOp: 4096 * 55, recordsPerOp: 4096 },
    { name: 'batch(): claim + set, then batch() next() + release, 64 B (4096 records per op)', nsPerOp: 4096 * 48, recordsPerOp: 4096 },
    { name: 'minimal framed ring: set + 2 header words, then read, 64 B (4096 records per op)', nsPerOp: 4096 * 44, recordsPerOp: 4096 },
  ];
  const floors = microFloors(micro);
  assert.deepEqual(
    floors.map((f) => [f.suite, f.value.toFixed(3), f.threshold, f.atMost, f.met]),
    [
      ['micro', (55 / 44).toFixed(3), 1.2, true, false],
      ['micro', (48 / 44).toFixed(3), 1.2, true, true],
    ],
  );
  assert.deepEqual(microFloors(micro.slice(0, 2)), [], 'no reference, no floor');
  assert.deepEqual(microFloors(undefined), []);
});

test('the log suite reports throughput with ratios and per-append latency, both tables', () => {
  const state = (transport, rates, latency) => ({
    contender: { transport, recordSize: 128 },
    count: 1000,
    samples: rates.map((recordsPerSec, round) => ({ round, recordsPerSec, bytesPerSec: recordsPerSec * 128, heapGrowthBytes: 0, rssBytes: 1 << 26, latency })),
  });
  const cases = toCases('log', [state('writeSync', [2e5, 3e5], [4, 5, 6, 50]), state('ringfile', [2e6, 2.4e6], [0.1, 0.2, 0.3, 40])]);
  const doc = buildResults({
    machine: machineInfo(),
    options: { quick: true, suites: ['log'], sizes: [64], rounds: 2, targetMs: 40 },
    suites: { log: { status: 'ok', notes: [] } },
    cases,
    extras: {},
  });
  assert.deepEqual(validateResults(doc), []);
  const ring = doc.cases.find((c) => c.transport === 'ringfile');
  assert.equal(ring.ratios.writeSync, 9);
  assert.equal(ring.latency.p50, 0.2);
  const markdown = renderMarkdown(doc, { command: 'node bench/run.mjs --suite log', suiteInfo: {}, charts: [] });
  assert.match(markdown, /\| ringfile \| 128 B \| 2\.20 M \|/);
  assert.match(markdown, /\| transport \| record \| appends\/s \| p50 µs/);
  assert.match(markdown, /row ÷ column/);
  assert.match(markdown, /\| log \| log 128 B appends, ringfile vs fs\.writeSync per record \| 9\.00x \| >= 6x \| met \|/);
});

test('structs: the hand-written codec and the typed cursor write the same bytes and fold the same checksum', () => {
  const count = 3000;
  const plain = new Uint8Array(new ArrayBuffer(count * STRUCT_SIZE));
  const codec = new StructCodec(plain);
  const layout = defineRecord(STRUCT_SPEC);
  assert.equal(layout.size, STRUCT_SIZE);
  const viaCursor = new Uint8Array(new ArrayBuffer(count * STRUCT_SIZE));
  const cursor = layout.cursor(viaCursor);
  for (let i = 0; i < count; i++) {
    codec.encode(i * STRUCT_SIZE, ID_BASE + i, priceOf(i), qtyOf(i), symbolOf(i));
    cursor.at(i * STRUCT_SIZE);
    cursor.id = ID_BASE + i;
    cursor.price = priceOf(i);
    cursor.qty = qtyOf(i);
    cursor.symbol = symbolOf(i);
  }
  assert.deepEqual(viaCursor, plain);
  const fromCodec = new StructChecksum();
  const fromCursor = new StructChecksum();
  for (let i = 0; i < count; i++) {
    codec.decodeInto(i * STRUCT_SIZE, fromCodec);
    cursor.at(i * STRUCT_SIZE);
    fromCursor.add(cursor.id, cursor.price, cursor.qty, cursor.symbol);
  }
  checkChecksum('codec', fromCodec.result(), count);
  checkChecksum('cursor', fromCursor.result(), count);
  // The tables reach both ends of the symbol field: 20-character symbols exist.
  assert.ok(Array.from({ length: 64 }, (_, i) => symbolOf(i).length).includes(20));
});

test('structs: the checksum notices a skipped, reordered or altered record', () => {
  const fold = (order, tweak = () => {}) => {
    const sum = new StructChecksum();
    for (const i of order) {
      const fields = { id: ID_BASE + i, price: priceOf(i), qty: qtyOf(i), symbol: symbolOf(i) };
      tweak(i, fields);
      sum.add(fields.id, fields.price, fields.qty, fields.symbol);
    }
    return sum.result();
  };
  const order = Array.from({ length: 100 }, (_, i) => i);
  assert.doesNotThrow(() => checkChecksum('all', fold(order), 100));
  assert.throws(() => checkChecksum('skipped', fold(order.filter((i) => i !== 50).concat([100])), 100), /checksum/);
  assert.throws(() => checkChecksum('swapped', fold([1, 0, ...order.slice(2)]), 100), /checksum/);
  for (const field of ['id', 'price', 'qty', 'symbol']) {
    const altered = fold(order, (i, f) => {
      if (i === 7) f[field] = field === 'symbol' ? `${f.symbol}X`.slice(-20) : f[field] + 1;
    });
    assert.throws(() => checkChecksum(field, altered, 100), /checksum/, field);
  }
});

test('structs: Go bench-consume --layout decodes TS-encoded records into the same checksum', async (t) => {
  const rings = await ringFiles();
  const cli = goCli();
  if (!rings.available || !cli.available) return t.skip(`needs the addon and the Go CLI (${rings.reason ?? cli.reason})`);
  const { RingFile } = rings;
  const count = 20_000;
  const filePath = shmName(RingFile, 'structs-test');
  // Capacity for every record: the Go consumer starts after the producer ended the stream.
  const file = RingFile.create(filePath, { capacity: 1 << 20, maxRecordLength: STRUCT_SIZE });
  try {
    const producer = file.producer({ publish: 'auto' });
    const cursor = defineRecord(STRUCT_SPEC).cursor(producer.data);
    for (let i = 0; i < count; i++) {
      const offset = producer.tryClaim(STRUCT_SIZE, 1);
      assert.ok(offset >= 0);
      cursor.at(offset);
      cursor.id = ID_BASE + i;
      cursor.price = priceOf(i);
      cursor.qty = qtyOf(i);
      cursor.symbol = symbolOf(i);
      producer.commit();
    }
    producer.close();
    const run = spawnSync(cli.path, ['bench-consume', filePath, '--layout', STRUCT_SPEC], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout.trim().split('\n').pop());
    const expected = expectedChecksum(count);
    assert.deepEqual({ records: report.records, checksum: report.checksum, floatSum: report.floatSum }, { records: count, checksum: expected.hash, floatSum: expected.priceSum });
    const usage = spawnSync(cli.path, ['bench-consume', filePath, '--layout', 'id:u65'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--layout: .*u65/);
  } finally {
    file.close();
    RingFile.unlink(filePath);
  }
});

test('csv: parser, typed-array codec and cursor agree; the reference aggregate counts every line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-bench-test-'));
  try {
    const file = path.join(dir, 'trades.csv');
    const size = generateCsv(file, 5000, 7);
    const text = fs.readFileSync(file, 'latin1');
    assert.equal(text.length, size);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 5000);
    // Parse with the byte parser, and independently with split/Number: same fields.
    const fields = new Float64Array(4);
    const slow = new Aggregate();
    const buffer = new ArrayBuffer(lines.length * TRADE_SIZE);
    const codec = new TradeCodec(buffer);
    const trade = defineRecord(TRADE_SPEC);
    const viaCursor = new Uint8Array(new ArrayBuffer(lines.length * TRADE_SIZE));
    const cursor = trade.cursor(viaCursor);
    lines.forEach((line, index) => {
      const bytes = Buffer.from(line, 'latin1');
      parseLine(bytes, 0, bytes.length, fields);
      const [symbol, price, qty, ts] = line.split(',');
      assert.deepEqual([symbolName(fields[0]), fields[1], fields[2], fields[3]], [symbol, Math.round(Number(price) * 100) / 100, Number(qty), Number(ts)], line);
      slow.add(fields[0], fields[1], fields[2], fields[3]);
      codec.encode(index, fields);
      cursor.at(index * TRADE_SIZE);
      cursor.ts = fields[3];
      cursor.price = fields[1];
      cursor.qty = fields[2];
      cursor.symbol = fields[0];
    });
    assert.deepEqual(viaCursor, new Uint8Array(buffer));
    const decoded = new Aggregate();
    for (let r = 0; r < lines.length; r++) codec.decodeInto(r, decoded);
    const reference = referenceAggregate(file, Infinity);
    assert.deepEqual(decoded.result(), reference);
    assert.deepEqual(slow.result(), reference);
    assert.equal(reference.lines, 5000);
    assert.equal(reference.rows.reduce((n, row) => n + row[1], 0), lines.reduce((n, line) => n + Number(line.split(',')[2]), 0));
    assert.equal(referenceAggregate(file, 1234).lines, 1234);
    assert.throws(() => parseLine(Buffer.from('AB,1.00,5,'), 0, 10, fields), /malformed/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the ring carries the typed trade records a cursor wrote, in order', () => {
  const sab = createRing({ capacity: 64 * 1024, maxRecordLength: TRADE_SIZE });
  const producer = new RingProducer(sab, { publish: 'auto' });
  const consumer = new RingConsumer(sab);
  const trade = defineRecord(TRADE_SPEC);
  const write = trade.cursor(producer.data);
  const read = trade.cursor(consumer.data);
  const aggregate = new Aggregate();
  const expected = new Aggregate();
  // Many laps of a small ring: the cursor works at every position a payload can take.
  for (let i = 0; i < 20_000; i++) {
    const fields = [1 + (i % 300), 1 + (i % 997) / 100, 1 + (i % 50), 1_700_000_000_000 + i];
    expected.add(...fields);
    const offset = producer.tryClaim(TRADE_SIZE, 1);
    assert.ok(offset >= 0);
    write.at(offset);
    [write.symbol, write.price, write.qty, write.ts] = fields;
    producer.commit();
    producer.flush();
    consumer.poll((_type, _data, payload) => {
      read.at(payload);
      aggregate.add(read.symbol, read.price, read.qty, read.ts);
    });
  }
  assert.deepEqual(aggregate.result(), expected.result());
});

test('log: the prefault contender runs only when RingFile.create honours prefault', async (t) => {
  const { prefaultSupported } = await import('../suites/log.mjs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-bench-test-'));
  try {
    const refusing = {
      create: () => {
        throw new Error('unknown option');
      },
    };
    assert.equal(prefaultSupported(refusing, dir), false);
    // A create that names the option is taken at its word.
    assert.equal(prefaultSupported({ create: (file, { prefault }) => ({ prefault, file }) }, dir), true);
    // Otherwise by behaviour: writes that take no page faults.
    const noFaults = { create: () => ({ producer: () => ({ tryWrite: () => true, close() {} }), close() {} }) };
    assert.equal(prefaultSupported(noFaults, dir), true);
    const rings = await ringFiles();
    if (!rings.available) return t.skip(rings.reason);
    // The real ring file with the option dropped: its first writes fault, so no prefault contender.
    const ignoring = { create: (file, { capacity, maxRecordLength }) => rings.RingFile.create(file, { capacity, maxRecordLength }) };
    assert.equal(prefaultSupported(ignoring, dir), false);
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
