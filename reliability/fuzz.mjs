#!/usr/bin/env node
// A fuzz of ring files at rest, through Node and Go: valid rings written by the library (records of
// random sizes, wraps with padding, ended streams, positions anywhere in the 2^32 cycle) are
// mutated (header and record words set to edge values, random bytes, truncation, extension) and
// every mutated file is opened, inspected, read and written by a Node peer
// (reliability/fuzz-check.mjs, in a child process so a crash is seen as one) and by a Go peer
// (go-peer/shmring/corpus_test.go, TestCorpusDir). A pass: every case ends as a clean read or a typed
// error (RingError code; Go sentinel); no crash, no other exception, no read beyond the ring.
//
//   node reliability/fuzz.mjs [--cases 100000] [--seed 1] [--batch 2000] [--json FILE]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RingFile } from '../dist/index.js';
import { mulberry32 } from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    batch: { type: 'string', default: '2000' },
    json: { type: 'string' },
  },
});
const totalCases = Number(args.cases);
const batchSize = Number(args.batch);
const random = mulberry32(Number(args.seed));
const below = (n) => Math.floor(random() * n);
const pick = (list) => list[below(list.length)];

const work = mkdtempSync(path.join(tmpdir(), 'shmring-fuzz-'));
const goPeer = fileURLToPath(new URL('../go-peer/shmring/', import.meta.url));
const goTest = path.join(work, 'shmring.test');
execFileSync('go', ['test', '-c', '-o', goTest, '.'], { cwd: goPeer, stdio: 'inherit' });

/** A valid ring file's bytes: random records through the real producer and consumer. */
function baseImage(index) {
  const file = path.join(work, `base-${index}.ring`);
  const capacity = pick([64, 256, 4096]);
  const ring = RingFile.create(file, { capacity, maxRecordLength: capacity / 2 });
  const producer = ring.producer({ publish: 'eager' });
  const consumer = ring.consumer();
  const records = below(64);
  for (let n = 0; n < records; n++) {
    const length = below(capacity / 2 + 1);
    while (!producer.tryWrite(new Uint8Array(length).fill(n), n & 0xffff)) consumer.poll(() => {}, 1);
    if (random() < 0.3) consumer.poll(() => {}, 1 + below(4));
  }
  consumer.close({ detach: true });
  producer.close({ end: random() < 0.3 });
  ring.close();
  const bytes = readFileSync(file);
  rmSync(file);
  return bytes;
}

const HEADER_WORDS = 640 / 4; // the control blocks; the rest of the header page is reserved zeros
function edgeValue(bytes, offset) {
  const old = bytes.readUInt32LE(offset);
  return pick([0, 1, 2, 3, 7, 8, 64, 4096, 0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff, old + 8, old - 8, old ^ 0x80000000, below(2 ** 32)]) >>> 0;
}

function mutate(base) {
  let bytes = Buffer.from(base);
  const headerLength = 4096;
  for (let m = 1 + below(3); m > 0; m--) {
    const kind = random();
    if (kind < 0.45) {
      const offset = below(HEADER_WORDS) * 4;
      if (offset + 4 <= bytes.length) bytes.writeUInt32LE(edgeValue(bytes, offset), offset);
    } else if (kind < 0.8 && bytes.length >= headerLength + 4) {
      const offset = headerLength + below(Math.floor((bytes.length - headerLength) / 4)) * 4;
      bytes.writeUInt32LE(edgeValue(bytes, offset), offset);
    } else if (kind < 0.92) {
      if (bytes.length > 0) bytes[below(bytes.length)] ^= 1 << below(8);
    } else if (kind < 0.97) {
      bytes = bytes.subarray(0, below(bytes.length));
    } else {
      bytes = Buffer.concat([bytes, Buffer.alloc(8 + below(4096))]);
    }
  }
  return bytes;
}

const figures = { cases: 0, node: {}, go: {}, nodeFailures: [], goFailures: [], crashes: 0 };
const merge = (into, from) => {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
};
const bases = Array.from({ length: 64 }, (_, index) => baseImage(index));
const started = Date.now();

for (let batch = 0; figures.cases < totalCases; batch++) {
  const dir = mkdtempSync(path.join(work, `batch-${batch}-`));
  const size = Math.min(batchSize, totalCases - figures.cases);
  for (let i = 0; i < size; i++) writeFileSync(path.join(dir, `case-${i}.ring`), mutate(pick(bases)));
  figures.cases += size;

  const node = spawnSync(process.execPath, [fileURLToPath(new URL('fuzz-check.mjs', import.meta.url)), dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (node.status !== 0) {
    figures.crashes++;
    figures.nodeFailures.push(`batch ${batch}: node exited ${node.status ?? node.signal}: ${node.stderr.slice(0, 2000)}`);
  } else {
    const result = JSON.parse(node.stdout.trim().split('\n').pop());
    merge(figures.node, result.outcomes);
    figures.nodeFailures.push(...result.failures.map((failure) => `batch ${batch}: ${failure}`));
  }
  const go = spawnSync(goTest, ['-test.run', '^TestCorpusDir$', '-test.count=1'], { encoding: 'utf8', env: { ...process.env, SHMRING_CORPUS_DIR: dir }, maxBuffer: 64 << 20 });
  for (const [, outcome, n] of go.stdout.matchAll(/^corpus outcome (\S+) (\d+)$/gm)) merge(figures.go, { [outcome]: Number(n) });
  if (go.status !== 0) {
    if (go.signal !== null || !/--- FAIL/.test(go.stdout)) figures.crashes++;
    figures.goFailures.push(`batch ${batch}: go exited ${go.status ?? go.signal}: ${(go.stdout + go.stderr).slice(0, 2000)}`);
  }
  // Keep a failing batch for a look; the rest is removed as we go.
  if (node.status === 0 && go.status === 0) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`fuzz: batch ${batch} failed; kept in ${dir}\n`);
  process.stderr.write(`fuzz: ${figures.cases}/${totalCases} cases\r`);
}

const seconds = (Date.now() - started) / 1000;
const failed = figures.nodeFailures.length + figures.goFailures.length + figures.crashes;
const describe = (outcomes) => Object.entries(outcomes).sort().map(([key, n]) => `${key} ${n}`).join(', ');
process.stdout.write(`\nfuzz: ${figures.cases} mutated ring files through Node and Go in ${seconds.toFixed(1)} s\n`);
process.stdout.write(`  node: ${describe(figures.node)}\n  go:   ${describe(figures.go)}\n`);
for (const failure of [...figures.nodeFailures, ...figures.goFailures].slice(0, 20)) process.stdout.write(`  FAIL ${failure}\n`);
process.stdout.write(`fuzz: ${failed === 0 ? 1 : 0} passed, ${failed === 0 ? 0 : 1} failed\n`);
if (args.json) {
  const command = `node reliability/fuzz.mjs ${process.argv.slice(2).join(' ')}`.trim();
  writeFileSync(args.json, JSON.stringify({ ...figures, seconds, date: new Date().toISOString(), command }, null, 2) + '\n');
}
if (failed === 0) rmSync(work, { recursive: true, force: true });
process.exitCode = failed === 0 ? 0 : 1;
