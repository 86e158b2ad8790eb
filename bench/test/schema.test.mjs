import assert from 'node:assert/strict';
import { test } from 'node:test';
import { machineInfo, toCases } from '../harness.mjs';
import { chartSpecs } from '../lib/charts.mjs';
import { SCHEMA, buildResults, checkFloors, floorBounds, latencyStatements, renderMarkdown, validateResults } from '../lib/report.mjs';

function sampleDoc() {
  const state = (transport, recordSize, rates) => ({
    contender: { transport, recordSize },
    count: 1000,
    samples: rates.map((recordsPerSec, round) => ({ round, recordsPerSec, bytesPerSec: recordsPerSec * recordSize, heapGrowthBytes: 0, rssBytes: 1 << 26 })),
  });
  const cases = toCases('inproc', [
    state('shmring-batched', 64, [30e6, 26e6, 28e6]),
    state('ringbuf.js', 64, [5e6, 6e6, 5e6]),
    state('postMessage', 64, [0.4e6, 0.5e6, 0.4e6]),
    state('shmring-batched', 4096, [2e6, 2.5e6, 3e6]),
    state('memcpy-set', 4096, [15e6, 15e6, 15e6]),
  ]);
  const latency = toCases('latency', [
    {
      contender: { transport: 'ring-thread-spin', recordSize: 64 },
      count: 10,
      samples: [{ round: 0, recordsPerSec: 1e5, bytesPerSec: 64e5, heapGrowthBytes: 0, rssBytes: 1 << 26, latency: [1, 2, 3, 4, 100] }],
    },
  ]);
  return buildResults({
    machine: machineInfo(),
    options: { quick: true, suites: ['inproc', 'latency', 'xlang'], sizes: [64, 4096], rounds: 3, targetMs: 40 },
    suites: { inproc: { status: 'ok', notes: [] }, latency: { status: 'ok', notes: [] }, xlang: { status: 'skipped', reason: 'go-peer/bin/shmring missing' } },
    cases: [...cases, ...latency],
    extras: {},
  });
}

test('a built document validates, with machine info and per-case fields', () => {
  const doc = sampleDoc();
  assert.deepEqual(validateResults(doc), []);
  assert.equal(doc.schema, SCHEMA);
  for (const key of ['cpuModel', 'cores', 'node', 'go', 'date']) assert.ok(key in doc.machine, key);
  const c = doc.cases[0];
  for (const key of ['transport', 'recordSize', 'recordsPerSec', 'bytesPerSec', 'rounds', 'ratios', 'heapGrowthBytes', 'rssBytes']) assert.ok(key in c, key);
  const latency = doc.cases.find((x) => x.suite === 'latency');
  assert.equal(latency.latency.unit, 'us');
  assert.equal(latency.latency.p50, 3);
  assert.equal(latency.latency.p999, 100);
  // Round-trips through JSON unchanged.
  assert.deepEqual(validateResults(JSON.parse(JSON.stringify(doc))), []);
});

test('the validator names what is wrong', () => {
  const doc = sampleDoc();
  doc.schema = 'other';
  doc.cases[0].recordsPerSec = -1;
  delete doc.cases[1].ratios;
  doc.cases[2].recordsPerSecRange = [1, 0];
  doc.suites.xlang.reason = '';
  doc.machine.cores = 0;
  const problems = validateResults(doc).join('\n');
  for (const expected of ['schema', 'cases[0].recordsPerSec', 'cases[1].ratios', 'cases[2].recordsPerSecRange', 'suites.xlang.reason', 'machine.cores']) {
    assert.match(problems, new RegExp(expected.replace(/[[\].]/g, '\\$&')), expected);
  }
  assert.deepEqual(validateResults(null), ['document is not an object']);
});

test('floors: thresholds and ratios from the same run', () => {
  const floors = checkFloors(sampleDoc().cases);
  const byName = Object.fromEntries(floors.map((f) => [f.name, f]));
  assert.equal(byName['64 B batched records/s'].value, 28e6);
  assert.equal(byName['64 B batched records/s'].met, true);
  // Per-round ratios 6, 4.33, 5.6: the median is 5.6 (the ratio of medians would be 5.6 too, by chance).
  assert.equal(byName['64 B batched vs ringbuf.js'].value, 5.6);
  assert.equal(byName['64 B batched vs ringbuf.js'].met, true);
  assert.equal(byName['64 B batched vs postMessage per message'].met, true);
  assert.equal(byName['4 KiB batched bytes/s'].met, true);
  assert.equal(byName['4 KiB batched vs same-run memcpy (Uint8Array#set)'].met, false);
});

test('markdown report has the floors, each suite, skip reasons and ratio tables', () => {
  const doc = sampleDoc();
  const markdown = renderMarkdown(doc, { command: 'node bench/run.mjs --quick', suiteInfo: {}, charts: [] });
  assert.match(markdown, /## Floors/);
  assert.match(markdown, /## Suite inproc/);
  assert.match(markdown, /skipped: go-peer\/bin\/shmring missing/);
  assert.match(markdown, /\| shmring-batched \| 64 B \| 28\.00 M \|/);
  assert.match(markdown, /row ÷ column/);
  assert.match(markdown, /p99\.9 µs/);
});

test('chart specs: throughput per suite with sizes on a log axis, latency percentiles', () => {
  const specs = chartSpecs(sampleDoc().cases);
  assert.deepEqual(specs.map((s) => s.file).sort(), ['inproc-throughput.svg', 'latency-percentiles.svg']);
  const throughput = specs.find((s) => s.file === 'inproc-throughput.svg').spec;
  assert.equal(throughput.hconcat[0].layer[0].encoding.x.scale.type, 'log');
  assert.equal(throughput.data.values.length, 5);
});

test('floor bounds: the same run\'s copy references, stated next to the floors', () => {
  const inproc = (transport, recordSize, recordsPerSec, ratios = {}) => ({ suite: 'inproc', transport, recordSize, recordsPerSec, bytesPerSec: recordsPerSec * recordSize, ratios });
  const lines = floorBounds([
    inproc('memcpy-set-sab', 64, 50e6),
    inproc('memcpy-set', 4096, 15e6),
    inproc('memcpy-set-sab', 4096, 5e6),
    inproc('shmring-batched', 4096, 1e6, { 'memcpy-set-sab': 0.2 }),
  ]);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /20\.0 ns each/);
  // 5 M / 15 M copies of the same size: the SAB copy is a third of the ArrayBuffer copy.
  assert.match(lines[1], /cannot exceed 0\.33x of memcpy-set/);
  assert.match(lines[1], /0\.20x of memcpy-set-sab/);
  assert.deepEqual(floorBounds([]), []);
});

test('pipeline floor: runPipeline vs piscina per-record tasks at 64 B, only when both ran', () => {
  const at = (transport, recordSize, ratios) => ({ suite: 'pipeline', transport, recordSize, recordsPerSec: 1e6, bytesPerSec: 1e6 * recordSize, ratios });
  const name = 'runPipeline vs piscina per-record tasks, 64 B';
  const floors = checkFloors([
    at('shmring-pipeline', 64, { 'piscina-tasks': 12.5, 'piscina-tasks-batched': 0.8 }),
    at('shmring-pipeline', 4096, { 'piscina-tasks': 3 }),
  ]);
  assert.deepEqual(
    floors.map((f) => [f.suite, f.name, f.value, f.threshold, f.unit, f.met]),
    [['pipeline', name, 12.5, 10, 'x', true]],
  );
  assert.equal(checkFloors([at('shmring-pipeline', 64, { 'piscina-tasks': 9 })])[0].met, false);
  assert.deepEqual(checkFloors([at('shmring-pipeline', 64, { 'piscina-tasks-batched': 20 })]), []);
  assert.deepEqual(checkFloors([{ ...at('shmring-pipeline', 64, { 'piscina-tasks': 20 }), error: 'boom' }]), []);
});

test('floors of the cross-process, cross-language and latency suites; a latency ratio is a ceiling', () => {
  const at = (suite, transport, recordSize, fields) => ({ suite, transport, recordSize, ratios: {}, ...fields });
  const latency = (p50, p99) => ({ unit: 'us', p50, p90: p99, p99, p999: p99, max: p99, samples: 10 });
  const cases = [
    at('xproc', 'ringfile-batched', 64, { recordsPerSec: 30e6, bytesPerSec: 30e6 * 64, ratios: { 'socket-batched': 1.2 } }),
    at('xlang', 'node->go-ringfile', 64, { recordsPerSec: 20e6, bytesPerSec: 20e6 * 64, ratios: { 'node->go-socket-batched': 2, 'node->go-socket-per-write': 50 } }),
    at('xlang', 'node->go-ringfile', 65536, { recordsPerSec: 1e5, bytesPerSec: 1e5 * 65536 }),
    at('latency', 'ring-thread-spin', 64, { latency: latency(0.75, 2) }),
    at('latency', 'c-thread-spin', 64, { latency: latency(0.3, 0.5) }),
    at('latency', 'ringfile-process-wakeup', 64, { latency: latency(4.5, 30) }),
  ];
  const byName = Object.fromEntries(checkFloors(cases).map((f) => [f.name, f]));
  assert.equal(byName['Node -> Node /dev/shm 64 B batched records/s'].met, true);
  assert.equal(byName['Node -> Node /dev/shm 64 B vs batched Unix socket'].met, false);
  assert.equal(byName['Node -> Go 64 B ring file records/s'].met, false);
  assert.equal(byName['Node -> Go 64 B ring file records/s'].value, 20e6);
  assert.equal(byName['Node -> Go 64 B ring file vs batched Unix socket'].met, true);
  assert.equal(byName['Node -> Go 64 B ring file vs per-write Unix socket'].met, true);
  assert.equal(byName['Node -> Go 64 KiB ring file bytes/s'].met, true);
  const ping = byName['ping-pong spin vs C reference (ring-thread-spin p50 / c-thread-spin p50)'];
  assert.equal(ping.suite, 'latency');
  assert.equal(ping.atMost, true);
  assert.equal(ping.value, 2.5);
  assert.equal(ping.met, true);
  const lines = latencyStatements(cases);
  assert.match(lines[0], /parked ring-file consumer in another process.*p50 4\.5 µs, p99 30\.0 µs/);
  assert.match(lines[1], /C reference c-thread-spin p50 0\.3 µs/);
  assert.match(latencyStatements(cases.filter((c) => c.transport !== 'c-thread-spin')).join('\n'), /not checked, the C reference \(c-thread-spin\) did not run/);
  const doc = sampleDoc();
  doc.cases = doc.cases.filter((c) => c.suite !== 'latency');
  doc.cases.push(...cases.filter((c) => c.suite === 'latency').map((c) => ({ ...c, recordsPerSec: 1e5, recordsPerSecRange: [1e5, 1e5], bytesPerSec: 64e5, bytesPerSecRange: [64e5, 64e5], rounds: 1, heapGrowthBytes: 0, rssBytes: 1 << 26 })));
  doc.floors = checkFloors(doc.cases);
  assert.deepEqual(validateResults(doc), []);
  const markdown = renderMarkdown(doc, { command: 'node bench/run.mjs', suiteInfo: {}, charts: [] });
  assert.match(markdown, /\| latency \| ping-pong spin vs C reference .* \| <= 3x \| met \|/);
  assert.match(markdown, /Wake-up latency of a parked ring-file consumer in another process/);
  doc.floors[0].met = !doc.floors[0].met;
  assert.match(validateResults(doc).join('\n'), /floors\[0\]\.met/);
});
