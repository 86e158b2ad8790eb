/**
 * Ring files: the same ring, in a file mapped MAP_SHARED by any number of processes (a file in
 * /dev/shm for IPC, a file on disk for a persistent log). The native addon maps the file and hands
 * back a real SharedArrayBuffer; the TypeScript protocol runs over it unchanged. Waiting uses Linux
 * futexes (another process, Node or Go, must be able to wake us); roles are OFD locks, which the
 * kernel drops when a holder dies.
 */
import { loadRelaxed, loadSeqCst, loadAcquire } from './atomics.js';
import { RingConsumer } from './consumer.js';
import { fstatSync, rmSync } from 'node:fs';
import { RingFileError, RingUsageError } from './errors.js';
import { validateRing, ringGeometry, type RingOptions } from './header.js';
import {
  CONSUMER_HEARTBEAT_INDEX,
  CONSUMER_PID_INDEX,
  CONSUMER_STATE_INDEX,
  HEADER_LENGTH,
  HEAD_INDEX,
  PRODUCER_HEARTBEAT_INDEX,
  PRODUCER_PID_INDEX,
  PRODUCER_STATE_INDEX,
  TAIL_INDEX,
} from './layout.js';
import { loadNative, nativeCall, type NativeAddon, type NativeRingFile, type NativeRole } from './native.js';
import type { Parker, WaitResult } from './parker.js';
import { RingProducer, type ProducerOptions } from './producer.js';
import type { SideOptions } from './side.js';

/** Options of both kinds of new ring: a named file (create) and an anonymous one (createAnonymous). */
export interface NewRingFileOptions extends RingOptions {
  /**
   * true: pre-fault the whole mapping at creation (see `RingFile.prefault()`), so that no append
   * pays a page fault: the cost moves to create, as a log that is opened once and then written
   * wants. Default false (pages are faulted in on first touch).
   */
  prefault?: boolean;
}

export interface RingFileOptions extends NewRingFileOptions {
  /**
   * File mode for a new file: permission bits 0o600 ..= 0o777 with owner read-write set (anything
   * else is ERR_BAD_ARGUMENT naming mode). Applied exactly (fchmod), whatever the umask. Default 0o600.
   */
  mode?: number;
  /**
   * true (default): fail with EEXIST if the path exists. false: atomically replace an existing ring
   * file (rename), refused with ERR_IN_USE while a live process holds either of its roles.
   */
  exclusive?: boolean;
}

export interface RingFileOpenOptions {
  /**
   * Refuse a file whose owner (st_uid) is not this uid ('self': the uid of this process), with
   * ERR_WRONG_OWNER naming the uid found: a ring in a shared directory such as /dev/shm may have
   * been planted by another user. Default: any owner the permissions let us open.
   */
  owner?: number | 'self';
}

/** Side options for ring files: the parker, role lock and peer liveness are the file's own. */
export type FileSideOptions = Omit<SideOptions, 'parker' | 'roleLock' | 'peerAlive'>;

export interface PeerStats {
  pid: number;
  /** 0 detached, 1 attached, 2 closed. */
  state: number;
  /** Seconds since the side last published a heartbeat (NaN if it never did). */
  heartbeatAgeSeconds: number;
  /** The side's OFD lock is held by a live open file description (survives kill -9 correctly). */
  alive: boolean;
}

export interface RingFileStats {
  path: string;
  capacity: number;
  maxRecordLength: number;
  head: number;
  tail: number;
  bytesInFlight: number;
  /**
   * memfd seals (F_GET_SEALS): 0x1 SEAL, 0x2 SHRINK, 0x4 GROW, 0x8 WRITE. An anonymous ring has
   * SHRINK | GROW | SEAL (0x7): it cannot be truncated under its mappings. An ordinary tmpfs file
   * reports SEAL only (0x1: it can never be sealed), a disk file 0.
   */
  seals: number;
  producer: PeerStats;
  consumer: PeerStats;
}

const parkers = new WeakMap<NativeAddon, Parker>();

/**
 * Futex parking for memory another process may share: no FUTEX_PRIVATE_FLAG; async waits run on the
 * addon's dedicated waiter thread (never the libuv pool) and can be cancelled.
 */
export function futexParker(): Parker {
  const native = loadNative();
  let parker = parkers.get(native);
  if (parker === undefined) {
    parker = {
      waitSync(words, index, expected, timeoutMs): WaitResult {
        return native.futexWait(words.buffer as SharedArrayBuffer, words.byteOffset + index * 4, expected >>> 0, timeoutMs);
      },
      waitAsync(words, index, expected, timeoutMs, signal): Promise<WaitResult> {
        if (signal?.aborted) return Promise.resolve('ok');
        const pending = native.futexWaitAsync(words.buffer as SharedArrayBuffer, words.byteOffset + index * 4, expected >>> 0, timeoutMs);
        const settled = pending.promise.then((result) => (result === 'cancelled' ? 'ok' : result));
        if (signal === undefined) return settled;
        const onAbort = (): void => pending.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
        return settled.finally(() => signal.removeEventListener('abort', onAbort));
      },
      wake(words, index): void {
        native.futexWake(words.buffer as SharedArrayBuffer, words.byteOffset + index * 4);
      },
    };
    parkers.set(native, parker);
  }
  return parker;
}

const HEARTBEAT_INTERVAL_MS = 1000;

export class RingFile {
  /** The file's path; for an anonymous ring, /proc/<pid>/fd/<fd> of the creating process. */
  readonly path: string;
  /** The whole mapping (header + data): a real SharedArrayBuffer, shareable with worker threads. */
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly maxRecordLength: number;
  private readonly handle: NativeRingFile;
  private readonly words: Int32Array;
  private readonly sides = new Set<RingProducer | RingConsumer>();
  private closed = false;

  private constructor(handle: NativeRingFile) {
    this.handle = handle;
    this.path = handle.path;
    this.buffer = handle.buffer;
    // The addon validated the header against the file size before mapping; validate again here, on
    // the mapping itself, with the same rules every attacher applies.
    const geometry = validateRing(this.buffer);
    this.capacity = geometry.capacity;
    this.maxRecordLength = geometry.maxRecordLength;
    this.words = new Int32Array(this.buffer, 0, HEADER_LENGTH >> 2);
  }

  /** Creates a new ring file (O_EXCL, mode 0600, never following a symlink) and maps it. */
  static create(filePath: string, options: RingFileOptions): RingFile {
    const geometry = ringGeometry(options);
    const mode = options.mode ?? 0o600;
    // Also checked by the core; here first so that every bad mode gets the same code and message.
    if (!Number.isInteger(mode) || mode < 0 || (mode & ~0o777) !== 0 || (mode & 0o600) !== 0o600) {
      throw new RingUsageError(
        'ERR_BAD_ARGUMENT',
        `shmring: cannot create ring file ${filePath}: mode is ${Number.isInteger(mode) && mode >= 0 ? '0o' + mode.toString(8) : String(mode)}, ` +
          'expected permission bits 0o600 ..= 0o777 with owner read and write (0o600) set',
        { field: 'mode', value: mode, expected: '0o600 ..= 0o777 with 0o600 set' },
      );
    }
    const prefault = RingFile.prefaultOption(options);
    const native = loadNative();
    const handle = nativeCall(filePath, () =>
      native.createRingFile(filePath, geometry.capacity, geometry.maxRecordLength, mode, options.exclusive ?? true),
    );
    return RingFile.prefaulted(new RingFile(handle), prefault, filePath);
  }

  /** Opens and maps an existing ring file, refusing anything that is not a valid ring of this version. */
  static open(filePath: string, options: RingFileOpenOptions = {}): RingFile {
    const native = loadNative();
    const owner = RingFile.expectedOwner(options);
    const handle = nativeCall(filePath, () => native.openRingFile(filePath));
    return RingFile.checkedOwner(handle, owner, filePath);
  }

  /**
   * A ring in an anonymous sealed memfd: it has no name, so nobody can plant, replace or remove it,
   * and its seals (no shrink, no grow, no further seals) mean no process can truncate it and kill its
   * peers with SIGBUS. Share it by descriptor: `fd` in a child's `stdio` (the child calls
   * `RingFile.openFd(n)`, the Go peer `shmring.OpenFd(n)`), or the `path` /proc/<pid>/fd/<fd> for a
   * process that may open it (same uid). Freed when the last descriptor and mapping are gone.
   */
  static createAnonymous(options: NewRingFileOptions): RingFile {
    const geometry = ringGeometry(options);
    const prefault = RingFile.prefaultOption(options);
    const native = loadNative();
    return RingFile.prefaulted(new RingFile(nativeCall(undefined, () => native.RingFile.createAnonymous(geometry.capacity, geometry.maxRecordLength))), prefault);
  }

  private static prefaultOption(options: NewRingFileOptions): boolean {
    const { prefault = false } = options;
    if (typeof prefault !== 'boolean') {
      throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: prefault ${String(prefault)} is invalid; expected true or false`, {
        field: 'prefault',
        value: String(prefault),
        expected: 'true or false',
      });
    }
    return prefault;
  }

  /** Pre-faults a new ring when asked; if that fails, the ring is closed (and `created`, its path, removed). */
  private static prefaulted(file: RingFile, prefault: boolean, created?: string): RingFile {
    if (!prefault) return file;
    try {
      file.prefault();
    } catch (error) {
      file.close();
      if (created !== undefined) rmSync(created, { force: true });
      throw error;
    }
    return file;
  }

  /**
   * Opens the ring behind a descriptor of this process (e.g. an anonymous ring inherited through
   * `stdio`). It is reopened through /proc/self/fd, so this RingFile's role locks conflict with those
   * of the descriptor's other holders as between processes; `fd` stays the caller's to close.
   */
  static openFd(fd: number, options: RingFileOpenOptions = {}): RingFile {
    const native = loadNative();
    const owner = RingFile.expectedOwner(options);
    const handle = nativeCall(undefined, () => native.RingFile.openFd(fd));
    return RingFile.checkedOwner(handle, owner, handle.path);
  }

  private static expectedOwner(options: RingFileOpenOptions): number | undefined {
    const { owner } = options;
    if (owner === undefined) return undefined;
    if (owner === 'self') return process.getuid?.();
    if (!Number.isInteger(owner) || owner < 0 || owner > 0xffffffff) {
      throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: owner ${String(owner)} is invalid; expected a uid (integer >= 0) or 'self'`, {
        field: 'owner',
        value: String(owner),
        expected: "a uid or 'self'",
      });
    }
    return owner;
  }

  private static checkedOwner(handle: NativeRingFile, owner: number | undefined, filePath: string): RingFile {
    if (owner !== undefined) {
      // fstat of the descriptor we mapped: the file itself, not whatever the name points at now.
      const uid = fstatSync(handle.fd).uid;
      if (uid !== owner) {
        handle.close();
        throw new RingFileError('ERR_WRONG_OWNER', `shmring: ring file ${filePath} is owned by uid ${uid}, expected uid ${owner}`, {
          field: 'uid',
          value: uid,
          expected: String(owner),
          path: filePath,
        });
      }
    }
    return new RingFile(handle);
  }

  /** The descriptor of this ring file (-1 once closed); for an anonymous ring, the one to share. */
  get fd(): number {
    return this.handle.fd;
  }

  /** memfd seals of the file (F_SEAL_* bits, see RingFileStats.seals). */
  get seals(): number {
    return this.handle.seals;
  }

  /** The /dev/shm path for a ring name (no '/', not '.' or '..'; throws ERR_BAD_NAME). */
  static shmPath(name: string): string {
    const native = loadNative();
    return nativeCall(undefined, () => native.shmPath(name));
  }

  static unlink(filePath: string): void {
    const native = loadNative();
    nativeCall(filePath, () => native.unlink(filePath));
  }

  /** Mappings made by the addon in this process that are not yet unmapped. */
  static liveMappings(): number {
    return loadNative().liveMappings();
  }

  /**
   * Takes the producer role (refused with ERR_ROLE_TAKEN naming the holder's pid while another live
   * producer holds it) and returns a producer that continues after the last published record.
   */
  producer(options: FileSideOptions & Omit<ProducerOptions, 'parker' | 'roleLock' | 'peerAlive'> = {}): RingProducer {
    return this.attach('producer', () =>
      new RingProducer(this.buffer, { ...options, parker: futexParker(), roleLock: 'external', peerAlive: () => this.roleAlive('consumer') }),
    );
  }

  /** Takes the consumer role; the consumer resumes at the last released record. */
  consumer(options: FileSideOptions = {}): RingConsumer {
    return this.attach('consumer', () =>
      new RingConsumer(this.buffer, { ...options, parker: futexParker(), roleLock: 'external', peerAlive: () => this.roleAlive('producer') }),
    );
  }

  /**
   * For a parked side's liveness check (FORMAT.md §6): a side of this same RingFile holds its lock
   * through our own descriptor, which F_OFD_GETLK does not report, so it counts as alive directly.
   */
  private roleAlive(role: NativeRole): boolean {
    for (const side of this.sides) if ((role === 'producer') === side instanceof RingProducer) return true;
    return !this.closed && this.handle.roleHeld(role);
  }

  private attach<T extends RingProducer | RingConsumer>(role: NativeRole, make: () => T): T {
    if (this.closed) throw new RingUsageError('ERR_CLOSED', `shmring: ring file ${this.path} is closed`);
    nativeCall(this.path, () => this.handle.lockRole(role));
    let side: T;
    try {
      side = make();
    } catch (error) {
      this.handle.unlockRole(role);
      throw error;
    }
    // Heartbeats while the event loop runs; a blocked thread also beats at every park. Unref'd: a
    // heartbeat never keeps a process alive.
    const timer = setInterval(() => side.heartbeat(), HEARTBEAT_INTERVAL_MS);
    timer.unref();
    const close = side.close.bind(side) as (options?: object) => void;
    // Leaving the role releases the lock, so a successor can attach at once.
    side.close = ((options?: object): void => {
      if (side.isClosed) return;
      clearInterval(timer);
      close(options);
      this.sides.delete(side);
      if (!this.closed) this.handle.unlockRole(role);
    }) as T['close'];
    this.sides.add(side);
    return side;
  }

  /**
   * Durability: msync of the data area, then of the header page, so positions never reach the disk
   * before the records they cover. Returns when the kernel has written both.
   */
  flush(): void {
    for (const side of this.sides) if (side instanceof RingProducer) side.flush();
    nativeCall(this.path, () => this.handle.flush());
  }

  /**
   * Pre-faults the whole mapping for writing (madvise MADV_POPULATE_WRITE; on kernels before 5.14,
   * a write of nothing to each page): the file's pages are allocated and mapped now, so later
   * writes take no page fault. Changes no byte; safe on a live ring. Costs about what the faults
   * would have (page allocation and zeroing), once, here. Fails (e.g. ENOSPC / ENOMEM) rather than
   * leaving a later write to die of SIGBUS.
   */
  prefault(): void {
    nativeCall(this.path, () => this.handle.prefault());
  }

  stats(): RingFileStats {
    const head = loadAcquire(this.words, HEAD_INDEX) >>> 0;
    const tail = loadAcquire(this.words, TAIL_INDEX) >>> 0;
    const now = Date.now() / 1000;
    const peer = (role: NativeRole, state: number, pid: number, heartbeat: number): PeerStats => {
      const beat = loadRelaxed(this.words, heartbeat) >>> 0;
      const ownSide = [...this.sides].some((side) => (role === 'producer') === side instanceof RingProducer);
      return {
        pid: loadRelaxed(this.words, pid) >>> 0,
        state: loadSeqCst(this.words, state),
        heartbeatAgeSeconds: beat === 0 ? Number.NaN : Math.max(0, now - beat),
        alive: ownSide || (!this.closed && this.handle.roleHeld(role)),
      };
    };
    return {
      path: this.path,
      capacity: this.capacity,
      maxRecordLength: this.maxRecordLength,
      head,
      tail,
      bytesInFlight: (tail - head) >>> 0,
      seals: this.closed ? 0 : this.handle.seals,
      producer: peer('producer', PRODUCER_STATE_INDEX, PRODUCER_PID_INDEX, PRODUCER_HEARTBEAT_INDEX),
      consumer: peer('consumer', CONSUMER_STATE_INDEX, CONSUMER_PID_INDEX, CONSUMER_HEARTBEAT_INDEX),
    };
  }

  /**
   * Detaches any side still open through this file (a producer does not end the stream here: call
   * producer.close() for that), releases the role locks and closes the descriptor. The file's pages
   * are let go now: `buffer`, here and in any worker it was posted to, reads zeros from then on (it
   * never faults) and is unmapped when the last reference to it is gone.
   */
  close(): void {
    if (this.closed) return;
    for (const side of [...this.sides]) {
      if (side instanceof RingProducer) side.close({ end: false });
      else side.close({ detach: true });
    }
    this.closed = true;
    this.handle.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
