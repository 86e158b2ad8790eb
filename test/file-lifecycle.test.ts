/**
 * Ring files from creation to attach (issue 11 items 1, 2, 3, 5; issue 10 item 6b): one role per
 * RingFile, no replacing a ring in use, a name that never points at a half-made ring whenever the
 * creator dies, exact modes and an owner check, and the anonymous sealed ring nobody can truncate.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { RingFile, RingFileError, RingFormatError, RingUsageError } from '../src/index.js';
import * as layout from '../src/layout.js';
import { checkStreamRecord, fillStreamPayload, streamLength, streamType } from '../src/teststream.js';
import { diskTestPath, lastJson, removeTestFiles, runNodeChild, shmTestPath, tempDir } from './helpers/ringfiles.js';
import { seededRandom, testSeed } from './support/ring.js';

afterAll(removeTestFiles);

const dist = path.resolve('dist/index.js');
const workersDir = fileURLToPath(new URL('./workers/', import.meta.url));

function errorOf(action: () => unknown): Error & { code?: string; field?: string; value?: unknown } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error');
}

const temporaries = (dir: string): string[] => readdirSync(dir).filter((name) => name.startsWith('.shmring-tmp-'));

describe('one role per RingFile (11.1)', () => {
  it('a second consumer() or producer() on the same RingFile is ERR_ROLE_TAKEN naming this pid', () => {
    const file = RingFile.create(shmTestPath('twice'), { capacity: 4096 });
    const consumer = file.consumer();
    const consumerError = errorOf(() => file.consumer());
    expect(consumerError).toBeInstanceOf(RingUsageError);
    expect(consumerError.code).toBe('ERR_ROLE_TAKEN');
    expect(consumerError.value).toBe(process.pid);
    const producer = file.producer();
    expect(errorOf(() => file.producer()).code).toBe('ERR_ROLE_TAKEN');
    // The refused attach changed nothing: the first pair still works, and a closed role is free again.
    expect(producer.tryWrite(new Uint8Array([7]), 3)).toBe(true);
    producer.flush();
    expect(consumer.poll((type) => expect(type).toBe(3))).toBe(1);
    consumer.close();
    const again = file.consumer();
    expect(again.poll(() => undefined)).toBe(0);
    file.close();
  });

  it('two RingFile.open() of one path in one process: the second attach of a role is refused', () => {
    const filePath = shmTestPath('two-opens');
    RingFile.create(filePath, { capacity: 4096 }).close();
    const first = RingFile.open(filePath);
    const second = RingFile.open(filePath);
    const consumer = first.consumer();
    expect(errorOf(() => second.consumer()).code).toBe('ERR_ROLE_TAKEN');
    consumer.close();
    second.consumer().close();
    first.close();
    second.close();
  });

  it('a worker thread opening the same path cannot take a role this thread holds', async () => {
    const filePath = shmTestPath('worker');
    const file = RingFile.create(filePath, { capacity: 4096 });
    const producer = file.producer();
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.dist).then(({ RingFile }) => {
        const f = RingFile.open(workerData.path);
        let result;
        try { f.producer(); result = 'attached'; } catch (e) { result = e.code; }
        f.close();
        parentPort.postMessage(result);
      });`;
    const worker = new Worker(code, { eval: true, workerData: { dist, path: filePath } });
    const result = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(result).toBe('ERR_ROLE_TAKEN');
    producer.close();
    file.close();
  });
});

describe('replacing an existing ring (11.2)', () => {
  it('exclusive:false is refused with ERR_IN_USE naming the role and pid while a role is held; the live ring stays', () => {
    const filePath = shmTestPath('replace-live');
    const file = RingFile.create(filePath, { capacity: 4096 });
    const before = statSync(filePath).ino;
    const producer = file.producer({ publish: 'eager' });
    const error = errorOf(() => RingFile.create(filePath, { capacity: 8192, exclusive: false }));
    expect(error).toBeInstanceOf(RingFileError);
    expect(error.code).toBe('ERR_IN_USE');
    expect(error.field).toBe('producerPid');
    expect(error.value).toBe(process.pid);
    expect(error.message).toMatch(/producer role is held by pid/);
    expect(statSync(filePath).ino).toBe(before);
    // A new opener still meets the live ring and its records.
    expect(producer.tryWrite(new Uint8Array(5), 9)).toBe(true);
    const reader = RingFile.open(filePath);
    const consumer = reader.consumer();
    expect(consumer.poll((type, _data, _offset, length) => expect([type, length]).toEqual([9, 5]))).toBe(1);
    // The consumer role alone refuses too.
    producer.close();
    expect(errorOf(() => RingFile.create(filePath, { capacity: 8192, exclusive: false })).field).toBe('consumerPid');
    consumer.close();
    reader.close();
    file.close();
  });

  it('with no role held, exclusive:false replaces atomically (new inode, new geometry), even a non-ring file', () => {
    const filePath = diskTestPath('replace-idle');
    const old = RingFile.create(filePath, { capacity: 4096 });
    const before = statSync(filePath).ino;
    const replaced = RingFile.create(filePath, { capacity: 8192, exclusive: false });
    expect(statSync(filePath).ino).not.toBe(before);
    const reopened = RingFile.open(filePath);
    expect(reopened.capacity).toBe(8192);
    // The old mapping keeps the old inode (nobody is pulled out from under).
    expect(old.capacity).toBe(4096);
    expect(old.stats().capacity).toBe(4096);
    reopened.close();
    replaced.close();
    old.close();
    writeFileSync(filePath, Buffer.alloc(layout.HEADER_LENGTH + 4096)); // a zero-filled leftover
    RingFile.create(filePath, { capacity: 4096, exclusive: false }).close();
    RingFile.open(filePath).close();
    expect(temporaries(path.dirname(filePath))).toEqual([]);
  });
});

describe('creation is atomic at the name (11.3)', () => {
  for (const where of ['tmpfs', 'disk'] as const) {
    it(`creators SIGKILLed at random points inside create (${where}): the name is absent or a ready ring, no temporaries stay`, async () => {
      const seed = testSeed(`create-kill-${where}`);
      const random = seededRandom(seed);
      const dir = where === 'tmpfs' ? tempDirIn('/dev/shm') : tempDir();
      const filePath = path.join(dir, 'ring');
      const kills = 30;
      let seenRing = 0;
      let seenAbsent = 0;
      for (let round = 0; round < kills; round++) {
        let child: ChildProcess | undefined;
        const exited = runNodeChild('file-creator.mjs', { path: filePath, seed: random(), capacity: 1 << 20 }, (spawned) => (child = spawned));
        // Wait until it loops, then kill it after a seeded number of further event-loop turns: the
        // point of the kill is random; nothing asserted depends on when it lands.
        await new Promise<void>((resolve) => child!.stdout!.once('data', () => resolve()));
        const turns = random() % 40;
        for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
        child!.kill('SIGKILL');
        const result = await exited;
        expect(result.signal, result.stderr).toBe('SIGKILL');
        if (existsSync(filePath)) {
          const ring = RingFile.open(filePath); // throws (failing the test) if not a ready ring
          expect(ring.capacity).toBe(1 << 20);
          ring.close();
          seenRing++;
        } else {
          seenAbsent++;
        }
        // A temporary can only remain from a kill between naming and rename (exclusive:false); the
        // next create in the directory removes it, since its creator no longer holds the build lock.
        const probe = path.join(dir, 'probe');
        RingFile.create(probe, { capacity: 4096 }).close();
        RingFile.unlink(probe);
        expect(temporaries(dir)).toEqual([]);
      }
      expect(seenRing + seenAbsent).toBe(kills);
    }, 120_000);
  }

  it('a leftover temporary of an older version (no build lock) is removed by the next create; others are kept', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, '.shmring-tmp-999999-0'), Buffer.alloc(layout.HEADER_LENGTH + 4096));
    writeFileSync(path.join(dir, 'unrelated'), 'x');
    RingFile.create(path.join(dir, 'ring'), { capacity: 4096 }).close();
    expect(readdirSync(dir).sort()).toEqual(['ring', 'unrelated']);
  });

  it('a ring whose ready word was never published is ERR_NOT_READY', () => {
    const filePath = diskTestPath('not-ready');
    RingFile.create(filePath, { capacity: 4096 }).close();
    const bytes = Buffer.alloc(4);
    const fd = openSync(filePath, 'r+');
    writeSync(fd, bytes, 0, 4, layout.READY_OFFSET);
    closeSync(fd);
    const error = errorOf(() => RingFile.open(filePath));
    expect(error).toBeInstanceOf(RingFormatError);
    expect(error.code).toBe('ERR_NOT_READY');
    expect(error.field).toBe('ready');
  });
});

function tempDirIn(parent: string): string {
  const dir = path.join(parent, `shmring-test-${process.pid}-${Math.random().toString(16).slice(2)}`);
  mkdirSync(dir);
  cleanupDirs.push(dir);
  return dir;
}
const cleanupDirs: string[] = [];
afterAll(() => {
  for (const dir of cleanupDirs) rmSync(dir, { recursive: true, force: true });
});

describe('modes and owners (11.5)', () => {
  it('refuses mode bits outside 0o777 and modes without owner read-write (ERR_BAD_ARGUMENT naming mode), leaving no file', () => {
    const filePath = diskTestPath('mode');
    for (const mode of [0o4777, 0o1600, 0o2600, 0o10000, 0o400, 0o200, 0o077]) {
      const error = errorOf(() => RingFile.create(filePath, { capacity: 4096, mode }));
      expect(error.code, mode.toString(8)).toBe('ERR_BAD_ARGUMENT');
      expect(error.field).toBe('mode');
      expect(error.value).toBe(mode);
      expect(existsSync(filePath)).toBe(false);
    }
  });

  it('applies the requested mode exactly, whatever the umask (umask 0o277 in a child)', () => {
    const dir = tempDir();
    const script = `process.umask(0o277); import(${JSON.stringify(dist)}).then(({ RingFile }) => {
      RingFile.create(${JSON.stringify(path.join(dir, 'a'))}, { capacity: 4096 }).close();
      RingFile.create(${JSON.stringify(path.join(dir, 'b'))}, { capacity: 4096, mode: 0o664 }).close();
      RingFile.create(${JSON.stringify(path.join(dir, 'c'))}, { capacity: 4096, mode: 0o640, exclusive: false }).close();
    })`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(statSync(path.join(dir, 'a')).mode & 0o7777).toBe(0o600);
    expect(statSync(path.join(dir, 'b')).mode & 0o7777).toBe(0o664);
    expect(statSync(path.join(dir, 'c')).mode & 0o7777).toBe(0o640);
  });

  it('open({ owner }) refuses a file owned by another uid with ERR_WRONG_OWNER naming the uid', () => {
    const filePath = shmTestPath('owner');
    RingFile.create(filePath, { capacity: 4096 }).close();
    const self = process.getuid!();
    RingFile.open(filePath, { owner: 'self' }).close();
    RingFile.open(filePath, { owner: self }).close();
    chownSync(filePath, 65534, 65534); // the suite runs as root; as another user this step is skipped
    const error = errorOf(() => RingFile.open(filePath, { owner: 'self' }));
    expect(error).toBeInstanceOf(RingFileError);
    expect(error.code).toBe('ERR_WRONG_OWNER');
    expect(error.field).toBe('uid');
    expect(error.value).toBe(65534);
    expect(error.message).toContain('65534');
    RingFile.open(filePath, { owner: 65534 }).close();
    RingFile.open(filePath).close(); // no owner asked: any file the permissions allow
    expect(errorOf(() => RingFile.open(filePath, { owner: -1 })).code).toBe('ERR_BAD_ARGUMENT');
  });
});

describe('anonymous sealed rings (10.6b)', () => {
  it('cannot be truncated or grown (EPERM), and report their seals', () => {
    const ring = RingFile.createAnonymous({ capacity: 4096 });
    expect(ring.path).toBe(`/proc/${process.pid}/fd/${ring.fd}`);
    expect(ring.stats().seals).toBe(0x7); // F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW
    expect(errorOf(() => ftruncateSync(ring.fd, 0)).code).toBe('EPERM');
    expect(errorOf(() => ftruncateSync(ring.fd, layout.HEADER_LENGTH + 8192)).code).toBe('EPERM');
    // Reopened through its descriptor or its /proc path: its own description, so roles conflict.
    const byFd = RingFile.openFd(ring.fd);
    const byPath = RingFile.open(ring.path);
    expect(byPath.stats().seals).toBe(0x7);
    const producer = byFd.producer();
    expect(errorOf(() => byPath.producer()).code).toBe('ERR_ROLE_TAKEN');
    expect(errorOf(() => ring.producer()).code).toBe('ERR_ROLE_TAKEN');
    producer.close();
    byFd.close();
    byPath.close();
    ring.close();
    expect(errorOf(() => RingFile.openFd(-1)).code).toBe('ERR_BAD_ARGUMENT');
    const file = RingFile.create(shmTestPath('unsealed'), { capacity: 4096 });
    expect(file.stats().seals & 0x6).toBe(0); // a tmpfs file says only "never sealable" (F_SEAL_SEAL)
    file.close();
  });

  it('shared with a child Node process by descriptor: records flow both ways, sequence and checksum checked', async () => {
    const seed = testSeed('anon-child');
    const maxLength = 300;
    const count = 5000;
    const toChild = RingFile.createAnonymous({ capacity: 1 << 14, maxRecordLength: maxLength });
    const fromChild = RingFile.createAnonymous({ capacity: 1 << 14, maxRecordLength: maxLength });
    const producer = toChild.producer({ spin: 0 });
    const consumer = fromChild.consumer({ spin: 0 });
    const child = spawn(process.execPath, [path.join(workersDir, 'anon-peer.mjs'), JSON.stringify({ seed, maxLength, count })], {
      stdio: ['ignore', 'pipe', 'pipe', toChild.fd, fromChild.fd],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (let n = 0; n < count; n++) {
      const payload = new Uint8Array(streamLength(seed, n, maxLength));
      fillStreamPayload(payload, 0, payload.length, seed, n);
      await producer.write(payload, streamType(n));
    }
    producer.close();
    let received = 0;
    let failure: string | null = null;
    while (received < count) {
      const record = await consumer.read();
      if (record === null) break;
      failure ??= checkStreamRecord(seed + 1, received, maxLength, record.type, record.buffer, record.offset, record.length);
      record.release();
      received++;
    }
    expect(await exited, stderr).toBe(0);
    const summary = lastJson<{ received: number; failure: string | null; truncateCode: string; seals: number }>(stdout);
    expect(summary).toEqual({ received: count, failure: null, truncateCode: 'EPERM', seals: 0x7 });
    expect(failure).toBeNull();
    expect(received).toBe(count);
    consumer.close();
    toChild.close();
    fromChild.close();
  }, 60_000);
});
