/**
 * Loads the native addon (a prebuild or build/Release/shmring.node, through node-gyp-build) and describes its surface. The addon maps ring
 * files as real SharedArrayBuffers, waits and wakes on futex words, takes role locks and msyncs. It is
 * never called per record.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RingError, RingFileError, RingFormatError, RingUsageError, type RingErrorCode } from './errors.js';
import type { WaitResult } from './parker.js';

export type NativeRole = 'producer' | 'consumer';

/** An opaque handle of native detachAtExit. */
export type NativeExitHook = { readonly __nativeExitHook: unique symbol };

export interface NativeRingFile {
  /** The whole mapping (header + data) as a SharedArrayBuffer; the same object on every access. */
  readonly buffer: SharedArrayBuffer;
  readonly path: string;
  readonly size: number;
  readonly fd: number;
  /** memfd seals (F_GET_SEALS bits); 0 for an ordinary file. */
  readonly seals: number;
  lockRole(role: NativeRole): void;
  unlockRole(role: NativeRole): void;
  /** Whether another open file description (another process, or another open) holds the role's lock. */
  roleHeld(role: NativeRole): boolean;
  flush(): void;
  prefault(): void;
  close(): void;
}

export interface NativeAddon {
  createRingFile(path: string, capacity: number, maxRecordLength: number, mode: number, exclusive: boolean): NativeRingFile;
  openRingFile(path: string): NativeRingFile;
  readonly RingFile: {
    /** A ring in a sealed memfd (no shrink, no grow, no further seals). */
    createAnonymous(capacity: number, maxRecordLength: number): NativeRingFile;
    /** The ring behind a descriptor of this process, reopened (its own open file description). */
    openFd(fd: number): NativeRingFile;
  };
  shmPath(name: string): string;
  unlink(path: string): void;
  futexWait(buffer: SharedArrayBuffer, byteOffset: number, expected: number, timeoutMs: number): WaitResult;
  futexWake(buffer: SharedArrayBuffer, byteOffset: number, count?: number): number;
  futexWaitAsync(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    expected: number,
    timeoutMs: number,
  ): { promise: Promise<WaitResult | 'cancelled'>; cancel(): void };
  liveMappings(): number;
  isRingFileBuffer(buffer: SharedArrayBuffer): boolean;
  /** Detaches the role of an in-memory ring's side when this thread's environment is torn down (worker.terminate()); undefined if it cannot (never throws). */
  detachAtExit(buffer: SharedArrayBuffer, role: NativeRole): NativeExitHook | undefined;
  /** The side left its role itself: nothing to do at exit. Idempotent. */
  cancelDetachAtExit(handle: NativeExitHook): void;
  readonly constants: Readonly<Record<string, number>>;
  /** How ring-file SharedArrayBuffers are made (native/src/addon/sab.cc): see NativeInfo.sabPath. */
  readonly sabPath: 'node-api' | 'v8';
}

export interface NativeInfo {
  /**
   * How the loaded addon makes a ring file's SharedArrayBuffer: `'node-api'` with
   * node_api_create_external_sharedarraybuffer, where the Node headers it was built against declare
   * it (Node 22.23+, 24.22+, 26), `'v8'` with raw V8 otherwise (Node 20).
   */
  readonly sabPath: 'node-api' | 'v8';
}

/** Facts about the loaded native addon; throws ERR_NATIVE_UNAVAILABLE like loadNative(). */
export function nativeInfo(): NativeInfo {
  return { sabPath: loadNative().sabPath };
}

// The package root: node-gyp-build looks there for build/Release/shmring.node (a build from source)
// and then prebuilds/linux-x64/node.abi<N>.glibc.node (shipped in the npm package, one per Node line).
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let addon: NativeAddon | undefined;

/** The addon, loaded once; throws RingError ERR_NATIVE_UNAVAILABLE saying what is missing and how to fix it. */
export function loadNative(): NativeAddon {
  if (addon !== undefined) return addon;
  if (process.platform !== 'linux') {
    throw new RingError('ERR_NATIVE_UNAVAILABLE', `shmring: ring files need Linux (futex, OFD locks); this is ${process.platform}. In-memory rings (createRing) work everywhere.`);
  }
  const switchedOff = process.env.SHMRING_NO_NATIVE;
  if (switchedOff !== undefined && switchedOff !== '' && switchedOff !== '0') {
    throw new RingError('ERR_NATIVE_UNAVAILABLE', `shmring: the native addon is switched off (SHMRING_NO_NATIVE=${switchedOff}), so ring files are unavailable. In-memory rings (createRing) work.`);
  }
  const require = createRequire(import.meta.url);
  let found = '(none)';
  try {
    const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
    found = chooseAddon(packageRoot, nodeGypBuild.path(packageRoot), Number(process.versions.modules));
    addon = require(found) as NativeAddon;
  } catch (cause) {
    if (cause instanceof RingError) throw cause;
    throw new RingError(
      'ERR_NATIVE_UNAVAILABLE',
      `shmring: cannot load the native addon (found: ${found}) for Node ${process.version} ` +
        `(ABI ${process.versions.modules}, ${process.platform}-${process.arch}): ${(cause as Error).message}\n` +
        'Build it from source with `npm rebuild shmring` (or `node scripts/build-native.mjs` in a checkout). It needs a ' +
        'C++17 compiler, make, python3, and the headers of this Node at <node prefix>/include/node.',
    );
  }
  return addon;
}

/**
 * Which addon file to load, given the one node-gyp-build found. node-gyp-build takes a build from
 * source (build/Release) before the prebuilds, and a build does not say which Node it was made for
 * at load time: an addon registered through Node-API is loaded by any Node, and one made with raw V8
 * (the Node 20 path of sab.cc) must not run under another V8. So a build from source made for
 * another Node (node-gyp records node_module_version in build/config.gypi) gives way to this Node's
 * prebuild when the package has one, and is refused otherwise, before it is loaded.
 */
export function chooseAddon(root: string, found: string, moduleVersion: number): string {
  const buildDir = path.join(root, 'build');
  if (!found.startsWith(buildDir + path.sep)) return found;
  let builtFor: number | undefined;
  try {
    const match = /"node_module_version":\s*(\d+)/.exec(readFileSync(path.join(buildDir, 'config.gypi'), 'utf8'));
    builtFor = match ? Number(match[1]) : undefined;
  } catch {
    builtFor = undefined;
  }
  if (builtFor === undefined || builtFor === moduleVersion) return found;
  const prebuilds = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const names = existsSync(prebuilds) ? readdirSync(prebuilds).filter((name) => name.startsWith(`node.abi${moduleVersion}.`) && name.endsWith('.node')) : [];
  const prebuild = names.find((name) => !name.includes('.musl.')) ?? names[0];
  if (prebuild !== undefined) return path.join(prebuilds, prebuild);
  throw new RingError(
    'ERR_NATIVE_UNAVAILABLE',
    `shmring: the native addon ${found} was built from source for Node ABI ${builtFor} (build/config.gypi), and this is ` +
      `Node ${process.version} (ABI ${moduleVersion}); it is not loaded. Rebuild it for this Node with \`npm rebuild shmring\` ` +
      '(or `node scripts/build-native.mjs` in a checkout).',
  );
}

const FORMAT_CODES = new Set([
  'ERR_TRUNCATED',
  'ERR_BAD_MAGIC',
  'ERR_BAD_VERSION',
  'ERR_BAD_HEADER_LENGTH',
  'ERR_BAD_CAPACITY',
  'ERR_BAD_MAX_RECORD_LENGTH',
  'ERR_BAD_FLAGS',
  'ERR_SIZE_MISMATCH',
  'ERR_NOT_READY',
]);

/**
 * Re-throws an addon error as the matching typed error, keeping its code, field, value and message:
 * format refusals as RingFormatError, a taken role as RingUsageError, the rest as RingFileError.
 */
export function nativeCall<T>(filePath: string | undefined, call: () => T): T {
  try {
    return call();
  } catch (error) {
    const e = error as Error & { code?: string; field?: string; value?: number | string; expected?: string };
    if (typeof e?.code !== 'string' || e instanceof RingError) throw error;
    const details = { field: e.field, value: e.value, expected: e.expected };
    if (FORMAT_CODES.has(e.code)) throw new RingFormatError(e.code as RingErrorCode, e.message, details);
    if (e.code === 'ERR_ROLE_TAKEN') throw new RingUsageError('ERR_ROLE_TAKEN', e.message, details);
    throw new RingFileError(e.code, e.message, { ...details, path: filePath });
  }
}
