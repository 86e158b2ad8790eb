#!/usr/bin/env node
// A soak: --records records (default 10^9) of the seeded test stream from a Node producer process to
// a Go consumer process through one ring file in /dev/shm, every record verified by Go (sequence,
// length, type and every payload byte). Both peers park when they wait (futex), so the run also
// exercises the wake-up protocol millions of times.
//
//   node reliability/soak.mjs [--records 1000000000] [--max-length 64] [--capacity 1048576] [--seed 1] [--json FILE]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { RingFile } from '../dist/index.js';
import { goCli, nodeWorker, requirePeers } from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000000' },
    'max-length': { type: 'string', default: '64' },
    capacity: { type: 'string', default: String(1 << 20) },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const records = Number(args.records);
const maxLength = Number(args['max-length']);
const seed = Number(args.seed);
if (!Number.isInteger(records) || records < 1 || records >= 2 ** 32) throw new Error(`--records ${args.records}: 1 .. 2^32-1`);
requirePeers();

const file = RingFile.shmPath(`shmring-soak-${process.pid}`);
RingFile.create(file, { capacity: Number(args.capacity), maxRecordLength: Math.max(maxLength, 8) }).close();

function run(command, argv) {
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, output: output.trim() })));
}

const started = Date.now();
let consumer, producer;
try {
  const consuming = run(goCli, ['consume', '--verify', file, '--seed', String(seed), '--max-length', String(maxLength), '--park']);
  const producing = run(process.execPath, [nodeWorker('file-producer.mjs'), JSON.stringify({ path: file, count: records, seed, maxLength, spin: 256 })]);
  [producer, consumer] = await Promise.all([producing, consuming]);
} finally {
  RingFile.unlink(file);
}
const seconds = (Date.now() - started) / 1000;
const sent = producer.code === 0 ? JSON.parse(producer.output.split('\n').pop()) : null;
const got = consumer.code === 0 ? JSON.parse(consumer.output.split('\n').pop()) : null;
const ok = sent !== null && got !== null && sent.records === records && got.records === records && got.endOfStream === true && got.bytes === sent.bytes;
process.stdout.write(
  `soak: Node -> Go, ${got?.records ?? 0} of ${records} records (${((got?.bytes ?? 0) / 1e9).toFixed(2)} GB) verified in ${seconds.toFixed(1)} s ` +
    `(${((got?.records ?? 0) / seconds / 1e6).toFixed(2)} M records/s); producer exit ${producer.code ?? producer.signal}, consumer exit ${consumer.code ?? consumer.signal}\n`,
);
if (!ok) process.stdout.write(`  producer: ${producer.output}\n  consumer: ${consumer.output}\n`);
if (args.json) {
  const command = `node reliability/soak.mjs ${process.argv.slice(2).join(' ')}`.trim();
  writeFileSync(args.json, JSON.stringify({ records, verified: got?.records ?? 0, bytes: got?.bytes ?? 0, seconds, ok, date: new Date().toISOString(), command }, null, 2) + '\n');
}
process.stdout.write(`soak: ${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed\n`);
process.exitCode = ok ? 0 : 1;
