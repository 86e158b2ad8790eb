import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibratedCount, latencyPercentiles, rateSettled, median, pairedRatio, percentileSorted, rotation, summarize, toCases } from '../harness.mjs';

test('median of odd and even counts, unsorted input left alone', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  const input = [5, 1, 4];
  median(input);
  assert.deepEqual(input, [5, 1, 4]);
  assert.throws(() => median([]), RangeError);
});

test('summarize gives median and range', () => {
  assert.deepEqual(summarize([10, 30, 20, 50]), { median: 25, min: 10, max: 50, n: 4 });
  assert.throws(() => summarize([]), RangeError);
});

test('nearest-rank percentiles', () => {
  const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentileSorted(sorted, 50), 500);
  assert.equal(percentileSorted(sorted, 99), 990);
  assert.equal(percentileSorted(sorted, 99.9), 999);
  assert.equal(percentileSorted(sorted, 100), 1000);
  assert.equal(percentileSorted([42], 99.9), 42);
  assert.equal(percentileSorted([1, 2], 50), 1);
  assert.throws(() => percentileSorted([1], 0), RangeError);
  assert.throws(() => percentileSorted([], 50), RangeError);
  const p = latencyPercentiles([5, 1, 4, 2, 3]);
  assert.deepEqual([p.p50, p.p99, p.max, p.samples], [3, 5, 5, 5]);
});

test('paired ratio is the median of per-round ratios', () => {
  // Round 2 is "far placement" for both: the per-round ratios are 2, 2, 2.
  assert.equal(pairedRatio([20, 4, 20], [10, 2, 10]), 2);
  // Ratio of medians would say 5 / 1 here; pairing says 3.
  assert.equal(pairedRatio([3, 5, 30], [1, 1, 10]), 3);
  // Unequal lengths fall back to the ratio of medians.
  assert.equal(pairedRatio([4, 6], [1, 2, 3]), 2.5);
  assert.throws(() => pairedRatio([], [1]), RangeError);
});

test('rotation runs each contender first once per n rounds', () => {
  assert.deepEqual(rotation(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
  assert.deepEqual(rotation(['a', 'b', 'c'], 1), ['b', 'c', 'a']);
  assert.deepEqual(rotation(['a', 'b', 'c'], 5), ['c', 'a', 'b']);
  assert.deepEqual(rotation([], 3), []);
});

test('warm-up settles only when two successive rates agree within the tolerance', () => {
  assert.equal(rateSettled(0, 100), false);
  assert.equal(rateSettled(100, 109), true);
  assert.equal(rateSettled(100, 91), true);
  assert.equal(rateSettled(100, 111), false);
  assert.equal(rateSettled(100, 150, 0.6), true);
});

test('calibrated count scales to the target and respects bounds', () => {
  assert.equal(calibratedCount(1000, 10, 100, 1, 1e9), 10_000);
  assert.equal(calibratedCount(1000, 10, 100, 1, 5000), 5000);
  assert.equal(calibratedCount(1000, 1e6, 100, 16, 1e9), 16);
  assert.ok(Number.isFinite(calibratedCount(1000, 0, 100, 1, 1e9)));
});

test('toCases: medians, ranges, paired ratios per size, heap and RSS, failures kept', () => {
  const state = (transport, recordSize, rates, extra = {}) => ({
    contender: { transport, recordSize },
    count: 100,
    samples: rates.map((recordsPerSec, round) => ({
      round,
      recordsPerSec,
      bytesPerSec: recordsPerSec * recordSize,
      heapGrowthBytes: 1000 * (round + 1),
      rssBytes: 5e6 + round,
    })),
    ...extra,
  });
  const cases = toCases('inproc', [
    state('a', 64, [20, 10, 30]),
    state('b', 64, [10, 5, 10]),
    state('c', 4096, [1, 2, 3]),
    state('d', 64, [], { error: 'boom' }),
  ]);
  const a = cases.find((c) => c.transport === 'a');
  assert.equal(a.recordsPerSec, 20);
  assert.deepEqual(a.recordsPerSecRange, [10, 30]);
  assert.equal(a.bytesPerSec, 20 * 64);
  assert.deepEqual(a.ratios, { b: 2 });
  assert.equal(a.rounds, 3);
  assert.equal(a.heapGrowthBytes, 2000);
  assert.equal(a.rssBytes, 5e6 + 2);
  assert.equal(cases.find((c) => c.transport === 'b').ratios.a, 0.5);
  assert.deepEqual(cases.find((c) => c.transport === 'c').ratios, {});
  assert.equal(cases.find((c) => c.transport === 'd').error, 'boom');
});
