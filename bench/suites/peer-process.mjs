/**
 * The Node child process of the cross-process suites (xproc, latency, pipeline), driven over IPC by
 * ProcessPeer. Each trial's `kind` says what to be:
 *   socket-produce     connect to a Unix socket, write `count` frames, one write per frame or
 *                      `framesPerWrite` frames per 64 KiB write (`batched`)
 *   ring-produce       open a ring file and produce `count` records (publish eager or auto)
 *   socket-echo        connect and echo every byte back (ping-pong)
 *   ring-echo          consume from one ring file, write each record back on another
 *   socket-relay       pipeline stage: accept the upstream stage on `listenPath`, relay its frames
 *                      to `toPath` (one write per arrived read)
 *   ring-relay         pipeline stage: consume from one ring file, produce into another
 * Set-up (connect, open, attach) happens before 'ready'; only the work after 'go' is timed.
 */
import net from 'node:net';
import { serveProcessTrials } from '../harness.mjs';
import { writeFrames } from '../lib/sockets.mjs';
import { FRAME_HEADER, FrameParser, RECORD_TYPE, framesPerWrite, makeFrame, makePayload } from '../lib/workload.mjs';

async function loadRingFile() {
  const { RingFile } = await import('../../dist/file.js');
  return RingFile;
}

function connect(path) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function socketProduce({ path, count, size, batched }) {
  const socket = await connect(path);
  socket.setNoDelay(true);
  const frame = makeFrame(size);
  return {
    async run() {
      await writeFrames(socket, frame, count, batched);
      await new Promise((resolve) => socket.end(resolve));
      return { recordsWritten: count };
    },
  };
}

async function ringProduce({ path, count, size, publish, spin }) {
  const RingFile = await loadRingFile();
  const file = RingFile.open(path);
  const producer = file.producer({ publish, spin });
  const payload = makePayload(size);
  return {
    run() {
      for (let i = 0; i < count; i++) if (!producer.tryWrite(payload, RECORD_TYPE)) producer.writeSync(payload, RECORD_TYPE);
      producer.close();
      file.close();
      return { recordsWritten: count };
    },
  };
}

async function socketEcho({ path }) {
  const socket = await connect(path);
  socket.setNoDelay(true);
  socket.on('data', (chunk) => socket.write(chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  return {
    async run() {
      await closed;
      return {};
    },
  };
}

async function ringEcho({ pingPath, pongPath, spin }) {
  const RingFile = await loadRingFile();
  const pingFile = RingFile.open(pingPath);
  const pongFile = RingFile.open(pongPath);
  const consumer = pingFile.consumer({ spin });
  const producer = pongFile.producer({ publish: 'eager', spin });
  const out = new DataView(producer.data.buffer, producer.data.byteOffset, producer.data.byteLength);
  let echoed = 0;
  // The receive time goes into the echo's first 8 bytes, as in latency-worker.mjs: the one-way
  // (wake-up) latency of the ping.
  const echo = (type, data, offset, length) => {
    const receivedAt = performance.timeOrigin + performance.now();
    const at = producer.tryClaim(length, type);
    if (at < 0) throw new Error('echo ring full');
    producer.data.set(data.subarray(offset, offset + length), at);
    out.setFloat64(at, receivedAt, true);
    producer.commit();
    echoed++;
  };
  return {
    run() {
      for (;;) {
        const handled = consumer.pollSync(echo, Infinity, 30_000);
        if (handled === 0 && consumer.ended) break;
        if (handled === 0) throw new Error('ring echo: no ping for 30 s');
      }
      producer.close();
      consumer.close();
      pingFile.close();
      pongFile.close();
      return { echoed };
    },
  };
}

async function socketRelay({ listenPath, toPath, size }) {
  // The upstream stage connects to us: listen before reporting ready.
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPath, resolve);
  });
  const to = await connect(toPath);
  to.setNoDelay(true);
  const perWrite = framesPerWrite(size);
  const frameLength = FRAME_HEADER + size;
  let chunk = Buffer.allocUnsafe(perWrite * frameLength);
  let filled = 0;
  let relayed = 0;
  const flush = () => {
    if (filled === 0) return;
    to.write(chunk.subarray(0, filled));
    chunk = Buffer.allocUnsafe(perWrite * frameLength);
    filled = 0;
  };
  const parser = new FrameParser((type, data, offset, length) => {
    chunk.writeUInt32LE(length, filled);
    chunk.writeUInt32LE(type, filled + 4);
    data.copy(chunk, filled + FRAME_HEADER, offset, offset + length);
    filled += FRAME_HEADER + length;
    relayed++;
    if (filled + frameLength > chunk.length) flush();
  });
  const ended = new Promise((resolve) => {
    server.once('connection', (from) => {
      server.close();
      from.on('data', (data) => {
        parser.push(data);
        // Forward what this read produced (batched by arrival, as a relay would).
        flush();
        if (to.writableNeedDrain) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.once('end', resolve);
    });
  });
  return {
    async run() {
      await ended;
      flush();
      await new Promise((resolve) => to.end(resolve));
      return { relayed };
    },
  };
}

async function ringRelay({ fromPath, toPath, spin }) {
  const RingFile = await loadRingFile();
  const fromFile = RingFile.open(fromPath);
  const toFile = RingFile.open(toPath);
  const consumer = fromFile.consumer({ spin });
  const producer = toFile.producer({ publish: 'auto', spin });
  let relayed = 0;
  const relay = (type, data, offset, length) => {
    producer.writeSync(data.subarray(offset, offset + length), type);
    relayed++;
  };
  return {
    run() {
      for (;;) {
        // A bounded poll so the head is released (and the upstream producer can go on) while
        // this stage waits for room downstream.
        const handled = consumer.pollSync(relay, 256, 30_000);
        if (handled === 0 && consumer.ended) break;
        if (handled === 0) throw new Error('ring relay: nothing for 30 s');
      }
      producer.close();
      consumer.close();
      fromFile.close();
      toFile.close();
      return { relayed };
    },
  };
}

const kinds = {
  'socket-produce': socketProduce,
  'ring-produce': ringProduce,
  'socket-echo': socketEcho,
  'ring-echo': ringEcho,
  'socket-relay': socketRelay,
  'ring-relay': ringRelay,
};

serveProcessTrials(async (params) => {
  const make = kinds[params.kind];
  if (!make) throw new Error(`unknown peer kind ${params.kind}`);
  return make(params);
});
