/**
 * Suite "xproc": Node -> Node across processes. Producer in a child process, consumer in this one.
 *   ringfile-eager     /dev/shm ring file, tryWrite, publish 'eager'      (needs the native addon)
 *   ringfile-batched   /dev/shm ring file, tryWrite, publish 'auto'       (needs the native addon)
 *   socket-per-write   Unix domain socket, one write() per frame
 *   socket-batched     Unix domain socket, 64 KiB writes of length-prefixed frames
 * The start barrier is an IPC round trip (~0.1 ms, inside the timed span).
 */
import { fileURLToPath } from 'node:url';
import { ProcessPeer, runRecordSize } from '../harness.mjs';
import { ringFiles, shmName } from '../lib/availability.mjs';
import { receiveFrames, socketServer } from '../lib/sockets.mjs';
import { Delivery, recordCounts, ringCapacityFor } from '../lib/workload.mjs';

const PEER = fileURLToPath(new URL('./peer-process.mjs', import.meta.url));
const STALL_MS = 30_000;

export const description =
  'Node <-> Node across processes: a /dev/shm ring file (native addon) vs a Unix domain socket, per write and batched. Producer in a child process, consumer here.';

const delivery = new Delivery();

function baseContender(transport, label, size, maxBytes = 4 * 2 ** 30) {
  return {
    id: `${transport}@${size}`,
    transport,
    label,
    recordSize: size,
    ...recordCounts(size, { maxBytes }),
  };
}

function socketContender(size, batched) {
  let peer;
  let server;
  return {
    ...baseContender(
      batched ? 'socket-batched' : 'socket-per-write',
      batched ? 'Unix socket, 64 KiB writes of length-prefixed frames' : 'Unix socket, one write per length-prefixed frame',
      size,
      batched ? undefined : 512 * 2 ** 20,
    ),
    async setup() {
      server = await socketServer('xproc');
      peer = new ProcessPeer(PEER);
      await peer.loaded;
    },
    async trial(count) {
      delivery.reset();
      const outcome = await peer.trial(
        { kind: 'socket-produce', path: server.path, count, size, batched },
        (socket) =>
          receiveFrames(socket, delivery, count),
        () => server.connection(),
      );
      delivery.check(this.transport, count, size);
      return outcome;
    },
    async teardown() {
      await peer?.close();
      await server?.close();
    },
  };
}

function ringFileContender(size, RingFile, publish) {
  let peer;
  const spin = 2000;
  return {
    ...baseContender(`ringfile-${publish === 'eager' ? 'eager' : 'batched'}`, `/dev/shm ring file, tryWrite, publish '${publish}'`, size),
    async setup() {
      peer = new ProcessPeer(PEER);
      await peer.loaded;
    },
    async trial(count) {
      delivery.reset();
      const path = shmName(RingFile, 'xproc');
      const file = RingFile.create(path, { capacity: ringCapacityFor(size), maxRecordLength: size });
      const consumer = file.consumer({ spin });
      try {
        const outcome = await peer.trial({ kind: 'ring-produce', path, count, size, publish, spin }, async () => {
          // Let the 'go' message leave before this thread blocks in pollSync.
          await new Promise((resolve) => setImmediate(resolve));
          while (delivery.seen < count) {
            if (consumer.pollSync(delivery.onRecord, Infinity, STALL_MS) === 0) {
              if (consumer.ended) break;
              throw new Error(`no record for ${STALL_MS} ms`);
            }
          }
          return performance.now();
        });
        delivery.check(this.transport, count, size);
        return outcome;
      } finally {
        consumer.close();
        file.close();
        RingFile.unlink(path);
      }
    },
    async teardown() {
      await peer?.close();
    },
  };
}

export async function run({ sizes, rounds, targetMs, progress, transports }) {
  const notes = [];
  const rings = await ringFiles();
  if (!rings.available) {
    notes.push(`ring-file contenders skipped: ${rings.reason}`);
  }
  const cases = [];
  for (const size of sizes) {
    const contenders = [socketContender(size, false), socketContender(size, true)];
    if (rings.available) contenders.unshift(ringFileContender(size, rings.RingFile, 'eager'), ringFileContender(size, rings.RingFile, 'auto'));
    cases.push(...(await runRecordSize({ suite: 'xproc', size, contenders, transports, rounds, targetMs, progress })));
  }
  return { cases, notes };
}
