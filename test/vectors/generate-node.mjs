#!/usr/bin/env node
/**
 * Writes the Node-made test vectors (node-*.ring + node-*.json): rings filled by the library's own
 * RingProducer (and drained in part by its RingConsumer) in a SharedArrayBuffer, then dumped. The
 * expected decoding is what this script wrote and did not consume, tracked here, not decoded back
 * with the library.
 *
 *   npm run build && node test/vectors/generate-node.mjs
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RingConsumer, RingProducer, initializeRing, layout } from '../../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CREATOR_PID = 4243;

function payloadOf(tag, length) {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (tag * 17 + index * 3) & 0xff;
  return bytes;
}

function newRing(capacity, maxRecordLength, position = 0) {
  const buffer = new SharedArrayBuffer(layout.HEADER_LENGTH + capacity);
  initializeRing(buffer, { capacity, maxRecordLength }, CREATOR_PID);
  const words = new Int32Array(buffer, 0, layout.HEADER_LENGTH >> 2);
  // A ring that has carried traffic before: both positions planted before either side attaches.
  words[layout.HEAD_INDEX] = position | 0;
  words[layout.TAIL_INDEX] = position | 0;
  return { buffer, words };
}

function emit(name, description, { buffer, words }, records, ended) {
  const u32 = (index) => words[index] >>> 0;
  writeFileSync(join(here, `${name}.ring`), new Uint8Array(buffer));
  const header = new DataView(buffer, 0, 64);
  const json = {
    description,
    createdBy: 'test/vectors/generate-node.mjs (the TypeScript RingProducer/RingConsumer)',
    file: `${name}.ring`,
    header: { capacity: header.getUint32(16, true), maxRecordLength: header.getUint32(20, true), creatorPid: CREATOR_PID },
    head: u32(layout.HEAD_INDEX),
    tail: u32(layout.TAIL_INDEX),
    producerState: u32(layout.PRODUCER_STATE_INDEX),
    consumerState: u32(layout.CONSUMER_STATE_INDEX),
    records: records.map(({ type, payload }) => ({ type, payload: Buffer.from(payload).toString('hex') })),
    ended,
  };
  writeFileSync(join(here, `${name}.json`), JSON.stringify(json, null, 2) + '\n');
}

/** Writes `count` records of lengths from `lengths` (cycled), returns them. */
function write(producer, count, lengths, firstTag) {
  const written = [];
  for (let index = 0; index < count; index++) {
    const payload = payloadOf(firstTag + index, lengths[index % lengths.length]);
    const type = (firstTag + index) & 0xffff;
    if (!producer.tryWrite(payload, type)) throw new Error(`ring full at record ${index}`);
    written.push({ type, payload });
  }
  producer.flush();
  return written;
}

{
  // Laps of traffic with a consumer keeping up, so padding records sit at the wraps; then a last
  // batch left unread, the producer and consumer both detached (a restartable stream).
  const ring = newRing(1024, 200);
  const producer = new RingProducer(ring.buffer, { publish: 'manual' });
  const consumer = new RingConsumer(ring.buffer);
  for (let lap = 0; lap < 5; lap++) {
    write(producer, 6, [0, 13, 100, 200, 57, 8], lap * 10);
    let read = 0;
    consumer.poll(() => read++);
    if (read !== 6) throw new Error(`read ${read} records, expected 6`);
  }
  const unread = write(producer, 5, [31, 200, 1, 64, 150], 100);
  consumer.close({ detach: true });
  producer.close({ end: false });
  emit('node-stream', 'five laps written and read (padding at the wraps), then five records unread; both sides detached', ring, unread, false);
}
{
  const ring = newRing(512, 128);
  const producer = new RingProducer(ring.buffer, { publish: 'auto' });
  const records = write(producer, 4, [5, 128, 0, 77], 1);
  producer.close();
  emit('node-ended', 'four records, then the producer closed with end of stream (producerState 2)', ring, records, true);
}
{
  const ring = newRing(4096, 1024, 0xfffff000);
  const producer = new RingProducer(ring.buffer, { publish: 'eager' });
  const consumer = new RingConsumer(ring.buffer);
  write(producer, 3, [1000, 1024, 1024], 7);
  consumer.poll(() => {});
  // A claim that would wrap, aborted: FORMAT.md §4 says it writes and moves nothing.
  const before = ring.words[layout.TAIL_INDEX];
  if (producer.tryClaim(1024, 1) < 0) throw new Error('claim failed');
  producer.abort();
  if (ring.words[layout.TAIL_INDEX] !== before) throw new Error('abort moved the tail');
  const unread = write(producer, 4, [1024, 300, 1024, 0], 20);
  consumer.close();
  producer.close();
  emit(
    'node-near-2-32',
    'positions from 2^32 - 4096 across 2^32, an aborted claim at the wrap, four records unread, consumer closed, producer ended',
    ring,
    unread,
    true,
  );
}
