#!/usr/bin/env node
// The main demo (`npm run demo`): what shmring does, end to end, in well under a minute.
//   1. threads:   main thread -> worker thread through an in-memory ring (a SharedArrayBuffer)
//   2. processes: Node -> Go through a ring file in /dev/shm, both sides parked on its futexes
//   3. durable:   a ring file on disk keeps its records across a close and reopen
//   4. bench:     `npm run bench -- --quick`, ratios against postMessage, sockets and ringbuf.js
// Every record carries a seeded sequence number and checksum (shmring/testing), checked on arrival.
// `node examples/demo.mjs --no-bench` skips step 4.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createRing, RingFile, RingProducer } from '../dist/index.js';
import { fillStreamPayload, streamLength } from '../dist/teststream.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const goCli = path.join(root, 'go-peer', 'bin', 'shmring');
const SEED = 2026;
const MAX_LENGTH = 256;
const millions = (n) => `${(n / 1e6).toFixed(2)} M`;

/** Writes records [start, start + count) of the seeded stream with zero-copy claims. */
function produce(producer, start, count) {
  for (let n = start; n < start + count; n++) {
    const length = streamLength(SEED, n >>> 0, MAX_LENGTH);
    const offset = producer.claimSync(length, n & 0xffff); // waits (spin, then park) while full
    fillStreamPayload(producer.data, offset, length, SEED, n >>> 0);
    producer.commit(); // published in batches ('auto'): one release store per 256 records
  }
}

async function threads() {
  const count = 2_000_000;
  const ring = createRing({ capacity: 1 << 20, maxRecordLength: MAX_LENGTH });
  const worker = new Worker(new URL('./demo-worker.mjs', import.meta.url), {
    workerData: { ring, seed: SEED, maxLength: MAX_LENGTH },
  });
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const producer = new RingProducer(ring);
  const started = performance.now();
  produce(producer, 0, count);
  producer.close({ end: true }); // flushes, then marks the end of the stream
  const result = await done;
  const seconds = (performance.now() - started) / 1000;
  await worker.terminate();
  if (result.failure !== null || result.records !== count) throw new Error(`threads: ${JSON.stringify(result)}`);
  console.log(`1. threads    ${count} records main -> worker, every one checked: ${millions(count / seconds)} records/s`);
}

function runGo(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(goCli, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout.trim().split('\n').pop())) : reject(new Error(`${goCli} ${args.join(' ')} exited ${code}`))));
  });
}

async function nodeToGo() {
  if (!existsSync(goCli)) {
    console.log(`2. processes  skipped: ${goCli} is not built (needs Go; see README)`);
    return;
  }
  const count = 2_000_000;
  const filePath = RingFile.shmPath(`shmring-demo-${process.pid}`);
  const file = RingFile.create(filePath, { capacity: 1 << 20, maxRecordLength: MAX_LENGTH });
  try {
    const goConsumer = runGo(['consume', '--verify', filePath, '--seed', String(SEED), '--max-length', String(MAX_LENGTH), '--park']);
    const producer = file.producer();
    const started = performance.now();
    // Synchronous: claimSync parks on the ring file's futex while the ring is full. The Go consumer
    // prints its one-line report only at the end, which waits in the pipe until the loop is done.
    produce(producer, 0, count);
    producer.close({ end: true });
    const report = await goConsumer;
    const seconds = (performance.now() - started) / 1000;
    if (report.records !== count) throw new Error(`Go consumer: ${JSON.stringify(report)}`);
    console.log(`2. processes  ${count} records Node -> Go via ${filePath}, verified by Go: ${millions(count / seconds)} records/s`);
  } finally {
    file.close();
    RingFile.unlink(filePath);
  }
}

function durable() {
  const dir = mkdtempSync(path.join(tmpdir(), 'shmring-demo-'));
  const filePath = path.join(dir, 'log.ring');
  try {
    const file = RingFile.create(filePath, { capacity: 1 << 16, maxRecordLength: MAX_LENGTH });
    const producer = file.producer({ publish: 'manual' });
    produce(producer, 0, 100);
    producer.flush();
    file.flush(); // msync: on the disk, not only in the page cache
    file.close(); // producer and ring closed; the records stay in the file
    const again = RingFile.open(filePath);
    const consumer = again.consumer();
    let seen = 0;
    consumer.poll(() => void seen++);
    again.close();
    if (seen !== 100) throw new Error(`durable: read back ${seen} of 100 records`);
    console.log(`3. durable    100 records written, file closed, reopened: ${seen} records read back from ${filePath}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function bench() {
  return new Promise((resolve, reject) => {
    console.log('4. bench      node bench/run.mjs --quick (full run: npm run bench)');
    const child = spawn(process.execPath, [path.join(root, 'bench', 'run.mjs'), '--quick'], { stdio: 'inherit', cwd: root });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`bench --quick exited ${code}`))));
  });
}

console.log(`shmring demo (Node ${process.version}, seed ${SEED})`);
await threads();
await nodeToGo();
durable();
if (!process.argv.includes('--no-bench')) await bench();
