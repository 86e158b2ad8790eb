/**
 * What the producer and the consumer share: typed views over one region, the role protocol, and the
 * park/wake protocol of docs/FORMAT.md §6 (spin, then park on a doorbell with a waiting flag).
 */
import {
  compareExchangeSeqCst,
  fetchAddSeqCst,
  loadAcquire,
  loadRelaxed,
  loadSeqCst,
  storeRelaxed,
  storeSeqCst,
} from './atomics.js';
import { RingClosedError, RingTimeoutError, RingUsageError, corrupt } from './errors.js';
import { validateRing, type RingGeometry } from './header.js';
import { HEADER_LENGTH, ROLE_ATTACHED, ROLE_CLOSED, ROLE_DETACHED } from './layout.js';
import { atomicsParker, type Parker } from './parker.js';

export type Role = 'producer' | 'consumer';

export interface SideOptions {
  /** Polls of the peer's position before parking. 0 parks at once. Default 2000 (a few microseconds). */
  spin?: number;
  /** How to park and wake. Default: Atomics (threads of one process). Ring files pass a futex parker. */
  parker?: Parker;
  /**
   * 'claim' (default): take the role with a compare-and-swap on its state word, refusing a second
   * holder. 'external': the caller already holds the role (ring files hold an OFD lock), just attach.
   */
  roleLock?: 'claim' | 'external';
}

interface RoleWords {
  state: number;
  pid: number;
  heartbeat: number;
  waiting: number;
  /** The doorbell this side parks on. */
  ownDoorbell: number;
  /** The peer's state word, and the doorbell/flag used to wake the peer. */
  peerState: number;
  peerWaiting: number;
  peerDoorbell: number;
}

export abstract class RingSide {
  /** The header words (Int32 view of bytes [0, 4096)); every shared control word lives here. */
  protected readonly words: Int32Array;
  /** The data area as Int32 words, for record headers (offsets are 8-aligned, so index = offset >> 2). */
  protected readonly recordWords: Int32Array;
  /** The data area as bytes. Payload offsets handed out by this side index into it. */
  readonly data: Uint8Array;
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly maxRecordLength: number;
  protected readonly mask: number;
  protected readonly parker: Parker;
  protected readonly spin: number;
  protected readonly role: Role;
  private readonly roleWords: RoleWords;
  private readonly closeController = new AbortController();
  private waiting = false;
  protected closed = false;
  /** The role word before this side took it: restored if the attach is refused after all. */
  private stateBeforeAttach = ROLE_DETACHED;

  protected constructor(buffer: SharedArrayBuffer, role: Role, roleWords: RoleWords, options: SideOptions) {
    const geometry: RingGeometry = validateRing(buffer);
    this.buffer = buffer;
    this.role = role;
    this.roleWords = roleWords;
    this.capacity = geometry.capacity;
    this.maxRecordLength = geometry.maxRecordLength;
    this.mask = geometry.capacity - 1;
    this.words = new Int32Array(buffer, 0, HEADER_LENGTH >> 2);
    this.recordWords = new Int32Array(buffer, HEADER_LENGTH, geometry.capacity >> 2);
    this.data = new Uint8Array(buffer, HEADER_LENGTH, geometry.capacity);
    this.parker = options.parker ?? atomicsParker;
    const spin = options.spin ?? 2000;
    if (!Number.isInteger(spin) || spin < 0) {
      throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: spin ${spin} is invalid; expected an integer >= 0`, {
        field: 'spin',
        value: String(spin),
        expected: 'integer >= 0',
      });
    }
    this.spin = spin;
    this.takeRole(options.roleLock ?? 'claim');
  }

  private takeRole(mode: 'claim' | 'external'): void {
    const { state, pid } = this.roleWords;
    if (mode === 'claim') {
      let found = compareExchangeSeqCst(this.words, state, ROLE_DETACHED, ROLE_ATTACHED);
      if (found === ROLE_CLOSED) found = compareExchangeSeqCst(this.words, state, ROLE_CLOSED, ROLE_ATTACHED);
      if (found === ROLE_ATTACHED) {
        const holder = loadRelaxed(this.words, pid);
        throw new RingUsageError('ERR_ROLE_TAKEN', `shmring: the ${this.role} role is taken (holder pid ${holder})`, {
          field: `${this.role}State`,
          value: holder,
          expected: 'no attached ' + this.role,
        });
      }
      if (found !== ROLE_DETACHED && found !== ROLE_CLOSED) {
        throw corrupt(`${this.role}State`, found >>> 0, '0 (detached), 1 (attached) or 2 (closed)');
      }
      this.stateBeforeAttach = found;
    } else {
      if (loadSeqCst(this.words, state) === ROLE_CLOSED) this.stateBeforeAttach = ROLE_CLOSED;
      storeSeqCst(this.words, state, ROLE_ATTACHED);
    }
    storeRelaxed(this.words, pid, process.pid);
    this.heartbeat();
  }

  /** Publishes "this side is alive now" (unix seconds). Called at attach, at every park, and by ring files' timer. */
  heartbeat(): void {
    storeRelaxed(this.words, this.roleWords.heartbeat, (Date.now() / 1000) | 0);
  }

  /** State of the peer's role word: 0 detached, 1 attached, 2 closed. */
  protected peerState(): number {
    return loadSeqCst(this.words, this.roleWords.peerState);
  }

  /**
   * Wakes the peer if it flagged that it is parked (FORMAT.md §6). Called after every store of this
   * side's position or state; the common case is one load of a rarely-written line and no syscall.
   */
  protected wakePeer(): void {
    if (loadSeqCst(this.words, this.roleWords.peerWaiting) !== 0) {
      fetchAddSeqCst(this.words, this.roleWords.peerDoorbell, 1);
      this.parker.wake(this.words, this.roleWords.peerDoorbell);
    }
  }

  private beginWait(): void {
    if (this.closed) throw this.closedError();
    if (this.waiting) {
      throw new RingUsageError('ERR_BUSY', `shmring: the ${this.role} is already waiting; one wait at a time per side`);
    }
  }

  protected closedError(): RingClosedError {
    return new RingClosedError('ERR_CLOSED', `shmring: this ${this.role} is closed`);
  }

  /**
   * Blocks the calling thread until `ready()` (which must reload the peer's words) is true or the
   * timeout passes. Spins first, then parks. Returns false on timeout.
   */
  protected waitUntilSync(ready: () => boolean, timeoutMs: number): boolean {
    this.beginWait();
    for (let i = 0; i < this.spin; i++) if (ready()) return true;
    const { waiting, ownDoorbell } = this.roleWords;
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    this.waiting = true;
    try {
      for (;;) {
        // Read the doorbell before flagging: a bump between here and the wait makes the wait return.
        const bell = loadSeqCst(this.words, ownDoorbell);
        storeSeqCst(this.words, waiting, 1);
        if (ready()) return true;
        const remaining = deadline - performance.now();
        if (remaining <= 0) return false;
        this.heartbeat();
        this.parker.waitSync(this.words, ownDoorbell, bell, remaining);
        storeSeqCst(this.words, waiting, 0);
        if (this.closed) throw this.closedError();
      }
    } finally {
      storeSeqCst(this.words, waiting, 0);
      this.waiting = false;
    }
  }

  /**
   * The awaitable form of waitUntilSync: never blocks the thread. Rejects with the signal's reason on
   * abort, RingClosedError when this side is closed, RingTimeoutError when the timeout passes.
   */
  protected async waitUntilAsync(
    ready: () => boolean,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    /** The timeout the caller asked for (timeoutMs may be what is left of it), for the error. */
    requestedTimeoutMs = timeoutMs,
  ): Promise<void> {
    this.beginWait();
    signal?.throwIfAborted();
    const { waiting, ownDoorbell } = this.roleWords;
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    const stop = signal ? AbortSignal.any([signal, this.closeController.signal]) : this.closeController.signal;
    this.waiting = true;
    try {
      for (;;) {
        const bell = loadSeqCst(this.words, ownDoorbell);
        storeSeqCst(this.words, waiting, 1);
        if (ready()) return;
        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          throw new RingTimeoutError('ERR_TIMEOUT', `shmring: ${this.role} wait timed out after ${requestedTimeoutMs} ms`, {
            field: 'timeout',
            value: requestedTimeoutMs,
          });
        }
        this.heartbeat();
        await this.parker.waitAsync(this.words, ownDoorbell, bell, remaining, stop);
        storeSeqCst(this.words, waiting, 0);
        signal?.throwIfAborted();
        if (this.closed) throw this.closedError();
      }
    } finally {
      storeSeqCst(this.words, waiting, 0);
      this.waiting = false;
    }
  }

  /** Leaves the role: publishes the new state, wakes a parked peer, and ends this side's own waits. */
  protected leaveRole(state: number): void {
    if (this.closed) return;
    this.closed = true;
    storeRelaxed(this.words, this.roleWords.pid, 0);
    storeSeqCst(this.words, this.roleWords.state, state);
    this.wakePeer();
    this.closeController.abort(this.closedError());
    // A synchronous waiter on another thread cannot be this side (one side, one thread), so only
    // this side's async waits need waking, which the abort above does.
  }

  /**
   * Gives the role back when a subclass constructor refuses the attach after the role was taken (bad
   * options, corrupt positions): a refused attach must not leave the role word saying "attached".
   */
  protected abandonRole(): void {
    this.leaveRole(this.stateBeforeAttach);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Positions as seen now (a snapshot: the peer may move on). */
  protected positions(): { head: number; tail: number } {
    return { head: loadAcquire(this.words, this.headIndex()) >>> 0, tail: loadAcquire(this.words, this.tailIndex()) >>> 0 };
  }

  protected abstract headIndex(): number;
  protected abstract tailIndex(): number;
}
