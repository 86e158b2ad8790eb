import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FRAME_HEADER, FrameParser, expectedTouch, framesPerWrite, makeFrame, makePayload, parseFrames, recordCounts, recordsPerBatch, ringCapacityFor, touch } from '../lib/workload.mjs';

test('touch reads one byte per 64-byte line and the last byte', () => {
  const data = new Uint8Array(200).fill(1);
  data[0] = 10;
  data[64] = 20;
  data[128] = 30;
  data[192] = 40;
  data[199] = 50;
  assert.equal(touch(data, 0, 200), 10 + 20 + 30 + 40 + 50);
  assert.equal(touch(data, 0, 0), 0);
  assert.equal(expectedTouch(64), touch(makePayload(64), 0, 64));
});

test('frame parsers: every split of a stream of frames yields the same records', () => {
  const frames = [makeFrame(0), makeFrame(5), makeFrame(64), makeFrame(300, 7)];
  const stream = Buffer.concat(frames);
  const expected = frames.map((f) => [f.readUInt32LE(4), f.readUInt32LE(0), touch(f, FRAME_HEADER, f.readUInt32LE(0))]);
  for (let cut = 0; cut <= stream.length; cut++) {
    for (const second of [stream.length, cut + 3]) {
      const seen = [];
      const parser = new FrameParser((type, data, offset, length) => seen.push([type, length, touch(data, offset, length)]));
      parser.push(stream.subarray(0, cut));
      parser.push(stream.subarray(cut, Math.min(second, stream.length)));
      if (second < stream.length) parser.push(stream.subarray(second));
      assert.deepEqual(seen, expected, `cut at ${cut}/${second}`);
    }
  }
  // One byte at a time.
  const seen = [];
  const parser = new FrameParser((type, data, offset, length) => seen.push([type, length, touch(data, offset, length)]));
  for (let i = 0; i < stream.length; i++) parser.push(stream.subarray(i, i + 1));
  assert.deepEqual(seen, expected);
  // Whole-buffer parsing stops at a partial frame and says how far it got.
  const records = [];
  const used = parseFrames(stream, new DataView(stream.buffer, stream.byteOffset, stream.length), stream.length - 1, (t, d, o, l) => records.push(l));
  assert.deepEqual(records, [0, 5, 64]);
  assert.equal(used, frames[0].length + frames[1].length + frames[2].length);
});

test('batch sizes and ring capacities', () => {
  assert.equal(recordsPerBatch(64), 1000);
  assert.equal(recordsPerBatch(4096), 255);
  assert.equal(recordsPerBatch(1 << 20), 1);
  assert.equal(framesPerWrite(64), Math.floor(65536 / 72));
  assert.equal(framesPerWrite(1 << 20), 1);
  assert.equal(ringCapacityFor(64), 4 * 1024 * 1024);
  assert.equal(ringCapacityFor(64, 256 * 1024), 256 * 1024);
  assert.equal(ringCapacityFor(1 << 20), 8 * 1024 * 1024);
});

test('record-count bounds of a framed contender', () => {
  assert.deepEqual(recordCounts(64), { initialCount: 20_000, minCount: 16, maxCount: Math.floor(4 * 2 ** 30 / 72) });
  assert.deepEqual(recordCounts(1 << 20), { initialCount: 16, minCount: 16, maxCount: Math.floor(4 * 2 ** 30 / ((1 << 20) + 8)) });
  assert.equal(recordCounts(4096, { initialRecords: 50_000, initialBytes: 8 << 20 }).initialCount, Math.floor((8 << 20) / 4104));
  assert.equal(recordCounts(8, { maxBytes: 16 * 2 ** 30 }).maxCount, Math.floor(16 * 2 ** 30 / 16));
});
