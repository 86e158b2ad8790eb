/**
 * Truncation (issue 10, finding 6). A ring file shared by path can be truncated by anyone who may
 * write it, and an access to a mapping beyond the new end is SIGBUS. The Go peer survives it (the
 * fault becomes ErrCorrupt, exit status 1 with a message); Node gets a ring kind that cannot be
 * truncated, the anonymous sealed memfd, which the Go peer opens through its descriptor.
 */
import { spawn } from 'node:child_process';
import { truncateSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RingFile } from '../src/index.js';
import { checkStreamRecord, fillStreamPayload, streamLength, streamType } from '../src/teststream.js';
import { lastJson, removeTestFiles, shmTestPath, type ChildResult } from './helpers/ringfiles.js';
import { testSeed } from './support/ring.js';

afterAll(removeTestFiles);

const goCli = fileURLToPath(new URL('../go-peer/bin/shmring', import.meta.url));

/** Runs the Go CLI with extra descriptors from fd 3 on; `onStdout` sees its output as it comes. */
function runGo(args: (string | number)[], fds: number[] = [], onStdout?: (text: string) => void): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(goCli, args.map(String), { stdio: ['ignore', 'pipe', 'pipe', ...fds] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('a ring file truncated under a Go peer', () => {
  it('`shmring cat --follow` parked on it ends with exit status 1 and a message, not a SIGBUS crash', async () => {
    const path = shmTestPath('truncate-cat');
    const file = RingFile.create(path, { capacity: 1 << 16 });
    const producer = file.producer({ publish: 'eager' });
    for (let n = 0; n < 3; n++) expect(producer.tryWrite(new Uint8Array([n, n, n]), n)).toBe(true);
    // Detach without ending the stream (cat keeps following), and never touch the mapping again in
    // this process: after the truncation any access to it would kill the test worker with SIGBUS.
    producer.close({ end: false });
    file.close();
    let truncated = false;
    const result = await runGo(['cat', path, '--follow', '--park', '--spin', '0'], [], (stdout) => {
      if (!truncated && stdout.split('\n').length > 3) {
        truncated = true;
        truncateSync(path, 0);
      }
    });
    expect(truncated).toBe(true);
    expect(result.stdout.trim().split('\n')).toHaveLength(3);
    expect(result.signal).toBeNull();
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/corrupt ring.*truncated/);
    expect(result.stderr).not.toMatch(/SIGBUS|fatal error/);
  }, 60_000);
});

describe('anonymous sealed rings with the Go peer', () => {
  it('Go opens them through an inherited descriptor: records flow both ways, sequence and checksum checked', async () => {
    const seed = testSeed('anon-go');
    const maxLength = 500;
    const count = 20_000;
    const toGo = RingFile.createAnonymous({ capacity: 1 << 14, maxRecordLength: maxLength });
    const fromGo = RingFile.createAnonymous({ capacity: 1 << 14, maxRecordLength: maxLength });

    const stat = await runGo(['stat', '/proc/self/fd/3', '--json'], [toGo.fd]);
    expect(stat.code, stat.stderr).toBe(0);
    expect(JSON.parse(stat.stdout)).toMatchObject({ seals: 0x7, sealed: true, capacity: 1 << 14 });

    // Node -> Go: Go verifies every record (`consume --verify`), parking when the ring is empty.
    const consumed = runGo(['consume', '--verify', '/proc/self/fd/3', '--count', count, '--seed', seed, '--max-length', maxLength, '--park'], [toGo.fd]);
    const producer = toGo.producer({ spin: 0 });
    let bytes = 0;
    for (let n = 0; n < count; n++) {
      const payload = new Uint8Array(streamLength(seed, n, maxLength));
      fillStreamPayload(payload, 0, payload.length, seed, n);
      await producer.write(payload, streamType(n));
      bytes += payload.length;
    }
    producer.close();
    const consumedResult = await consumed;
    expect(consumedResult.code, consumedResult.stderr).toBe(0);
    expect(lastJson<{ records: number; bytes: number }>(consumedResult.stdout)).toMatchObject({ records: count, bytes });

    // Go -> Node: Node checks every record.
    const produced = runGo(['produce', '/proc/self/fd/3', '--count', count, '--seed', seed + 1, '--max-length', maxLength, '--park'], [fromGo.fd]);
    const consumer = fromGo.consumer({ spin: 0 });
    let received = 0;
    let failure: string | null = null;
    for (;;) {
      const record = await consumer.read();
      if (record === null) break;
      failure ??= checkStreamRecord(seed + 1, received, maxLength, record.type, record.buffer, record.offset, record.length);
      record.release();
      received++;
    }
    const producedResult = await produced;
    expect(producedResult.code, producedResult.stderr).toBe(0);
    expect(failure).toBeNull();
    expect(received).toBe(count);
    expect(consumer.ended).toBe(true);
    consumer.close();
    toGo.close();
    fromGo.close();
  }, 120_000);
});
