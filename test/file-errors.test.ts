/**
 * Every bad input to ring files gets a typed error with a code naming what was wrong; nothing
 * segfaults, nothing reads outside the mapping, and the suite leaves no file behind.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, statSync, mkdirSync, openSync, closeSync, readFileSync, symlinkSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RingFile, RingFormatError, RingUsageError, RingFileError, RingCorruptError } from '../src/index.js';
import * as layout from '../src/layout.js';
import { diskTestPath, removeTestFiles, shmTestPath, tempDir } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

function errorOf(action: () => unknown): Error & { code?: string; field?: string; value?: unknown } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error');
}

const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * A copy of the built package (package.json, dist/, the addon and its loader) in a fresh directory
 * every user can read. A probe run as another user must load the code wherever the checkout lives:
 * a clone inside a 0700 directory (mktemp -d, /root) run as root is common in CI images.
 */
function packageCopyReadableByAll(): string {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  for (const entry of ['package.json', 'dist', 'build/Release/shmring.node', 'prebuilds']) {
    const from = path.join(packageRoot, entry);
    if (existsSync(from)) cpSync(from, path.join(dir, entry), { recursive: true });
  }
  let loader: string | undefined;
  try {
    loader = path.dirname(createRequire(import.meta.url).resolve('node-gyp-build/package.json'));
  } catch {
    // The loader is a dependency once the package loads its addon through it; nothing to copy before.
  }
  if (loader) cpSync(loader, path.join(dir, 'node_modules', 'node-gyp-build'), { recursive: true });
  // cpSync makes missing parents with the process umask; open them up for the other user.
  for (const sub of ['build', 'build/Release', 'node_modules']) {
    if (existsSync(path.join(dir, sub))) chmodSync(path.join(dir, sub), 0o755);
  }
  return dir;
}

/** A valid ring file, then a patch of one header word through ordinary file I/O. */
function patchedRing(label: string, offset: number, value: number): string {
  const file = diskTestPath(label);
  RingFile.create(file, { capacity: 4096 }).close();
  const fd = openSync(file, 'r+');
  const word = Buffer.alloc(4);
  word.writeUInt32LE(value >>> 0);
  writeSync(fd, word, 0, 4, offset);
  closeSync(fd);
  return file;
}

describe('opening files that are not usable rings', () => {
  it('refuses a truncated file (ERR_TRUNCATED)', () => {
    const file = diskTestPath('short');
    writeFileSync(file, Buffer.alloc(100));
    const error = errorOf(() => RingFile.open(file));
    expect(error).toBeInstanceOf(RingFormatError);
    expect(error.code).toBe('ERR_TRUNCATED');
  });

  it('refuses a foreign file (ERR_BAD_MAGIC naming the value found)', () => {
    const file = diskTestPath('foreign');
    writeFileSync(file, Buffer.alloc(layout.HEADER_LENGTH + 4096, 0x41));
    const error = errorOf(() => RingFile.open(file));
    expect(error.code).toBe('ERR_BAD_MAGIC');
    expect(error.message).toMatch(/magic/);
    expect(error.message).toMatch(/41414141/);
  });

  it('refuses a header that is not ready (ERR_NOT_READY)', () => {
    expect(codeOf(() => RingFile.open(patchedRing('notready', layout.READY_OFFSET, 0)))).toBe('ERR_NOT_READY');
  });

  it.each([
    ['version', layout.VERSION_OFFSET, 2, 'ERR_BAD_VERSION'],
    ['headerLength', layout.HEADER_LENGTH_OFFSET, 8192, 'ERR_BAD_HEADER_LENGTH'],
    ['capacity', layout.CAPACITY_OFFSET, 3000, 'ERR_BAD_CAPACITY'],
    ['capacity', layout.CAPACITY_OFFSET, 8192, 'ERR_SIZE_MISMATCH'],
    ['maxRecordLength', layout.MAX_RECORD_LENGTH_OFFSET, 4096, 'ERR_BAD_MAX_RECORD_LENGTH'],
    ['maxRecordLength', layout.MAX_RECORD_LENGTH_OFFSET, 0, 'ERR_BAD_MAX_RECORD_LENGTH'],
    ['flags', layout.FLAGS_OFFSET, 1, 'ERR_BAD_FLAGS'],
  ])('refuses %s = %i (%s), naming the field and value', (field, offset, value, code) => {
    const error = errorOf(() => RingFile.open(patchedRing(`bad-${code}-${value}`, offset, value)));
    expect(error).toBeInstanceOf(RingFormatError);
    expect(error.code).toBe(code);
    expect(error.message).toContain(field);
    expect(error.message).toContain(String(value));
  });

  it('refuses a file whose size disagrees with its header (ERR_SIZE_MISMATCH)', () => {
    const file = diskTestPath('grown');
    RingFile.create(file, { capacity: 4096 }).close();
    const fd = openSync(file, 'r+');
    ftruncateSync(fd, layout.HEADER_LENGTH + 8192);
    closeSync(fd);
    expect(codeOf(() => RingFile.open(file))).toBe('ERR_SIZE_MISMATCH');
  });

  it('refuses a directory and a symlink, and never follows the link', () => {
    const dir = tempDir();
    const sub = path.join(dir, 'a-directory');
    mkdirSync(sub);
    const dirError = errorOf(() => RingFile.open(sub));
    expect(dirError).toBeInstanceOf(RingFileError);
    expect(['ERR_NOT_REGULAR_FILE', 'EISDIR']).toContain(dirError.code);
    const target = path.join(dir, 'target.ring');
    RingFile.create(target, { capacity: 4096 }).close();
    const link = path.join(dir, 'link.ring');
    symlinkSync(target, link);
    expect(codeOf(() => RingFile.open(link))).toBe('ERR_SYMLINK');
    expect(codeOf(() => RingFile.create(link, { capacity: 4096, exclusive: false }))).toBe('ERR_SYMLINK');
  });

  it('reports a missing file (ENOENT) and an existing one on exclusive create (EEXIST) with the path', () => {
    const file = diskTestPath('exists');
    const missing = errorOf(() => RingFile.open(file));
    expect(missing.code).toBe('ENOENT');
    expect((missing as RingFileError).path).toBe(file);
    RingFile.create(file, { capacity: 4096 }).close();
    expect(codeOf(() => RingFile.create(file, { capacity: 4096 }))).toBe('EEXIST');
  });

  it('creates files with mode 0600 and refuses a user without permission (EACCES)', () => {
    const file = diskTestPath('private');
    RingFile.create(file, { capacity: 4096 }).close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // A control the unprivileged user may open: proves the probe can load the package, so that the
    // EACCES below comes from the ring file's mode and nothing else.
    const shared = diskTestPath('shared');
    RingFile.create(shared, { capacity: 4096 }).close();
    chmodSync(shared, 0o666);
    chmodSync(path.dirname(file), 0o755);
    chmodSync(path.dirname(shared), 0o755);
    const probe = path.join(packageCopyReadableByAll(), 'probe.mjs');
    writeFileSync(
      probe,
      `import('./dist/index.js').then(({ RingFile }) => {
        try { RingFile.open(process.argv[2]).close(); console.log('opened'); } catch (e) { console.log(e.code ?? e.message); }
      }, (e) => console.log('import failed: ' + e.message));`,
    );
    chmodSync(probe, 0o644);
    const isRoot = process.getuid?.() === 0;
    // Root bypasses permission checks, so ask as an unprivileged user when we are root; otherwise the
    // owner itself is the user without permission.
    const asNobody = isRoot ? { uid: 65534, gid: 65534 } : {};
    if (!isRoot) chmodSync(file, 0o000);
    const open = (target: string) => spawnSync(process.execPath, [probe, target], { encoding: 'utf8', ...asNobody }).stdout.trim();
    expect(open(shared)).toBe('opened');
    expect(open(file)).toBe('EACCES');
  });

  it('validates /dev/shm names (ERR_BAD_NAME): no separator, no traversal, not empty', () => {
    for (const name of ['a/b', '..', '.', '', '../etc/passwd', 'x\0y']) {
      expect(codeOf(() => RingFile.shmPath(name)), JSON.stringify(name)).toBe('ERR_BAD_NAME');
    }
    expect(RingFile.shmPath('orders-1')).toBe('/dev/shm/orders-1');
  });

  it('refuses bad creation options before touching the disk', () => {
    const file = diskTestPath('opts');
    expect(codeOf(() => RingFile.create(file, { capacity: 1000 }))).toBe('ERR_BAD_CAPACITY');
    expect(codeOf(() => RingFile.create(file, { capacity: 2 ** 31 }))).toBe('ERR_BAD_CAPACITY');
    expect(codeOf(() => RingFile.create(file, { capacity: 4096, maxRecordLength: 4090 }))).toBe('ERR_BAD_MAX_RECORD_LENGTH');
    expect(codeOf(() => RingFile.open(file))).toBe('ENOENT');
  });
});

describe('roles', () => {
  it('refuses a second producer and a second consumer, naming the holder pid', () => {
    const file = shmTestPath('roles');
    const first = RingFile.create(file, { capacity: 4096 });
    const second = RingFile.open(file);
    const producer = first.producer();
    const error = errorOf(() => second.producer());
    expect(error).toBeInstanceOf(RingUsageError);
    expect(error.code).toBe('ERR_ROLE_TAKEN');
    expect(error.message).toContain(String(process.pid));
    const consumer = second.consumer();
    expect(codeOf(() => first.consumer())).toBe('ERR_ROLE_TAKEN');
    // Leaving a role frees it at once.
    producer.close({ end: false });
    const again = second.producer();
    expect(first.stats().producer.alive).toBe(true);
    again.close();
    consumer.close();
    first.close();
    second.close();
  });

  it('a role held by another process is refused, and freed when that process dies (no stuck lock)', () => {
    const file = shmTestPath('roles-proc');
    const ring = RingFile.create(file, { capacity: 4096 });
    const script = `import('${path.resolve('dist/index.js')}').then(({ RingFile }) => {
      const f = RingFile.open(${JSON.stringify(file)}); f.producer(); console.log('holding'); process.exit(0);
    })`;
    // The child takes the role and exits without closing anything: the kernel drops its lock.
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(result.stdout.trim()).toBe('holding');
    expect(ring.stats().producer.alive).toBe(false);
    const producer = ring.producer();
    expect(ring.stats().producer.pid).toBe(process.pid);
    producer.close();
    ring.close();
  });
});

describe('a hostile peer writing the shared header while running', () => {
  it('planted positions and record lengths give ERR_CORRUPT naming the field, never an out-of-bounds view', () => {
    const file = shmTestPath('hostile');
    const ring = RingFile.create(file, { capacity: 4096, maxRecordLength: 256 });
    const attacker = RingFile.open(file);
    const words = new Int32Array(attacker.buffer, 0, layout.HEADER_LENGTH >> 2);
    const records = new Int32Array(attacker.buffer, layout.HEADER_LENGTH, 4096 >> 2);
    const producer = ring.producer({ publish: 'eager' });
    const consumer = ring.consumer();
    expect(producer.tryWrite(new Uint8Array(10), 1)).toBe(true);
    records[0] = 1 << 30; // length far beyond the mapping
    const lengthError = errorOf(() => consumer.poll(() => undefined));
    expect(lengthError).toBeInstanceOf(RingCorruptError);
    expect(lengthError.field).toBe('record.length');
    expect(lengthError.value).toBe(1 << 30);
    // The refused record is still there, untouched: repair it and it reads normally.
    records[0] = 10;
    expect(consumer.poll((_type, _data, _offset, length) => expect(length).toBe(10))).toBe(1);
    Atomics.store(words, layout.TAIL_INDEX, 0x7fff0000); // tail impossibly far ahead
    const tailError = errorOf(() => consumer.readSync(10));
    expect(tailError.field).toBe('tail');
    expect(readFileSync(file).length).toBe(layout.HEADER_LENGTH + 4096);
    ring.close();
    attacker.close();
  });
});
