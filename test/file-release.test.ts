/**
 * RingFile.close() lets go of the file's memory at once (issue 11.4): before, a closed and unlinked
 * ring stayed mapped until a garbage collection happened to free its SharedArrayBuffer, and 1000
 * create/open/close/unlink cycles of 1 MiB rings held 2000 mappings of deleted files and ~1 GB of
 * Shmem. Now close() swaps the file's pages for private zero pages in place: the buffer stays a
 * valid range (stale views read zeros, never fault), the file keeps what was written, and the
 * range is unmapped when the buffer is collected.
 *
 * No gc() anywhere here: the point is that nothing waits for one.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RingFile } from '../src/index.js';
import { HEADER_LENGTH, MAGIC_LO } from '../src/layout.js';
import { removeTestFiles, shmTestPath } from './helpers/ringfiles.js';
import { controlBuffer, signal, startWorker, terminateWorkers, waitForValue } from './support/workers.js';

afterEach(terminateWorkers);
afterAll(removeTestFiles);

const MiB = 1 << 20;

/** Resident shared memory (tmpfs pages such as /dev/shm files) mapped by THIS process, in bytes. */
function rssShmem(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('RssShmem:'));
  if (line === undefined) throw new Error('no RssShmem in /proc/self/status');
  return Number(line.split(/\s+/)[1]) * 1024;
}

/** Mappings of deleted files whose name contains `label` (from /proc/self/maps). */
function deletedMappings(label: string): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes(label) && line.endsWith('(deleted)')).length;
}

describe('RingFile.close() releases the mapping', () => {
  it('1000 create/open/write/read/close/unlink cycles of 1 MiB rings: no mapping, no Shmem left behind', () => {
    const cycles = 1000;
    const label = `release-${process.pid}`;
    const mappingsBefore = RingFile.liveMappings();
    const shmemBefore = rssShmem();
    const record = new Uint8Array(64 * 1024).fill(0xa5);
    let received = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      const path = shmTestPath(label);
      const created = RingFile.create(path, { capacity: MiB });
      const opened = RingFile.open(path);
      const producer = created.producer({ publish: 'eager' });
      const consumer = opened.consumer();
      // Fill the ring: every data page is touched through both mappings.
      while (producer.tryWrite(record, 1));
      received += consumer.poll((_type, _data, _offset, length) => expect(length).toBe(record.length), 1 << 20);
      producer.close();
      consumer.close();
      created.close();
      opened.close();
      RingFile.unlink(path);
    }
    expect(received).toBe(cycles * 15); // 15 records of 64 KiB + 8 fit in 1 MiB
    // Before the fix: 2000 live mappings, 2000 deleted files in /proc/self/maps, ~1 GB more RssShmem.
    expect(RingFile.liveMappings()).toBe(mappingsBefore);
    expect(deletedMappings(label)).toBe(0);
    // Allowance for the rest of the process (the test runner): far below one cycle's MiB per cycle.
    expect(rssShmem() - shmemBefore).toBeLessThan(64 * MiB);
  });

  it('a view kept after close reads zeros and never faults; the file keeps its data; the ring reopens', () => {
    const path = shmTestPath('stale-view');
    const file = RingFile.create(path, { capacity: 4096, maxRecordLength: 256 });
    const producer = file.producer({ publish: 'eager' });
    expect(producer.tryWrite(new Uint8Array(100).fill(7), 3)).toBe(true);
    producer.close();
    const view = new Uint8Array(file.buffer);
    const words = new Int32Array(file.buffer);
    expect(words[0]).toBe(MAGIC_LO);
    expect(RingFile.liveMappings()).toBeGreaterThan(0);
    const live = RingFile.liveMappings();
    file.close();
    expect(RingFile.liveMappings()).toBe(live - 1);
    expect(view.length).toBe(HEADER_LENGTH + 4096);
    expect(words[0]).toBe(0);
    expect(view.every((byte) => byte === 0)).toBe(true);
    view[HEADER_LENGTH + 8] = 1; // goes to private zero pages, not to the file
    const onDisk = readFileSync(path);
    expect(onDisk.readInt32LE(0)).toBe(MAGIC_LO);
    expect(onDisk[HEADER_LENGTH + 8]).toBe(7);
    const again = RingFile.open(path);
    const consumer = again.consumer();
    const record = consumer.tryRead();
    expect(record?.type).toBe(3);
    expect(record?.length).toBe(100);
    consumer.close();
    again.close();
  });

  it('a worker still holding the buffer sees zeros after the owner closes (README: ring files)', async () => {
    const path = shmTestPath('worker-holder');
    const file = RingFile.create(path, { capacity: 4096 });
    new Uint8Array(file.buffer)[HEADER_LENGTH] = 0x11;
    const control = controlBuffer();
    const { report } = startWorker<{
      before: { magic: number; data: number };
      after: { magic: number; data: number };
      readBack: number;
      length: number;
    }>('file-buffer-holder.mjs', { buffer: file.buffer, control: control.buffer });
    await waitForValue(control, 0, 1);
    file.close();
    signal(control, 1, 1);
    const seen = await report;
    expect(seen.before).toEqual({ magic: MAGIC_LO, data: 0x11 });
    expect(seen.after).toEqual({ magic: 0, data: 0 });
    expect(seen.readBack).toBe(0x5a); // its own write, in its own process's private pages
    expect(seen.length).toBe(HEADER_LENGTH + 4096);
    expect(readFileSync(path)[HEADER_LENGTH]).toBe(0x11);
  });
});
