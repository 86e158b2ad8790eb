#!/usr/bin/env node
// kill -9 chaos: Node and Go producers and consumers are SIGKILLed at seeded random points while
// records flow through a ring file, and every record is checked (sequence + checksum of the seeded
// test stream that TS and Go share: src/teststream.ts, go-peer/shmring/teststream.go).
//
// In each episode this process holds one side of a ring and a child (Node or Go) the other; the
// child is killed again and again, and a successor continues where the ring says it must:
// - a killed producer: this process (the consumer) drains what it had published, checking each
//   record; the successor starts at the next record. Whatever the dead producer had not published
//   is not in the ring: the ring holds a clean prefix, nothing torn.
// - a killed consumer: it had verified every record it released; the successor starts at the
//   record at `head` (at-least-once for a record it held unreleased, exactly once for the rest).
// Each episode ends with an unkilled child that must see every record up to the end of the stream.
// Rings are small (4-64 KiB), records up to a quarter of the capacity, so the ring wraps many times
// between kills; /dev/shm and disk alternate; half the children park (futex), half spin.
//
//   node reliability/chaos.mjs [--kills 1000] [--seed 1] [--json FILE]
//
// Exits 1 on any lost, duplicated or torn record, crash (a child that died by itself, or an
// error) or hang (no progress for --hang-ms).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RingFile } from '../dist/index.js';
import { checkStreamRecord, fillStreamPayload, streamLength } from '../dist/teststream.js';
import { goCli, mulberry32, nodeWorker, requirePeers, until } from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    kills: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    'kills-per-episode': { type: 'string', default: '5' },
    'hang-ms': { type: 'string', default: '30000' },
    json: { type: 'string' },
  },
});
const totalKills = Number(args.kills);
const killsPerEpisode = Number(args['kills-per-episode']);
const hangMs = Number(args['hang-ms']);
const random = mulberry32(Number(args.seed));
const pick = (list) => list[Math.floor(random() * list.length)];
requirePeers();

const figures = { kills: 0, episodes: 0, records: 0, lost: 0, duplicated: 0, torn: 0, crashes: 0, hangs: 0, failures: [] };
function fail(kind, message) {
  figures[kind]++;
  figures.failures.push(`${kind}: ${message}`);
  process.stderr.write(`FAIL ${kind}: ${message}\n`);
}

/**
 * What a record that is not record n is: a repeat of an earlier one (duplicated), a later one
 * (records lost in between), or neither (torn).
 */
function classify(ring, n, type, data, offset, length) {
  for (let back = 1; back <= 16 && back <= n; back++) {
    if (checkStreamRecord(ring.seed, (n - back) >>> 0, ring.maxLength, type, data, offset, length) === null) return 'duplicated';
  }
  for (let ahead = 1; ahead <= 256; ahead++) {
    if (checkStreamRecord(ring.seed, (n + ahead) >>> 0, ring.maxLength, type, data, offset, length) === null) return 'lost';
  }
  return 'torn';
}

/** A child peer, Node or Go, producing or verifying the stream from record `start`. */
function startChild(language, role, ring, start, count = 2 ** 31 - 1) {
  const { path: file, seed, maxLength, park } = ring;
  const stream = ['--seed', String(seed), '--max-length', String(maxLength), '--start', String(start)];
  const child =
    language === 'go'
      ? spawn(goCli, role === 'producer'
          ? ['produce', file, '--count', String(count), ...stream, '--batch', String(pick([1, 16, 256])), ...(park ? ['--park'] : [])]
          : ['consume', '--verify', file, ...stream, ...(park ? ['--park'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [
          nodeWorker(role === 'producer' ? 'file-producer.mjs' : 'file-consumer.mjs'),
          JSON.stringify(role === 'producer'
            ? { path: file, count, seed, maxLength, start, publish: pick(['auto', 'eager']), spin: park ? 0 : undefined, end: true }
            : { path: file, seed, maxLength, start, spin: park ? 0 : undefined }),
        ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return {
    child,
    output: () => output.trim(),
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
}

async function kill(peer, what, ring) {
  peer.child.kill('SIGKILL');
  const exit = await peer.exited;
  figures.kills++;
  if (exit.signal !== 'SIGKILL') {
    // Exit 1 with a verification message: the child found a bad record; anything else is a crash.
    const kind = exit.code === 1 && /verification failed|"failure":"/.test(peer.output()) ? 'torn' : 'crashes';
    fail(kind, `${ring.label}: the ${what} exited by itself (${JSON.stringify(exit)}): ${peer.output()}`);
    return false;
  }
  return true;
}

/** This process consumes; the child producer is killed `kills` times, then one ends the stream. */
async function producerEpisode(ring, language, kills) {
  const file = RingFile.open(ring.path);
  const consumer = file.consumer();
  let next = 0;
  let bad = null;
  const handler = (type, data, offset, length) => {
    if (bad === null && checkStreamRecord(ring.seed, next >>> 0, ring.maxLength, type, data, offset, length) !== null) {
      bad = classify(ring, next, type, data, offset, length);
      fail(bad, `${ring.label}: record ${next}: ${checkStreamRecord(ring.seed, next >>> 0, ring.maxLength, type, data, offset, length)}`);
    }
    next++;
  };
  const drain = () => {
    while (bad === null && consumer.poll(handler, 4096) > 0);
  };
  try {
    for (let k = 0; k < kills && bad === null; k++) {
      const producer = startChild(language, 'producer', ring, next);
      const target = next + Math.floor(random() * (ring.capacity / 16));
      if (!(await until(() => (drain(), bad !== null || next >= target || producer.child.exitCode !== null), hangMs))) {
        fail('hangs', `${ring.label}: the ${language} producer made no progress from record ${next}`);
      }
      if (!(await kill(producer, `${language} producer`, ring))) return next;
      drain(); // the dead producer publishes nothing more: take everything it did publish
    }
    if (bad !== null) return next;
    const end = next + 1 + Math.floor(random() * 200);
    const last = startChild(language, 'producer', ring, next, end - next);
    if (!(await until(() => (drain(), bad !== null || consumer.ended), hangMs))) {
      fail('hangs', `${ring.label}: the stream did not end (at record ${next} of ${end})`);
      last.child.kill('SIGKILL');
    }
    const exit = await last.exited;
    if (exit.code !== 0) fail('crashes', `${ring.label}: the last ${language} producer ${JSON.stringify(exit)}: ${last.output()}`);
    if (bad === null && next !== end) fail('lost', `${ring.label}: ${next} records at the end of the stream, expected ${end}`);
  } finally {
    consumer.close({ detach: true });
    file.close();
  }
  return next;
}

/** This process produces; the child consumer is killed `kills` times, then one reads to the end. */
async function consumerEpisode(ring, language, kills) {
  const file = RingFile.open(ring.path);
  const producer = file.producer({ publish: pick(['auto', 'eager']) });
  // End position and number of each record written and not yet seen released, oldest first: the
  // record at `head` is where a successor consumer must start. At most capacity/8 are in flight.
  const slots = ring.capacity / 8 + 2;
  const ends = new Uint32Array(slots);
  const numbers = new Float64Array(slots);
  let first = 0;
  let count = 0;
  let next = 0;
  const recordAtHead = () => {
    const head = producer.stats().head;
    while (count > 0 && ((head - ends[first]) | 0) >= 0) {
      first = (first + 1) % slots;
      count--;
    }
    return count > 0 ? numbers[first] : next;
  };
  const writeSome = (limit) => {
    for (let i = 0; i < 64 && next < limit; i++) {
      if (count >= slots - 1) recordAtHead();
      const length = streamLength(ring.seed, next >>> 0, ring.maxLength);
      const at = producer.tryClaim(length, next & 0xffff);
      if (at < 0) break;
      fillStreamPayload(producer.data, at, length, ring.seed, next >>> 0);
      producer.commit();
      const slot = (first + count) % slots;
      ends[slot] = producer.stats().writePosition;
      numbers[slot] = next;
      count++;
      next++;
    }
    producer.flush();
  };
  let start = 0;
  try {
    for (let k = 0; k < kills; k++) {
      const consumer = startChild(language, 'consumer', ring, start);
      const target = (ring.capacity / 2) * random();
      const head = producer.stats().head;
      if (!(await until(() => (writeSome(Infinity), consumer.child.exitCode !== null || ((producer.stats().head - head) >>> 0) >= target), hangMs))) {
        fail('hangs', `${ring.label}: the ${language} consumer released nothing from record ${start}`);
      }
      if (!(await kill(consumer, `${language} consumer`, ring))) return next;
      start = recordAtHead();
    }
    const last = startChild(language, 'consumer', ring, start);
    const end = next + Math.floor(random() * (ring.capacity / 8));
    if (!(await until(() => (writeSome(end), next >= end || last.child.exitCode !== null), hangMs))) {
      fail('hangs', `${ring.label}: the last ${language} consumer stopped at record ${recordAtHead()}`);
    }
    producer.close({ end: true });
    const exit = await Promise.race([last.exited, new Promise((resolve) => setTimeout(() => resolve(null), hangMs))]);
    if (exit === null) {
      fail('hangs', `${ring.label}: the last ${language} consumer did not see the end of the stream`);
      last.child.kill('SIGKILL');
    } else if (exit.code !== 0) {
      fail('torn', `${ring.label}: the last ${language} consumer failed (${JSON.stringify(exit)}): ${last.output()}`);
    } else {
      const summary = JSON.parse(last.output().split('\n').pop());
      if (summary.next !== next) fail('lost', `${ring.label}: the last consumer ended at record ${summary.next}, expected ${next}`);
    }
  } finally {
    if (!producer.isClosed) producer.close({ end: false });
    file.close();
  }
  return next;
}

const diskDir = mkdtempSync(path.join(tmpdir(), 'shmring-chaos-'));
const started = Date.now();
try {
  for (let episode = 0; figures.kills < totalKills; episode++) {
    const capacity = pick([4096, 16384, 65536]);
    const maxLength = pick([0, 8, 64, 256, capacity / 4 - 16]);
    const storage = episode % 2 === 0 ? 'shm' : 'disk';
    const role = pick(['producer', 'consumer']);
    const language = pick(['node', 'go']);
    const park = random() < 0.5;
    const label = `episode ${episode} (${language} ${role}, ${storage}, capacity ${capacity}, maxLength ${maxLength}${park ? ', parked' : ''})`;
    const file = storage === 'shm' ? RingFile.shmPath(`shmring-chaos-${process.pid}-${episode}`) : path.join(diskDir, `episode-${episode}.ring`);
    RingFile.create(file, { capacity, maxRecordLength: Math.max(maxLength, 8) }).close();
    const ring = { path: file, capacity, maxLength, seed: Math.floor(random() * 2 ** 32), park, label };
    const kills = Math.min(killsPerEpisode, totalKills - figures.kills);
    try {
      const records = role === 'producer' ? await producerEpisode(ring, language, kills) : await consumerEpisode(ring, language, kills);
      figures.records += records;
      process.stdout.write(`${label}: ${kills} kills, ${records} records checked\n`);
    } finally {
      RingFile.unlink(file);
    }
    figures.episodes++;
  }
} finally {
  rmSync(diskDir, { recursive: true, force: true });
}

const seconds = (Date.now() - started) / 1000;
const failed = figures.lost + figures.duplicated + figures.torn + figures.crashes + figures.hangs;
process.stdout.write(
  `chaos: ${figures.kills} kills in ${figures.episodes} episodes, ${figures.records} records checked: ${figures.lost} lost, ` +
    `${figures.duplicated} duplicated, ${figures.torn} torn, ${figures.crashes} crashes, ${figures.hangs} hangs (${seconds.toFixed(1)} s)\n`,
);
if (args.json) {
  const command = `node reliability/chaos.mjs ${process.argv.slice(2).join(' ')}`.trim();
  writeFileSync(args.json, JSON.stringify({ ...figures, seconds, date: new Date().toISOString(), command }, null, 2) + '\n');
}
process.stdout.write(`chaos: ${failed === 0 ? 1 : 0} passed, ${failed === 0 ? 0 : 1} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
