/** Unix-domain socket servers for the cross-process suites, in a private temporary directory. */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FRAME_HEADER, FrameParser, framesPerWrite } from './workload.mjs';

export async function socketServer(name = 'bench') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-bench-'));
  const socketPath = path.join(dir, `${name}.sock`);
  const waiting = [];
  const arrived = [];
  const server = net.createServer((socket) => {
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else arrived.push(socket);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    path: socketPath,
    /** The next accepted connection. */
    connection() {
      const socket = arrived.shift();
      if (socket) return Promise.resolve(socket);
      return new Promise((resolve) => waiting.push(resolve));
    },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes `count` copies of `frame` (header + payload) to `socket`: one write per frame, or, with
 * `batched`, framesPerWrite frames per 64 KiB write. Waits for 'drain' whenever the socket asks.
 */
export async function writeFrames(socket, frame, count, batched) {
  const drain = () => new Promise((resolve) => socket.once('drain', resolve));
  if (!batched) {
    for (let i = 0; i < count; i++) if (!socket.write(frame)) await drain();
    return;
  }
  const perWrite = framesPerWrite(frame.length - FRAME_HEADER);
  for (let sent = 0; sent < count; ) {
    const frames = Math.min(perWrite, count - sent);
    // A fresh buffer per write: the socket holds it until the kernel took it.
    const chunk = Buffer.allocUnsafe(frames * frame.length);
    for (let f = 0; f < frames; f++) frame.copy(chunk, f * frame.length);
    if (!socket.write(chunk)) await drain();
    sent += frames;
  }
}

/**
 * Parses the frames arriving on `socket` into `delivery` (a Delivery). Resolves with
 * performance.now() of the read that brought it to `count` records, once the socket ends; rejects
 * if the socket ends before that, or fails.
 */
export function receiveFrames(socket, delivery, count) {
  return new Promise((resolve, reject) => {
    const parser = new FrameParser(delivery.onRecord);
    let last;
    socket.on('data', (chunk) => {
      parser.push(chunk);
      if (delivery.seen >= count && last === undefined) last = performance.now();
    });
    socket.once('end', () => (last === undefined ? reject(new Error(`socket ended after ${delivery.seen} of ${count} records`)) : resolve(last)));
    socket.once('error', reject);
  });
}
