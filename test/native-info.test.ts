/**
 * Which way the loaded addon makes a ring file's SharedArrayBuffer (issue 12.2), and that buffers
 * made that way behave: shared with workers without a copy (test/file-release.test.ts checks that
 * too), usable with Atomics.wait, and released by their finalizer once collected.
 *
 * The addon is built against the headers of the Node that runs the build (scripts/build-native.mjs),
 * which is the Node running the tests: Node-API's node_api_create_external_sharedarraybuffer when
 * those headers declare it (Node 22.23+, 24.22+, 26), raw V8 otherwise (Node 20).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RingFile, nativeInfo, type RingError } from '../src/index.js';
import { chooseAddon } from '../src/native.js';
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

describe('which addon file is loaded (chooseAddon)', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'shmring-choose-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const built = path.join(root, 'build', 'Release', 'shmring.node');
  const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(path.dirname(built), { recursive: true });
  writeFileSync(built, '');
  writeFileSync(path.join(root, 'build', 'config.gypi'), '{ "variables": { "node_module_version": 115, "nodedir": "/usr" } }\n');

  it('a build from source for this Node is loaded', () => {
    expect(chooseAddon(root, built, 115)).toBe(built);
  });

  it("a build from source for another Node is refused before it is loaded, naming both ABIs and the fix", () => {
    const error = (() => {
      try {
        chooseAddon(root, built, 147);
      } catch (caught) {
        return caught as RingError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('ERR_NATIVE_UNAVAILABLE');
    expect(error?.message).toContain('built from source for Node ABI 115');
    expect(error?.message).toContain('(ABI 147)');
    expect(error?.message).toContain('npm rebuild shmring');
  });

  it("... unless the package has this Node's prebuild, which is loaded instead", () => {
    mkdirSync(prebuildDir, { recursive: true });
    writeFileSync(path.join(prebuildDir, 'node.abi115.glibc.node'), '');
    writeFileSync(path.join(prebuildDir, 'node.abi147.glibc.node'), '');
    expect(chooseAddon(root, built, 147)).toBe(path.join(prebuildDir, 'node.abi147.glibc.node'));
    // A prebuild node-gyp-build chose itself, and a build with no recorded ABI, are taken as found.
    expect(chooseAddon(root, path.join(prebuildDir, 'node.abi115.glibc.node'), 115)).toBe(path.join(prebuildDir, 'node.abi115.glibc.node'));
    rmSync(path.join(root, 'build', 'config.gypi'));
    expect(chooseAddon(root, built, 147)).toBe(built);
  });

  it('the addon this test run loaded was built for this Node', () => {
    const config = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), 'build', 'config.gypi');
    if (existsSync(config)) expect(readFileSync(config, 'utf8')).toContain(`"node_module_version": ${process.versions.modules}`);
  });
});
