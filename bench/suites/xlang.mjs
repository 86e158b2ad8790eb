/**
 * Suite "xlang": Node <-> Go across processes.
 *   node->go-ringfile      Node produces (main thread, publish 'auto') into a /dev/shm ring file,
 *                          `go-peer/bin/shmring bench-consume FILE` consumes. Timed in Node from the
 *                          Go consumer's attach to the moment it has released every record.
 *   node->go-ringfile-batch  the same through the batch paths: Node producer.batch() write() (1024
 *                          records per publish), Go `bench-consume --read-batch` (ReadBatch)
 *   go->node-ringfile      `shmring bench-produce FILE --count N --size B` produces, Node consumes.
 *                          Timed in Node from the first record to the last (the Go producer has no
 *                          start barrier; its own figure is kept as `peerRecordsPerSec`).
 *   go->node-ringfile-batch  the same through the batch paths: Go `bench-produce --write-batch`
 *                          (WriteBatch, 1024 records per publish), Node consumer.batch()
 *   node->go-socket-batched / node->go-socket-per-write
 *                          Node writes length-prefixed frames to a Unix socket (64 KiB writes or
 *                          one write per frame), bench/go/socketpeer reads them; timed in Node from
 *                          the accepted connection to the Go peer's report at EOF.
 *   go->node-socket-batched / go->node-socket-per-write
 *                          `socketpeer produce` writes the same frames (64 KiB writes or one write
 *                          per frame), Node parses and touches them; timed in Node from the
 *                          accepted connection to the last record parsed.
 * Ring-file cases need the native addon and the Go CLI; the socket cases need Go to build the peer.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Delivery, RECORD_TYPE, expectedTouch, makeFrame, makePayload, recordCounts, ringCapacityFor, touch } from '../lib/workload.mjs';
import { goCli, ringFiles, shmName } from '../lib/availability.mjs';
import { receiveFrames, socketServer, writeFrames } from '../lib/sockets.mjs';
import { runRecordSize } from '../harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SOCKET_PEER_DIR = path.join(here, '..', 'go', 'socketpeer');
const SOCKET_PEER = path.join(here, '..', 'native', '.build', 'socketpeer');
const STALL_MS = 30_000;

export const description =
  'Node <-> Go across processes: a /dev/shm ring file (native addon + go-peer CLI) in both directions, and the Unix-socket baseline (batched and per write), both directions.';

function buildSocketPeer() {
  try {
    const stale = !fs.existsSync(SOCKET_PEER) || fs.statSync(SOCKET_PEER).mtimeMs < fs.statSync(path.join(SOCKET_PEER_DIR, 'main.go')).mtimeMs;
    if (stale) {
      fs.mkdirSync(path.dirname(SOCKET_PEER), { recursive: true });
      execFileSync('go', ['build', '-o', SOCKET_PEER, '.'], { cwd: SOCKET_PEER_DIR, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    }
    return { available: true };
  } catch (error) {
    return { available: false, reason: error.code === 'ENOENT' ? 'Go not found (socket baseline needs it to build bench/go/socketpeer)' : `building bench/go/socketpeer failed: ${String(error.stderr ?? error.message).trim().split('\n')[0]}` };
  }
}

/** Runs a command, resolving with its last stdout JSON line and the time that line arrived. */
function runJsonPeer(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let arrivedAt;
  child.stdout.on('data', (chunk) => {
    arrivedAt ??= performance.now();
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const finished = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${path.basename(command)} ${args[0]} exited ${code}: ${stderr.trim().split('\n').pop()}`));
      try {
        resolve({ report: JSON.parse(stdout.trim().split('\n').pop()), arrivedAt });
      } catch (error) {
        reject(new Error(`${path.basename(command)}: no JSON report (${error.message})`));
      }
    });
  });
  return { child, finished };
}

function contender(transport, label, size, fields) {
  return {
    id: `${transport}@${size}`,
    transport,
    label,
    recordSize: size,
    ...recordCounts(size, { initialRecords: 50_000, initialBytes: 8 << 20 }),
    ...fields,
  };
}

function memoryNow(heapBefore) {
  return { heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore, rssBytes: process.memoryUsage().rss };
}

/** Node's batch path: producer.batch() copies up to 1024 payloads in, one publish per batch. */
function produceBatches(producer, payload, count) {
  for (let sent = 0; sent < count; ) {
    const batch = producer.batch();
    const end = Math.min(count, sent + BATCH_RECORDS);
    while (sent < end && batch.write(payload, RECORD_TYPE)) sent++;
    if (batch.publish() === 0) {
      // The ring is full: wait (spin, then park) for room for one record; the next batch takes it.
      if (producer.claimSync(payload.length, RECORD_TYPE, STALL_MS) < 0) throw new Error(`no room for ${STALL_MS} ms`);
      producer.abort();
    }
  }
}

const BATCH_RECORDS = 1024;

function nodeToGoRing(size, RingFile, cli, batched = false) {
  const transport = batched ? 'node->go-ringfile-batch' : 'node->go-ringfile';
  const label = batched
    ? `Node producer.batch() write() (copies each payload in, one publish per ${BATCH_RECORDS} records) -> Go bench-consume --read-batch (ReadBatch, touches each payload), /dev/shm ring file`
    : 'Node producer (publish auto) -> Go bench-consume (touches each payload as the socket peer does), /dev/shm ring file';
  return contender(transport, label, size, {
    async trial(count) {
      const filePath = shmName(RingFile, 'xlang');
      const file = RingFile.create(filePath, { capacity: ringCapacityFor(size), maxRecordLength: size });
      const producer = file.producer({ publish: 'auto' });
      const heapBefore = process.memoryUsage().heapUsed;
      const { child, finished } = runJsonPeer(cli.path, ['bench-consume', filePath, ...(batched ? ['--read-batch'] : [])]);
      finished.catch(() => undefined);
      try {
        // The start line: the Go consumer has attached.
        const deadline = performance.now() + STALL_MS;
        while (file.stats().consumer.state !== 1) {
          if (performance.now() > deadline || child.exitCode !== null) throw new Error('Go consumer did not attach');
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const payload = makePayload(size);
        const start = performance.now();
        if (batched) produceBatches(producer, payload, count);
        else for (let i = 0; i < count; i++) if (!producer.tryWrite(payload, RECORD_TYPE)) producer.writeSync(payload, RECORD_TYPE, STALL_MS);
        producer.close();
        // The end line: every record released by the consumer.
        for (;;) {
          const { head, tail } = file.stats();
          if (head === tail) break;
          if (performance.now() - start > STALL_MS * 4) throw new Error('Go consumer stalled');
        }
        const end = performance.now();
        const { report } = await finished;
        if (report.records !== count) throw new Error(`Go consumer saw ${report.records} records, expected ${count}`);
        if (report.touch !== expectedTouch(size) * count) throw new Error(`${transport}: Go consumer's payload check ${report.touch} != ${expectedTouch(size) * count}`);
        return { elapsedMs: end - start, ...memoryNow(heapBefore), peerRecordsPerSec: report.recordsPerSecond };
      } finally {
        if (child.exitCode === null) child.kill();
        file.close();
        RingFile.unlink(filePath);
      }
    },
  });
}

function goToNodeRing(size, RingFile, cli, batched = false) {
  const transport = batched ? 'go->node-ringfile-batch' : 'go->node-ringfile';
  const label = batched
    ? `Go bench-produce --write-batch (WriteBatch, claims in place, one publish per ${BATCH_RECORDS} records) -> Node consumer.batch() (one release per batch), /dev/shm ring file; timed from the first record`
    : 'Go bench-produce -> Node consumer (poll), /dev/shm ring file; timed from the first record';
  return contender(transport, label, size, {
    async trial(count) {
      const filePath = shmName(RingFile, 'xlang');
      const file = RingFile.create(filePath, { capacity: ringCapacityFor(size), maxRecordLength: size });
      const consumer = file.consumer();
      const heapBefore = process.memoryUsage().heapUsed;
      let seen = 0;
      let touched = 0;
      const onRecord = (type, data, offset, length) => {
        seen++;
        touched += touch(data, offset, length);
      };
      const produceArgs = ['bench-produce', filePath, '--count', String(count), '--size', String(size)];
      if (batched) produceArgs.push('--write-batch', '--batch', String(BATCH_RECORDS));
      const { child, finished } = runJsonPeer(cli.path, produceArgs);
      finished.catch(() => undefined);
      try {
        // Let the child start; then block in pollSync (the producer wakes us through the futex).
        await new Promise((resolve) => setImmediate(resolve));
        while (consumer.pollSync(onRecord, 1, STALL_MS) === 0) {
          if (consumer.ended) throw new Error('Go producer ended before writing');
        }
        const start = performance.now();
        const first = seen;
        while (seen < count) {
          if (batched) {
            const batch = consumer.batch();
            while (batch.next()) onRecord(batch.type, batch.data, batch.offset, batch.length);
            if (batch.release() > 0) continue;
          }
          if (consumer.pollSync(onRecord, batched ? 1 : Infinity, STALL_MS) === 0) {
            if (consumer.ended) break;
            throw new Error(`no record for ${STALL_MS} ms`);
          }
        }
        const end = performance.now();
        if (seen !== count) throw new Error(`Node consumer saw ${seen} records, expected ${count}`);
        const { report } = await finished;
        // The Go payload carries a sequence number in its first 8 bytes: no byte check here.
        void touched;
        return { elapsedMs: ((end - start) * count) / Math.max(1, count - first), ...memoryNow(heapBefore), peerRecordsPerSec: report.recordsPerSecond };
      } finally {
        if (child.exitCode === null) child.kill();
        consumer.close();
        file.close();
        RingFile.unlink(filePath);
      }
    },
  });
}

/**
 * A Unix-socket contender between Node and the Go socket peer (bench/go/socketpeer), one direction
 * ('node->go' or 'go->node'), batched (64 KiB writes) or one write per frame. A trial starts the Go
 * peer with `peerArgs(socketPath, count)`, accepts its connection and hands the socket to
 * `exchange(socket, count, finished)`, which moves the records, checks them and returns
 * `{ elapsedMs, peerRecordsPerSec }`.
 */
function socketContender(direction, size, batched, peerArgs, exchange) {
  const [from, to] = direction === 'node->go' ? ['Node', 'Go'] : ['Go', 'Node'];
  let server;
  return contender(
    `${direction}-socket-${batched ? 'batched' : 'per-write'}`,
    `${from} -> ${to} Unix socket, ${batched ? '64 KiB writes of length-prefixed frames' : 'one write per frame'}`,
    size,
    {
      maxCount: batched ? Math.floor(4 * 2 ** 30 / (size + 8)) : Math.floor(512 * 2 ** 20 / (size + 8)),
      async setup() {
        server = await socketServer('xlang');
      },
      async trial(count) {
        const heapBefore = process.memoryUsage().heapUsed;
        const { child, finished } = runJsonPeer(SOCKET_PEER, peerArgs(server.path, count));
        finished.catch(() => undefined);
        try {
          const socket = await server.connection();
          const { elapsedMs, peerRecordsPerSec } = await exchange(socket, count, finished);
          return { elapsedMs, ...memoryNow(heapBefore), peerRecordsPerSec };
        } finally {
          if (child.exitCode === null) child.kill();
        }
      },
      async teardown() {
        await server?.close();
      },
    },
  );
}

function nodeToGoSocket(size, batched) {
  return socketContender('node->go', size, batched, (socketPath) => ['consume', socketPath], async (socket, count, finished) => {
    const frame = makeFrame(size);
    const start = performance.now();
    await writeFrames(socket, frame, count, batched);
    socket.end();
    const { report, arrivedAt } = await finished;
    if (report.records !== count) throw new Error(`Go socket peer saw ${report.records} records, expected ${count}`);
    if (report.touch !== expectedTouch(size) * count) throw new Error('Go socket peer: payload check failed');
    return { elapsedMs: arrivedAt - start, peerRecordsPerSec: report.recordsPerSecond };
  });
}

function goToNodeSocket(size, batched) {
  const peerArgs = (socketPath, count) => ['produce', socketPath, String(count), String(size), batched ? 'batched' : 'per-write'];
  return socketContender('go->node', size, batched, peerArgs, async (socket, count, finished) => {
    const start = performance.now();
    const delivery = new Delivery();
    const end = await receiveFrames(socket, delivery, count);
    const { report } = await finished;
    delivery.check('Go -> Node socket', count, size);
    return { elapsedMs: end - start, peerRecordsPerSec: report.recordsPerSecond };
  });
}

export async function run({ sizes, rounds, targetMs, progress, transports }) {
  const notes = [];
  const rings = await ringFiles();
  const cli = goCli();
  const socketPeer = buildSocketPeer();
  if (!rings.available) notes.push(`ring-file contenders skipped: ${rings.reason}`);
  else if (!cli.available) notes.push(`ring-file contenders skipped: ${cli.reason}`);
  if (!socketPeer.available) notes.push(`socket contenders skipped: ${socketPeer.reason}`);
  if (!(rings.available && cli.available) && !socketPeer.available) {
    return { status: 'skipped', reason: notes.join('; ') };
  }
  const cases = [];
  for (const size of sizes) {
    const contenders = [];
    if (rings.available && cli.available) {
      contenders.push(nodeToGoRing(size, rings.RingFile, cli), nodeToGoRing(size, rings.RingFile, cli, true));
      contenders.push(goToNodeRing(size, rings.RingFile, cli), goToNodeRing(size, rings.RingFile, cli, true));
    }
    if (socketPeer.available) contenders.push(nodeToGoSocket(size, true), nodeToGoSocket(size, false), goToNodeSocket(size, true), goToNodeSocket(size, false));
    cases.push(...(await runRecordSize({ suite: 'xlang', size, contenders, transports, rounds, targetMs, progress })));
  }
  return { cases, notes };
}
