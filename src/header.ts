/** Creating a ring's header and validating one found in a region (docs/FORMAT.md §3). */
import { loadAcquire, loadRelaxed, storeRelease } from './atomics.js';
import { RingFormatError, RingUsageError, corrupt, hex } from './errors.js';
import {
  CAPACITY_OFFSET,
  CREATOR_PID_OFFSET,
  FLAGS_OFFSET,
  HEADER_LENGTH,
  HEADER_LENGTH_OFFSET,
  MAGIC_HI,
  MAGIC_HI_OFFSET,
  MAGIC_LO,
  MAGIC_LO_OFFSET,
  MAX_CAPACITY,
  MAX_RECORD_LENGTH_OFFSET,
  MIN_CAPACITY,
  READY_INDEX,
  READY_VALUE,
  RECORD_HEADER_LENGTH,
  ROLE_CLOSED,
  VERSION,
  VERSION_OFFSET,
} from './layout.js';

export interface RingOptions {
  /** Data bytes: a power of two from 64 to 2^30. */
  capacity: number;
  /** Largest payload in bytes; default capacity / 4, at most capacity - 8. */
  maxRecordLength?: number;
}

export interface RingGeometry {
  capacity: number;
  maxRecordLength: number;
  /** Header plus data area: the region's size. */
  byteLength: number;
}

function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
}

/** Checks creation options and fills in defaults; throws RingFormatError naming the bad option. */
export function ringGeometry(options: RingOptions): RingGeometry {
  const { capacity } = options;
  if (
    typeof capacity !== 'number' ||
    !Number.isInteger(capacity) ||
    capacity < MIN_CAPACITY ||
    capacity > MAX_CAPACITY ||
    !isPowerOfTwo(capacity)
  ) {
    throw new RingFormatError(
      'ERR_BAD_CAPACITY',
      `shmring: capacity ${capacity} is invalid; expected a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY}`,
      { field: 'capacity', value: String(capacity), expected: `power of two in [${MIN_CAPACITY}, ${MAX_CAPACITY}]` },
    );
  }
  const maxRecordLength = options.maxRecordLength ?? capacity / 4;
  const limit = capacity - RECORD_HEADER_LENGTH;
  if (!Number.isInteger(maxRecordLength) || maxRecordLength < 1 || maxRecordLength > limit) {
    throw new RingFormatError(
      'ERR_BAD_MAX_RECORD_LENGTH',
      `shmring: maxRecordLength ${maxRecordLength} is invalid; expected an integer from 1 to ${limit} (capacity - 8)`,
      { field: 'maxRecordLength', value: String(maxRecordLength), expected: `1..${limit}` },
    );
  }
  return { capacity, maxRecordLength, byteLength: HEADER_LENGTH + capacity };
}

/**
 * Writes a fresh header into a zero-filled region and publishes it: every metadata field first, the
 * ready word last with a store-release, so an attacher that load-acquires READY sees all of them.
 */
export function initializeRing(buffer: SharedArrayBuffer, options: RingOptions, creatorPid = process.pid): RingGeometry {
  const geometry = ringGeometry(options);
  if (buffer.byteLength !== geometry.byteLength) {
    throw new RingUsageError(
      'ERR_BAD_ARGUMENT',
      `shmring: region is ${buffer.byteLength} bytes; a ring of capacity ${geometry.capacity} needs ${geometry.byteLength}`,
      { field: 'byteLength', value: buffer.byteLength, expected: String(geometry.byteLength) },
    );
  }
  const words = new Int32Array(buffer, 0, HEADER_LENGTH >> 2);
  if (loadRelaxed(words, READY_INDEX) !== 0) {
    throw new RingUsageError('ERR_BAD_ARGUMENT', 'shmring: region already holds a ring header (ready word set)', {
      field: 'ready',
      value: hex(loadRelaxed(words, READY_INDEX)),
      expected: '0 (a zero-filled region)',
    });
  }
  const view = new DataView(buffer, 0, HEADER_LENGTH);
  view.setUint32(MAGIC_LO_OFFSET, MAGIC_LO, true);
  view.setUint32(MAGIC_HI_OFFSET, MAGIC_HI, true);
  view.setUint32(VERSION_OFFSET, VERSION, true);
  view.setUint32(HEADER_LENGTH_OFFSET, HEADER_LENGTH, true);
  view.setUint32(CAPACITY_OFFSET, geometry.capacity, true);
  view.setUint32(MAX_RECORD_LENGTH_OFFSET, geometry.maxRecordLength, true);
  view.setUint32(FLAGS_OFFSET, 0, true);
  view.setUint32(CREATOR_PID_OFFSET, creatorPid >>> 0, true);
  storeRelease(words, READY_INDEX, READY_VALUE | 0);
  return geometry;
}

/** A new in-memory ring: a SharedArrayBuffer to hand to a producer and a consumer (any threads). */
export function createRing(options: RingOptions): SharedArrayBuffer {
  const geometry = ringGeometry(options);
  const buffer = new SharedArrayBuffer(geometry.byteLength);
  initializeRing(buffer, geometry);
  return buffer;
}

function refuse(code: ConstructorParameters<typeof RingFormatError>[0], field: string, value: number, expected: string, shown = String(value)): never {
  throw new RingFormatError(code, `shmring: not a usable ring: ${field} is ${shown}; expected ${expected}`, {
    field,
    value,
    expected,
  });
}

/**
 * Validates the header of a region someone else created (FORMAT.md §3) and returns its geometry.
 * Each value is read once, checked, then used; a refusal names the field, the value and the rule.
 */
export function validateRing(buffer: SharedArrayBuffer): RingGeometry {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new RingFormatError('ERR_NOT_SHARED', 'shmring: a ring lives in a SharedArrayBuffer; got ' + Object.prototype.toString.call(buffer), {
      field: 'buffer',
      expected: 'SharedArrayBuffer',
    });
  }
  const size = buffer.byteLength;
  if (size < HEADER_LENGTH + MIN_CAPACITY) {
    refuse('ERR_TRUNCATED', 'byteLength', size, `at least ${HEADER_LENGTH + MIN_CAPACITY} (header + minimum capacity)`);
  }
  const words = new Int32Array(buffer, 0, HEADER_LENGTH >> 2);
  const view = new DataView(buffer, 0, HEADER_LENGTH);
  const ready = loadAcquire(words, READY_INDEX) >>> 0;
  const magicLo = view.getUint32(MAGIC_LO_OFFSET, true);
  const magicHi = view.getUint32(MAGIC_HI_OFFSET, true);
  if (magicLo !== MAGIC_LO || magicHi !== MAGIC_HI) {
    refuse('ERR_BAD_MAGIC', 'magic', magicLo, `${hex(MAGIC_HI)}${hex(MAGIC_LO).slice(2)} ("SHMRING\\0")`, `${hex(magicHi)}${hex(magicLo).slice(2)}`);
  }
  if (ready !== READY_VALUE) {
    refuse('ERR_NOT_READY', 'ready', ready, `${hex(READY_VALUE)} (the creator has not finished writing the header)`, hex(ready));
  }
  const version = view.getUint32(VERSION_OFFSET, true);
  if (version !== VERSION) refuse('ERR_BAD_VERSION', 'version', version, String(VERSION));
  const headerLength = view.getUint32(HEADER_LENGTH_OFFSET, true);
  if (headerLength !== HEADER_LENGTH) refuse('ERR_BAD_HEADER_LENGTH', 'headerLength', headerLength, String(HEADER_LENGTH));
  const capacity = view.getUint32(CAPACITY_OFFSET, true);
  if (capacity < MIN_CAPACITY || capacity > MAX_CAPACITY || !isPowerOfTwo(capacity)) {
    refuse('ERR_BAD_CAPACITY', 'capacity', capacity, `a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY}`);
  }
  if (headerLength + capacity !== size) {
    refuse('ERR_SIZE_MISMATCH', 'capacity', capacity, `${size - headerLength} (region size ${size} - header ${headerLength})`);
  }
  const maxRecordLength = view.getUint32(MAX_RECORD_LENGTH_OFFSET, true);
  if (maxRecordLength < 1 || maxRecordLength > capacity - RECORD_HEADER_LENGTH) {
    refuse('ERR_BAD_MAX_RECORD_LENGTH', 'maxRecordLength', maxRecordLength, `1..${capacity - RECORD_HEADER_LENGTH} (capacity - 8)`);
  }
  const flags = view.getUint32(FLAGS_OFFSET, true);
  if (flags !== 0) refuse('ERR_BAD_FLAGS', 'flags', flags, '0 (no flags are defined in version 1)', hex(flags));
  return { capacity, maxRecordLength, byteLength: size };
}

/**
 * Returns a role state word read from shared memory if it is one of the three states (0 detached,
 * 1 attached, 2 closed), else throws ERR_CORRUPT naming `field`: a peer waiting on an impossible
 * state would otherwise wait for an end of stream that can never be recognised.
 */
export function checkRoleState(field: 'producerState' | 'consumerState', state: number): number {
  if (state >>> 0 > ROLE_CLOSED) throw corrupt(field, state >>> 0, '0 (detached), 1 (attached) or 2 (closed)');
  return state;
}
