/**
 * Which way the loaded addon makes a ring file's SharedArrayBuffer (issue 12.2), and that buffers
 * made that way behave: shared with workers without a copy (test/file-release.test.ts checks that
 * too), usable with Atomics.wait, and released by their finalizer once collected.
 *
 * The addon is built against the headers of the Node that runs the build (scripts/build-native.mjs),
 * which is the Node running the tests: Node-API's node_api_create_external_sharedarraybuffer when
 * those headers declare it (Node 22.23+, 24.22+, 26), raw V8 otherwise (Node 20).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RingFile, nativeInfo } from '../src/index.js';
import { removeTestFiles, shmTestPath } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

const header = path.resolve(path.dirname(process.execPath), '..', 'include', 'node', 'js_native_api.h');
const major = Number(process.versions.node.split('.')[0]);

describe('nativeInfo()', () => {
  it('sabPath is node-api where the Node headers declare the external SharedArrayBuffer, v8 otherwise', () => {
    const { sabPath } = nativeInfo();
    if (existsSync(header)) {
      const declared = readFileSync(header, 'utf8').includes('NODE_API_EXPERIMENTAL_HAS_CREATE_EXTERNAL_SHAREDARRAYBUFFER');
      expect(sabPath).toBe(declared ? 'node-api' : 'v8');
    }
    if (major >= 26) expect(sabPath).toBe('node-api');
    if (major <= 20) expect(sabPath).toBe('v8'); // Node 20 has no such Node-API
  });

  it(`buffers made this way are real SharedArrayBuffers (Atomics.wait works) and their finalizer unmaps them`, async () => {
    const before = RingFile.liveMappings();
    (() => {
      const file = RingFile.create(shmTestPath('native-info'), { capacity: 4096 });
      expect(file.buffer).toBeInstanceOf(SharedArrayBuffer);
      // Atomics.wait refuses a non-shared buffer; on ours it times out at once.
      expect(Atomics.wait(new Int32Array(file.buffer), 0, new Int32Array(file.buffer)[0], 0)).toBe('timed-out');
      // Dropped without close(): only a collection can release it, through the finalizer.
    })();
    expect(RingFile.liveMappings()).toBe(before + 1);
    // V8 frees backing stores after a collection, off the main thread: a bounded number of turns.
    for (let turn = 0; turn < 200 && RingFile.liveMappings() !== before; turn++) {
      global.gc!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(RingFile.liveMappings()).toBe(before);
  });
});
