/**
 * Without the addon (another OS, a failed build, or SHMRING_NO_NATIVE=1) the package still imports and
 * in-memory rings work; ring files throw ERR_NATIVE_UNAVAILABLE saying why. Run in a child process:
 * the addon, once loaded, stays loaded for the life of a process.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTestFiles, tempDir } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function probe(env: NodeJS.ProcessEnv): { memory: string; file: string; message: string } {
  const script = `
    const { createRing, RingProducer, RingConsumer, RingFile } = await import(${JSON.stringify(entry)});
    const ring = createRing({ capacity: 4096 });
    const producer = new RingProducer(ring, { publish: 'eager' });
    const consumer = new RingConsumer(ring);
    producer.tryWrite(new Uint8Array([1, 2, 3]), 9);
    let memory = '';
    consumer.poll((type, data, offset, length) => { memory = type + ':' + Array.from(data.subarray(offset, offset + length)).join(','); });
    let file = 'created', message = '';
    try { RingFile.create(${JSON.stringify(path.join(tempDir(), 'r.ring'))}, { capacity: 4096 }).close(); }
    catch (e) { file = e.code; message = e.message; }
    console.log(JSON.stringify({ memory, file, message }));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as { memory: string; file: string; message: string };
}

describe('without the native addon', () => {
  it('SHMRING_NO_NATIVE=1: in-memory rings work, ring files throw ERR_NATIVE_UNAVAILABLE naming the switch', () => {
    const result = probe({ SHMRING_NO_NATIVE: '1' });
    expect(result.memory).toBe('9:1,2,3');
    expect(result.file).toBe('ERR_NATIVE_UNAVAILABLE');
    expect(result.message).toContain('SHMRING_NO_NATIVE=1');
  });

  it('SHMRING_NO_NATIVE=0 or unset: the addon loads and ring files work', () => {
    expect(probe({ SHMRING_NO_NATIVE: '0' }).file).toBe('created');
  });
});
