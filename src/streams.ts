/**
 * Node.js stream adapters for ring sides: a Readable over a RingConsumer and a Writable over a
 * RingProducer, usable with `stream.pipeline`, `for await`, and everything else that speaks streams.
 *
 * Modes:
 * - 'bytes' (default): a byte stream. The Writable cuts chunks into records of at most
 *   maxRecordLength bytes (type `options.type`, default 0); the Readable emits each record's payload as
 *   a Buffer, whatever its type.
 * - 'records': objectMode. The Writable takes Uint8Arrays (type `options.type`) or `{ type, data }`;
 *   the Readable emits `{ type, data }` records. One chunk is one record.
 *
 * Chunks handed to stream consumers outlive the ring's memory, so the Readable copies each record
 * once (a stream cannot lend a view that the next read recycles); use `consumer.poll` or the
 * consumer's own async iterator for zero-copy access.
 *
 * Backpressure: the Readable polls only when the stream asks for data (`_read`) and parks on the ring
 * (Atomics.waitAsync, or the futex waiter for ring files) when it is empty, never a busy loop; the
 * Writable completes a write only once the record is in the ring, waiting on the ring when it is full.
 * Memory in flight is the ring plus the streams' highWaterMarks.
 *
 * Errors, both ways:
 * - the reading side closes its consumer when its stream is destroyed (a downstream failure in
 *   stream.pipeline, or destroy()), so the writing stream fails its next write with RingClosedError
 *   (ERR_CLOSED) instead of filling a ring nobody reads;
 * - the writing side, destroyed with an error (or before end()), writes an *error record* (type
 *   STREAM_ERROR_TYPE = 0xFFFF, payload JSON { name, message, code }) and ends the ring; the Readable
 *   turns it into a RingStreamError. If the ring is full the error record waits for room in the
 *   background (or until the reader closes), so it is never lost and never overwrites data;
 * - a corrupt ring or a closed side is a typed RingError on the stream.
 */
import { Readable, Writable } from 'node:stream';
import { loadSeqCst } from './atomics.js';
import type { RingConsumer } from './consumer.js';
import { RingClosedError, RingUsageError } from './errors.js';
import { CONSUMER_STATE_INDEX, HEADER_LENGTH, MAX_TYPE, ROLE_CLOSED } from './layout.js';
import type { RingProducer } from './producer.js';

/** Record type the stream adapters reserve for an error record. Stream record types are 0 ..= 0xFFFE. */
export const STREAM_ERROR_TYPE = 0xffff;

export type RingStreamMode = 'bytes' | 'records';

/** What a 'records' Readable emits and a 'records' Writable accepts (besides a bare Uint8Array). */
export interface RingRecord {
  type: number;
  data: Uint8Array;
}

export interface RingReadableOptions {
  mode?: RingStreamMode;
  /** Stream highWaterMark: bytes in 'bytes' mode, records in 'records' mode. */
  highWaterMark?: number;
  /** Destroys the stream (AbortError) and closes the consumer. */
  signal?: AbortSignal;
  /** Most records taken from the ring per read. Default 64. */
  batchRecords?: number;
}

export interface RingWritableOptions {
  mode?: RingStreamMode;
  /** Record type of byte chunks and bare Uint8Array records. Default 0. */
  type?: number;
  /** Stream highWaterMark: bytes in 'bytes' mode, records in 'records' mode. */
  highWaterMark?: number;
  signal?: AbortSignal;
}

/** The writing side of the ring failed or was destroyed; carried across the ring by an error record. */
export class RingStreamError extends Error {
  readonly code: string;
  /** The `name` of the error on the writing side. */
  readonly remoteName: string;

  constructor(message: string, remoteName: string, code: string | undefined) {
    super(`shmring stream: the writing side failed: ${message}`);
    this.name = 'RingStreamError';
    this.remoteName = remoteName;
    this.code = code ?? 'ERR_RING_WRITER_FAILED';
  }
}

function checkMode(mode: unknown): RingStreamMode {
  if (mode === undefined) return 'bytes';
  if (mode === 'bytes' || mode === 'records') return mode;
  throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: stream mode ${String(mode)} is invalid; expected 'bytes' or 'records'`, {
    field: 'mode',
    value: String(mode),
    expected: "'bytes' | 'records'",
  });
}

function checkType(type: unknown): number {
  if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type >= STREAM_ERROR_TYPE) {
    throw new RingUsageError('ERR_BAD_TYPE', `shmring: stream record type ${String(type)} is invalid; expected an integer from 0 to ${MAX_TYPE - 1} (0xFFFF carries errors)`, {
      field: 'type',
      value: String(type),
      expected: `0..${MAX_TYPE - 1}`,
    });
  }
  return type;
}

/**
 * Keeps the event loop alive while `pending` is unsettled. A pending Atomics.waitAsync does not, so a
 * stream parked on a ring would otherwise let the process exit mid-stream; a socket keeps its
 * process alive while it waits, and so do these streams.
 */
function keepAliveWhile<T>(pending: Promise<T>): Promise<T> {
  const handle = setInterval(() => undefined, 0x7fffffff);
  return pending.finally(() => clearInterval(handle));
}

function decodeErrorRecord(data: Uint8Array, offset: number, length: number): RingStreamError {
  try {
    const parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset + offset, length).toString('utf8')) as {
      name?: unknown;
      message?: unknown;
      code?: unknown;
    };
    return new RingStreamError(String(parsed.message ?? ''), String(parsed.name ?? 'Error'), typeof parsed.code === 'string' ? parsed.code : undefined);
  } catch {
    return new RingStreamError('(unreadable error record)', 'Error', undefined);
  }
}

function encodeErrorRecord(error: unknown, maxLength: number): Uint8Array {
  const source = error instanceof Error ? error : new Error(String(error));
  const code = (source as { code?: unknown }).code;
  let message = source.message;
  for (;;) {
    const bytes = Buffer.from(JSON.stringify({ name: source.name, message, code: typeof code === 'string' ? code : undefined }), 'utf8');
    if (bytes.length <= maxLength || message.length === 0) return bytes.length <= maxLength ? bytes : new Uint8Array(0);
    message = message.slice(0, Math.floor(message.length / 2));
  }
}

/**
 * A Readable over `consumer` (which the stream then owns: destroying the stream closes it). Ends when
 * the producer closes with end of stream; fails with RingStreamError when the producer side sent an
 * error record.
 */
export function createRingReadable(consumer: RingConsumer, options: RingReadableOptions = {}): Readable {
  const records = checkMode(options.mode) === 'records';
  const limit = options.batchRecords ?? 64;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: batchRecords ${limit} is invalid; expected an integer >= 1`, { field: 'batchRecords', value: limit });
  }
  const stop = new AbortController();
  const taken: Array<Buffer | RingRecord> = [];
  let peerError: RingStreamError | undefined;
  /** The stream asked for data (read() was called) since the pump last looked. */
  let requested = false;
  let pumping = false;

  // Copies each record out of the ring (the chunk outlives the poll); allocation is per record.
  const take = (type: number, data: Uint8Array, offset: number, length: number): void => {
    if (type === STREAM_ERROR_TYPE) {
      peerError ??= decodeErrorRecord(data, offset, length);
      return;
    }
    const copy = Buffer.allocUnsafe(length);
    copy.set(data.subarray(offset, offset + length));
    taken.push(records ? { type, data: copy } : copy);
  };

  const readable = new Readable({
    objectMode: records,
    highWaterMark: options.highWaterMark,
    signal: options.signal,
    read() {
      // Node calls read() once and then waits for a push; it may call it again from inside push().
      requested = true;
      if (!pumping) void pump();
    },
    destroy(error, callback) {
      stop.abort(error ?? new RingClosedError('ERR_CLOSED', 'shmring: stream destroyed'));
      // Closing the consumer for good tells the writing side nobody will read (its writes fail).
      consumer.close();
      callback(error);
    },
  });
  const batch = records ? Math.min(limit, readable.readableHighWaterMark) : limit;

  /** Delivers records while the stream wants them; parks on the ring when it is empty. */
  async function pump(): Promise<void> {
    pumping = true;
    try {
      while (requested && !readable.destroyed) {
        requested = false;
        let count = consumer.poll(take, batch);
        if (count === 0) {
          if (consumer.ended) {
            readable.push(null);
            return;
          }
          count = await keepAliveWhile(consumer.pollAsync(take, batch, { signal: stop.signal }));
          if (readable.destroyed) return;
          if (count === 0) {
            readable.push(null);
            return;
          }
        }
        let wantMore = true;
        for (const chunk of taken) wantMore = readable.push(chunk);
        taken.length = 0;
        if (peerError !== undefined) {
          readable.destroy(peerError);
          return;
        }
        if (wantMore) requested = true;
      }
    } catch (error) {
      if (!readable.destroyed) readable.destroy(error as Error);
    } finally {
      pumping = false;
    }
  }

  return readable;
}

/**
 * A Writable into `producer` (which the stream then owns). `end()` publishes everything and closes
 * the producer with end of stream; destroying it with an error sends an error record to the reader.
 * A write fails with RingClosedError (ERR_CLOSED) once the consumer has closed.
 */
export function createRingWritable(producer: RingProducer, options: RingWritableOptions = {}): Writable {
  const records = checkMode(options.mode) === 'records';
  const defaultType = checkType(options.type ?? 0);
  const maxRecordLength = producer.maxRecordLength;
  const words = new Int32Array(producer.buffer, 0, HEADER_LENGTH >> 2);
  const stop = new AbortController();
  /** The write waiting for room, if any: the error record must queue behind it (one wait per side). */
  let waiting: Promise<void> | undefined;

  const consumerClosed = (): boolean => loadSeqCst(words, CONSUMER_STATE_INDEX) === ROLE_CLOSED;
  const closedError = (): RingClosedError =>
    new RingClosedError('ERR_CLOSED', 'shmring: the ring consumer closed; nobody will read this stream', { field: 'consumerState', value: ROLE_CLOSED });

  const recordOf = (chunk: unknown): RingRecord => {
    if (chunk instanceof Uint8Array) return { type: defaultType, data: chunk };
    if (chunk !== null && typeof chunk === 'object' && (chunk as RingRecord).data instanceof Uint8Array) {
      const type = (chunk as RingRecord).type;
      return { type: type === undefined ? defaultType : checkType(type), data: (chunk as RingRecord).data };
    }
    throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: a 'records' stream takes Uint8Array or { type, data } chunks; got ${chunk === null ? 'null' : typeof chunk}`);
  };

  /** Writes each piece, synchronously while there is room, then waiting for room. */
  const writePieces = (pieces: RingRecord[], callback: (error?: Error | null) => void): void => {
    if (consumerClosed()) {
      callback(closedError());
      return;
    }
    let index = 0;
    try {
      while (index < pieces.length && producer.tryWrite(pieces[index].data, pieces[index].type)) index++;
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (index === pieces.length) {
      callback();
      return;
    }
    const rest = pieces.slice(index);
    waiting = keepAliveWhile(
      (async () => {
        for (const piece of rest) await producer.write(piece.data, piece.type, { signal: stop.signal });
      })(),
    );
    waiting.then(
      () => {
        waiting = undefined;
        callback();
      },
      (error: unknown) => {
        waiting = undefined;
        callback(error as Error);
      },
    );
  };

  const piecesOf = (chunk: unknown): RingRecord[] => {
    if (records) {
      const record = recordOf(chunk);
      if (record.data.length > maxRecordLength) {
        throw new RingUsageError(
          'ERR_RECORD_TOO_LONG',
          `shmring: record of ${record.data.length} bytes is longer than the ring's maxRecordLength ${maxRecordLength}`,
          { field: 'length', value: record.data.length, expected: `0..${maxRecordLength}` },
        );
      }
      return [record];
    }
    const bytes = chunk as Uint8Array;
    const pieces: RingRecord[] = [];
    for (let offset = 0; offset < bytes.length; offset += maxRecordLength) {
      pieces.push({ type: defaultType, data: bytes.subarray(offset, Math.min(bytes.length, offset + maxRecordLength)) });
    }
    return pieces;
  };

  return new Writable({
    objectMode: records,
    highWaterMark: options.highWaterMark,
    signal: options.signal,
    write(chunk, _encoding, callback) {
      let pieces: RingRecord[];
      try {
        pieces = piecesOf(chunk);
      } catch (error) {
        callback(error as Error);
        return;
      }
      writePieces(pieces, callback);
    },
    writev(chunks, callback) {
      let pieces: RingRecord[];
      try {
        pieces = chunks.flatMap(({ chunk }) => piecesOf(chunk));
      } catch (error) {
        callback(error as Error);
        return;
      }
      writePieces(pieces, callback);
    },
    final(callback) {
      try {
        producer.close({ end: true });
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    destroy(error, callback) {
      stop.abort(error ?? new RingClosedError('ERR_CLOSED', 'shmring: stream destroyed'));
      if (producer.isClosed) {
        callback(error);
        return;
      }
      // Destroyed before end(): the reader must see a failure, not a clean end. The error record goes
      // in now if there is room, else as soon as there is (or until the reader closes).
      const record = encodeErrorRecord(error ?? new Error('the writable stream was destroyed before end()'), maxRecordLength);
      const sendErrorRecord = async (): Promise<void> => {
        await waiting?.catch(() => undefined);
        try {
          if (!consumerClosed() && !producer.tryWrite(record, STREAM_ERROR_TYPE)) await producer.write(record, STREAM_ERROR_TYPE);
        } finally {
          producer.close({ end: true });
        }
      };
      // Kept alive like a waiting write: a worker (or process) that has nothing else to do would
      // otherwise exit while the error record waits for room, and the reader would wait forever.
      keepAliveWhile(sendErrorRecord()).catch(() => undefined);
      callback(error);
    },
  });
}
