/** Unix-domain socket servers for the cross-process suites, in a private temporary directory. */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

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
