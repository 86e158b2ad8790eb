/**
 * Loads the native addon (build/Release/shmring.node) and describes its surface. The addon maps ring
 * files as real SharedArrayBuffers, waits and wakes on futex words, takes role locks and msyncs. It is
 * never called per record.
 */
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
  lockRole(role: NativeRole): void;
  unlockRole(role: NativeRole): void;
  /** Whether another open file description (another process, or another open) holds the role's lock. */
  roleHeld(role: NativeRole): boolean;
  flush(): void;
  close(): void;
}

export interface NativeAddon {
  createRingFile(path: string, capacity: number, maxRecordLength: number, mode: number, exclusive: boolean): NativeRingFile;
  openRingFile(path: string): NativeRingFile;
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
}

const addonPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'shmring.node');
let addon: NativeAddon | undefined;

/** The addon, loaded once; throws RingError ERR_NATIVE_UNAVAILABLE saying how to build it. */
export function loadNative(): NativeAddon {
  if (addon !== undefined) return addon;
  if (process.platform !== 'linux') {
    throw new RingError('ERR_NATIVE_UNAVAILABLE', `shmring: ring files need Linux (futex, OFD locks); this is ${process.platform}. In-memory rings (createRing) work everywhere.`);
  }
  try {
    addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (cause) {
    throw new RingError(
      'ERR_NATIVE_UNAVAILABLE',
      `shmring: cannot load the native addon at ${addonPath}: ${(cause as Error).message}\n` +
        'Build it with `npm rebuild shmring` (or `node scripts/build-native.mjs` in a checkout). It needs a C++17 ' +
        'compiler, make, python3, and the headers of this Node at <node prefix>/include/node.',
    );
  }
  return addon;
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
