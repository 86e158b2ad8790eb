/**
 * The parse and aggregate stages of the `csv` suite, one worker each. Every stage kind uses the
 * shared parser, codec and aggregate of csv-app.mjs; only the transport differs. The aggregate
 * stage reports its result and the absolute time it folded the last line.
 */
import { RingConsumer, RingProducer, defineRecord } from '../../dist/index.js';
import { serveWorkerTrials } from '../harness.mjs';
import { Aggregate, TRADE_SIZE, TRADE_SPEC, TradeCodec, parseLine, putTrade } from './csv-app.mjs';

const STALL_MS = 30_000;
const NEWLINE = 10;
const trade = defineRecord(TRADE_SPEC);

const finished = (aggregate) => ({ result: aggregate.result(), endedAt: performance.timeOrigin + performance.now() });

/** Polls `consumer` with `handler` until the stream ends. */
function drain(consumer, handler) {
  for (;;) {
    if (consumer.pollSync(handler, Infinity, STALL_MS) > 0) continue;
    if (consumer.ended) return;
    throw new Error(`no record for ${STALL_MS} ms`);
  }
}

/** Rings: one line per record in, one typed trade record (written through a cursor) per line out. */
function parseRing({ lines, out, spin }) {
  const consumer = new RingConsumer(lines, { spin });
  const producer = new RingProducer(out, { publish: 'auto', spin });
  const cursor = trade.cursor(producer.data);
  const fields = new Float64Array(4);
  const onLine = (_type, data, offset, length) => {
    parseLine(data, offset, offset + length, fields);
    let at = producer.tryClaim(TRADE_SIZE, 1);
    if (at < 0) at = producer.claimSync(TRADE_SIZE, 1, STALL_MS);
    if (at < 0) throw new Error(`parse: output ring full for ${STALL_MS} ms`);
    cursor.at(at);
    putTrade(cursor, fields);
    producer.commit();
  };
  return () => {
    drain(consumer, onLine);
    producer.close();
    consumer.close();
    return {};
  };
}

/** The aggregate stage's consumer of typed trades, its cursor, and a poll handler folding each trade. */
function tradeFolder({ trades, spin }) {
  const consumer = new RingConsumer(trades, { spin });
  const cursor = trade.cursor(consumer.data);
  const aggregate = new Aggregate();
  const onTrade = (_type, _data, offset) => {
    cursor.at(offset);
    aggregate.add(cursor.symbol, cursor.price, cursor.qty, cursor.ts);
  };
  return { consumer, cursor, aggregate, onTrade };
}

function aggregateRing(params) {
  const { consumer, aggregate, onTrade } = tradeFolder(params);
  return () => {
    drain(consumer, onTrade);
    const result = finished(aggregate);
    consumer.close();
    return result;
  };
}

/**
 * Runs `read(batch)` over consumer.batch() until the stream ends; when nothing is published, waits
 * (spin, then park) for one record through pollSync with `one` as its handler.
 */
function drainBatches(consumer, read, one) {
  for (;;) {
    const batch = consumer.batch();
    read(batch);
    if (batch.release() > 0) continue;
    if (consumer.pollSync(one, 1, STALL_MS) > 0) continue;
    if (consumer.ended) return;
    throw new Error(`no record for ${STALL_MS} ms`);
  }
}

/** Rings, batch paths: runs of whole lines in, typed trades claimed in place with producer.batch() out. */
function parseRingBatch({ lines, out, spin }) {
  const consumer = new RingConsumer(lines, { spin });
  const producer = new RingProducer(out, { publish: 'auto', spin });
  const cursor = trade.cursor(producer.data);
  const fields = new Float64Array(4);
  const onRun = (_type, data, offset, length) => {
    const end = offset + length;
    let batch = producer.batch();
    let lineStart = offset;
    for (let i = offset; i < end; i++) {
      if (data[i] !== NEWLINE) continue;
      parseLine(data, lineStart, i, fields);
      lineStart = i + 1;
      let at = batch.claim(TRADE_SIZE, 1);
      if (at < 0) {
        // The output ring is full: publish what is in, wait for room, go on in a new batch.
        batch.publish();
        if (producer.claimSync(TRADE_SIZE, 1, STALL_MS) < 0) throw new Error(`parse: output ring full for ${STALL_MS} ms`);
        producer.abort();
        batch = producer.batch();
        at = batch.claim(TRADE_SIZE, 1);
      }
      cursor.at(at);
      putTrade(cursor, fields);
    }
    batch.publish();
  };
  const readRuns = (batch) => {
    while (batch.next()) onRun(batch.type, batch.data, batch.offset, batch.length);
  };
  return () => {
    drainBatches(consumer, readRuns, onRun);
    producer.close();
    consumer.close();
    return {};
  };
}

function aggregateRingBatch(params) {
  const { consumer, cursor, aggregate, onTrade } = tradeFolder(params);
  const readTrades = (batch) => {
    while (batch.next()) {
      cursor.at(batch.offset);
      aggregate.add(cursor.symbol, cursor.price, cursor.qty, cursor.ts);
    }
  };
  return () => {
    drainBatches(consumer, readTrades, onTrade);
    const result = finished(aggregate);
    consumer.close();
    return result;
  };
}

/** Batched postMessage: blocks of whole lines in, blocks of up to `perBatch` trade records out. */
function parseBatch({ input, output, perBatch }) {
  const fields = new Float64Array(4);
  return () =>
    new Promise((resolve) => {
      input.on('message', (message) => {
        if (message === null) {
          output.postMessage(null);
          input.close();
          output.close();
          resolve({});
          return;
        }
        const bytes = new Uint8Array(message);
        let buffer = new ArrayBuffer(perBatch * TRADE_SIZE);
        let codec = new TradeCodec(buffer);
        let records = 0;
        let lineStart = 0;
        for (let i = 0; i < bytes.length; i++) {
          if (bytes[i] !== NEWLINE) continue;
          parseLine(bytes, lineStart, i, fields);
          lineStart = i + 1;
          codec.encode(records++, fields);
          if (records === perBatch) {
            output.postMessage(buffer, [buffer]);
            buffer = new ArrayBuffer(perBatch * TRADE_SIZE);
            codec = new TradeCodec(buffer);
            records = 0;
          }
        }
        if (records > 0) {
          const used = buffer.slice(0, records * TRADE_SIZE);
          output.postMessage(used, [used]);
        }
      });
    });
}

function aggregateBatch({ input }) {
  const aggregate = new Aggregate();
  return () =>
    new Promise((resolve) => {
      input.on('message', (buffer) => {
        if (buffer === null) {
          input.close();
          resolve(finished(aggregate));
          return;
        }
        const codec = new TradeCodec(buffer);
        const records = buffer.byteLength / TRADE_SIZE;
        for (let r = 0; r < records; r++) codec.decodeInto(r, aggregate);
      });
    });
}

/** Per-line postMessage: a Uint8Array per line in, an object per trade out. */
function parseLinePerMessage({ input, output }) {
  const fields = new Float64Array(4);
  return () =>
    new Promise((resolve) => {
      input.on('message', (line) => {
        if (line === null) {
          output.postMessage(null);
          input.close();
          output.close();
          resolve({});
          return;
        }
        parseLine(line, 0, line.length, fields);
        output.postMessage({ symbol: fields[0], price: fields[1], qty: fields[2], ts: fields[3] });
      });
    });
}

function aggregateLinePerMessage({ input }) {
  const aggregate = new Aggregate();
  return () =>
    new Promise((resolve) => {
      input.on('message', (trade) => {
        if (trade === null) {
          input.close();
          resolve(finished(aggregate));
          return;
        }
        aggregate.add(trade.symbol, trade.price, trade.qty, trade.ts);
      });
    });
}

const kinds = { parseRing, aggregateRing, parseRingBatch, aggregateRingBatch, parseBatch, aggregateBatch, parseLinePerMessage, aggregateLinePerMessage };

serveWorkerTrials((params) => {
  const make = kinds[params.kind];
  if (!make) throw new Error(`unknown stage kind ${params.kind}`);
  return make(params);
});
