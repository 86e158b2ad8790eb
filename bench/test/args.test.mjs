import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FULL_SIZES, QUICK_SIZES, SUITES, UsageError, parseOptions, parseSize } from '../lib/args.mjs';

test('defaults: every suite, the full size sweep, 7 rounds', () => {
  const options = parseOptions([]);
  assert.deepEqual(options.suites, SUITES);
  assert.deepEqual(options.sizes, FULL_SIZES);
  assert.equal(options.rounds, 7);
  assert.equal(options.quick, false);
  assert.equal(options.json, undefined);
  assert.equal(options.charts, true);
});

test('--quick shortens sizes, rounds and trials', () => {
  const options = parseOptions(['--quick']);
  assert.deepEqual(options.sizes, QUICK_SIZES);
  assert.equal(options.rounds, 3);
  assert.ok(options.targetMs < parseOptions([]).targetMs);
});

test('--suite takes a comma list and repeats, de-duplicated, in order', () => {
  assert.deepEqual(parseOptions(['--suite', 'inproc,latency']).suites, ['inproc', 'latency']);
  assert.deepEqual(parseOptions(['--suite', 'xproc', '--suite', 'inproc,xproc']).suites, ['xproc', 'inproc']);
  assert.deepEqual(parseOptions(['--suite=micro']).suites, ['micro']);
});

test('unknown suites, bad rounds and unknown flags are usage errors', () => {
  assert.throws(() => parseOptions(['--suite', 'inproc,nope']), UsageError);
  assert.throws(() => parseOptions(['--suite', ',']), UsageError);
  assert.throws(() => parseOptions(['--rounds', '0']), UsageError);
  assert.throws(() => parseOptions(['--rounds', '2.5']), UsageError);
  assert.throws(() => parseOptions(['--rounds']), UsageError);
  assert.throws(() => parseOptions(['--frobnicate']), UsageError);
  assert.throws(() => parseOptions(['stray']), UsageError);
});

test('--sizes accepts bytes and k/m suffixes, sorts and de-duplicates', () => {
  assert.deepEqual(parseOptions(['--sizes', '4096,64']).sizes, [64, 4096]);
  assert.deepEqual(parseOptions(['--sizes', '8,1k,64KiB,1m,1024']).sizes, [8, 1024, 65536, 1048576]);
  assert.equal(parseSize('4k'), 4096);
  assert.equal(parseSize('1MiB'), 1 << 20);
  assert.equal(parseSize(' 64 '), 64);
  for (const bad of ['0', '-1', 'abc', '1.5k', '17m', '']) assert.throws(() => parseSize(bad), UsageError, bad);
  assert.throws(() => parseOptions(['--sizes', ',']), UsageError);
});

test('--rounds, --json, --out, --target-ms, --transports, --no-charts', () => {
  const options = parseOptions(['--rounds', '9', '--json', 'out.json', '--out', '/tmp/x', '--target-ms', '100', '--transports', 'shmring-batched, ringbuf.js', '--no-charts']);
  assert.equal(options.rounds, 9);
  assert.equal(options.json, 'out.json');
  assert.equal(options.out, '/tmp/x');
  assert.equal(options.targetMs, 100);
  assert.deepEqual(options.transports, ['shmring-batched', 'ringbuf.js']);
  assert.equal(options.charts, false);
  assert.equal(parseOptions(['--quick', '--rounds', '5']).rounds, 5);
});
