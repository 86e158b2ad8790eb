/**
 * Typed errors. Full and empty are normal results, never errors; these are for misuse, a foreign or
 * corrupt ring, and closed rings. Each carries a stable `code` and, where one value was wrong, the
 * `field`, the `value` found and the `expected` limit, all named in the message too.
 */

export type RingErrorCode =
  // Refusing a region that is not a usable ring (attach/open), or bad creation arguments.
  | 'ERR_NOT_SHARED'
  | 'ERR_TRUNCATED'
  | 'ERR_BAD_MAGIC'
  | 'ERR_BAD_VERSION'
  | 'ERR_BAD_HEADER_LENGTH'
  | 'ERR_BAD_CAPACITY'
  | 'ERR_BAD_MAX_RECORD_LENGTH'
  | 'ERR_BAD_FLAGS'
  | 'ERR_SIZE_MISMATCH'
  | 'ERR_NOT_READY'
  // A value read from shared memory broke an invariant while running.
  | 'ERR_CORRUPT'
  // Misuse by the caller of this side.
  | 'ERR_RECORD_TOO_LONG'
  | 'ERR_BAD_TYPE'
  | 'ERR_BAD_ARGUMENT'
  | 'ERR_CLAIM_OPEN'
  | 'ERR_NO_CLAIM'
  | 'ERR_RECORD_HELD'
  | 'ERR_NO_RECORD'
  | 'ERR_RELEASED'
  | 'ERR_ROLE_TAKEN'
  | 'ERR_BUSY'
  // Ring files and the native addon (plus errno names such as ENOENT, EEXIST, EACCES).
  | 'ERR_NATIVE_UNAVAILABLE'
  // An unexpected C++ exception inside the addon, turned into a JS error at its boundary.
  | 'ERR_NATIVE'
  | 'ERR_BAD_NAME'
  | 'ERR_BAD_PATH'
  | 'ERR_SYMLINK'
  | 'ERR_NOT_REGULAR_FILE'
  | 'ERR_BAD_MODE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_THREAD'
  | 'ERR_IN_USE'
  | 'ERR_WRONG_OWNER'
  // Lifecycle.
  | 'ERR_CLOSED'
  | 'ERR_TIMEOUT'
  // The peer's holder is gone without leaving its role (a ring file's OFD lock is free while its state says attached).
  | 'ERR_PEER_DEAD';

export interface RingErrorDetails {
  field?: string;
  value?: number | string;
  expected?: string;
}

export class RingError extends Error {
  readonly code: RingErrorCode;
  readonly field: string | undefined;
  readonly value: number | string | undefined;
  readonly expected: string | undefined;

  constructor(code: RingErrorCode, message: string, details: RingErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.field = details.field;
    this.value = details.value;
    this.expected = details.expected;
  }
}

/** The region is not a ring this version can use (foreign, truncated, not initialised), or bad creation options. */
export class RingFormatError extends RingError {}

/** A position or record header read from shared memory is impossible: the peer is broken or hostile. */
export class RingCorruptError extends RingError {}

/** The caller broke the API contract (too long a record, commit without claim, use after release...). */
export class RingUsageError extends RingError {}

/** The ring, or the peer, was closed. */
export class RingClosedError extends RingError {}

/** A ring file could not be created, opened or used (the `code` is an errno name or ERR_*; `path` says which file). */
export class RingFileError extends RingError {
  readonly path: string | undefined;
  constructor(code: RingErrorCode | string, message: string, details: RingErrorDetails & { path?: string } = {}) {
    super(code as RingErrorCode, message, details);
    this.path = details.path;
  }
}

/**
 * The peer died without leaving its role: a waiting side learned it from the peer's ring-file lock
 * (free while the peer's state word still says attached). `field`/`value` name the peer's last pid.
 * Records it published before dying were all delivered first. Distinct from RingClosedError: a peer
 * that closed normally gives the end of the stream (or ERR_CLOSED), never this.
 */
export class RingPeerDeadError extends RingError {}

/** A blocking or awaitable operation ran out of time. */
export class RingTimeoutError extends RingError {}

export function hex(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

/** Builds a corruption error naming the field, the value and the broken invariant. */
export function corrupt(field: string, value: number, expected: string, where = ''): RingCorruptError {
  return new RingCorruptError(
    'ERR_CORRUPT',
    `shmring: corrupt ring: ${field} ${value}${where} is invalid; expected ${expected}`,
    { field, value, expected },
  );
}

/** A record payload that is not a Uint8Array (its `length` would not be a byte count). */
export function badPayload(payload: unknown): RingUsageError {
  const found = payload === null ? 'null' : typeof payload === 'object' ? Object.prototype.toString.call(payload) : typeof payload;
  return new RingUsageError('ERR_BAD_ARGUMENT', `shmring: payload is ${found}; expected a Uint8Array (or Buffer)`, {
    field: 'payload',
    value: found,
    expected: 'Uint8Array',
  });
}
