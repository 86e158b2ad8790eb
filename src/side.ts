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
import { isMainThread } from 'node:worker_threads';
import { RingClosedError, RingPeerDeadError, RingTimeoutError, RingUsageError, corrupt } from './errors.js';
import { validateRing, type RingGeometry } from './header.js';
import { HEADER_LENGTH, ROLE_ATTACHED, ROLE_CLOSED, ROLE_DETACHED } from './layout.js';
import { loadNative, type NativeAddon, type NativeExitHook } from './native.js';
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
  /**
   * Whether a live holder still has the peer's role (ring files: its OFD lock). Asked only when a
   * park slice ends with nothing to do while the peer's state says attached; false ends the wait
   * with ERR_PEER_DEAD. Absent (in-memory rings): the peer is assumed alive.
   */
  peerAlive?: () => boolean;
  /**
   * What a wait does when the peer died holding its role (ring files; see `peerAlive`):
   * 'error' (default) ends it with RingPeerDeadError (ERR_PEER_DEAD); 'wait' keeps waiting for a
   * successor to take the role over (a supervisor restarts the peer). Either way the side stays
   * usable: after ERR_PEER_DEAD the next wait checks again.
   */
  peerDeath?: 'error' | 'wait';
  /**
   * The longest single park in ms (default PARK_SLICE_MS). Infinity parks for the whole timeout:
   * then a lost wake-up is not recovered, which is what tests that prove the protocol want to see.
   */
  parkSliceMs?: number;
}

/**
 * The longest single park (ms), the same as the Go peer's DefaultParkTimeout. Every park is cut into
 * slices and each slice re-stores the waiting flag and re-checks positions, states and the peer's
 * liveness: a wake-up lost to a planted flag costs at most one slice, a dead peer is noticed within
 * one, and a thread blocked in a sync wait returns to JavaScript often enough for worker.terminate()
 * (V8 acts on it only when JavaScript runs) to take effect.
 */
export const PARK_SLICE_MS = 50;

/**
 * One ref'd timer keeps this thread's event loop alive while any async wait is pending: a pending
 * Atomics.waitAsync does not, so a worker (or process) whose only work is `await consumer.read()`
 * would exit with code 13 mid-wait. Created once per thread, ref'd and unref'd, never per wait.
 */
let keepAliveTimer: ReturnType<typeof setInterval> | undefined;
let pendingAsyncWaits = 0;

function holdEventLoop(): void {
  if (pendingAsyncWaits++ === 0) (keepAliveTimer ??= setInterval(() => undefined, 0x7fffffff)).ref();
}

function releaseEventLoop(): void {
  if (--pendingAsyncWaits === 0) keepAliveTimer?.unref();
}

/**
 * Sides of this worker thread still attached. When the thread exits without closing one (natural
 * exit, process.exit(), an uncaught exception), the 'exit' hook detaches the role so it is not left
 * attached by a thread that is gone. worker.terminate() runs no JavaScript, so an in-memory ring's
 * side also arms the addon's environment cleanup hook (native exit_hook.h), where the addon loads.
 * Not needed in the main thread: the process ends with it (and the kernel drops a ring file's
 * locks; a ring file's side in a worker relies on the 'exit' hook and its file's locks).
 */
const openSides = new Set<RingSide>();
let exitHookInstalled = false;

/** The addon for the native exit hook, or null where it cannot load (other platforms, not built). */
let exitHookAddon: NativeAddon | null | undefined;

function armNativeExitHook(buffer: SharedArrayBuffer, role: Role): NativeExitHook | undefined {
  if (exitHookAddon === undefined) {
    try {
      exitHookAddon = loadNative();
    } catch {
      exitHookAddon = null;
    }
  }
  try {
    return exitHookAddon?.detachAtExit(buffer, role);
  } catch {
    return undefined; // best effort: the 'exit' hook still covers every exit but terminate()
  }
}

function detachOnThreadExit(side: RingSide): void {
  if (isMainThread) return;
  openSides.add(side);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const open of [...openSides]) {
      try {
        open.detachAtExit();
      } catch {
        // Nothing can be reported from a thread that is exiting; the next side still detaches.
      }
    }
  });
}

interface RoleWords {
  state: number;
  pid: number;
  heartbeat: number;
  waiting: number;
  /** The doorbell this side parks on. */
  ownDoorbell: number;
  /** The peer's state and pid words, and the doorbell/flag used to wake the peer. */
  peerState: number;
  peerPid: number;
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
  private readonly peerAlive: (() => boolean) | undefined;
  private readonly parkSliceMs: number;
  /** In a worker, for an in-memory ring: the native hook that detaches the role at terminate(). */
  private exitHook: NativeExitHook | undefined;
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
    const parkSliceMs = options.parkSliceMs ?? PARK_SLICE_MS;
    if (typeof parkSliceMs !== 'number' || !(parkSliceMs > 0)) {
      throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: parkSliceMs ${String(parkSliceMs)} is invalid; expected milliseconds > 0 or Infinity`, {
        field: 'parkSliceMs',
        value: String(parkSliceMs),
        expected: '> 0',
      });
    }
    this.parkSliceMs = parkSliceMs;
    const peerDeath = options.peerDeath ?? 'error';
    if (peerDeath !== 'error' && peerDeath !== 'wait') {
      throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: peerDeath ${String(peerDeath)} is invalid; expected 'error' or 'wait'`, {
        field: 'peerDeath',
        value: String(peerDeath),
        expected: "'error' | 'wait'",
      });
    }
    this.peerAlive = peerDeath === 'error' ? options.peerAlive : undefined;
    const roleLock = options.roleLock ?? 'claim';
    this.takeRole(roleLock);
    detachOnThreadExit(this);
    if (!isMainThread && roleLock === 'claim') this.exitHook = armNativeExitHook(buffer, role);
  }

  /**
   * @internal Leaves the role without ending anything (producer: no end of stream; consumer: a
   * successor may attach), for a thread that exits with this side still open.
   */
  abstract detachAtExit(): void;

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
   * Any non-zero flag counts as "waiting" (a waiter stores exactly 1; Go agrees): a planted odd
   * value costs a needless wake, never a lost one.
   */
  protected wakePeer(): void {
    if (loadSeqCst(this.words, this.roleWords.peerWaiting) !== 0) this.ringPeer();
  }

  /** The wake itself, out of line: wakePeer() is inlined into every publish and stays small. */
  private ringPeer(): void {
    fetchAddSeqCst(this.words, this.roleWords.peerDoorbell, 1);
    this.parker.wake(this.words, this.roleWords.peerDoorbell);
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
   * Ring files: after a slice that nobody rang, whether the peer's role is still held by a live
   * holder while its state word says attached. State, lock, state again: a holder that closes sets
   * its state before it drops the lock, so only a holder that died leaves "attached" around a free
   * lock (a successor re-attaching between the two loads would need a whole close and attach there).
   */
  private checkPeerAlive(): void {
    const peerAlive = this.peerAlive;
    if (peerAlive === undefined || this.peerState() !== ROLE_ATTACHED) return;
    const { peerState, peerPid } = this.roleWords;
    const pid = loadRelaxed(this.words, peerPid);
    if (peerAlive() || loadSeqCst(this.words, peerState) !== ROLE_ATTACHED || loadRelaxed(this.words, peerPid) !== pid) return;
    const peer = this.role === 'producer' ? 'consumer' : 'producer';
    throw new RingPeerDeadError(
      'ERR_PEER_DEAD',
      `shmring: the ${peer} (last pid ${pid >>> 0}) died without leaving its role: its ring-file lock is free while ${peer}State still says attached`,
      { field: `${peer}Pid`, value: pid >>> 0, expected: `a live ${peer} or one that closed` },
    );
  }

  /**
   * Blocks the calling thread until `ready()` (which must reload the peer's words) is true or the
   * timeout passes. Spins first, then parks in slices of at most PARK_SLICE_MS. Returns false on
   * timeout; throws ERR_CLOSED if this side closed, ERR_PEER_DEAD if the peer died.
   */
  protected waitUntilSync(ready: () => boolean, timeoutMs: number): boolean {
    this.beginWait();
    for (let i = 0; i < this.spin; i++) if (ready()) return true;
    const { waiting, ownDoorbell } = this.roleWords;
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    let quietSlice = false;
    this.waiting = true;
    try {
      for (;;) {
        // Read the doorbell before flagging: a bump between here and the wait makes the wait return.
        // The flag is stored again every slice, so a flag cleared by someone else is restored.
        const bell = loadSeqCst(this.words, ownDoorbell);
        storeSeqCst(this.words, waiting, 1);
        if (ready()) return true;
        const remaining = deadline - performance.now();
        if (remaining <= 0) return false;
        if (quietSlice) this.checkPeerAlive();
        this.heartbeat();
        const result = this.parker.waitSync(this.words, ownDoorbell, bell, Math.min(remaining, this.parkSliceMs));
        storeSeqCst(this.words, waiting, 0);
        if (this.closed) throw this.closedError();
        quietSlice = result === 'timed-out';
      }
    } finally {
      storeSeqCst(this.words, waiting, 0);
      this.waiting = false;
    }
  }

  /**
   * The awaitable form of waitUntilSync: never blocks the thread, and keeps the event loop alive
   * while pending. Rejects with the signal's reason on abort, RingClosedError when this side is
   * closed, RingPeerDeadError when the peer died, RingTimeoutError when the timeout passes.
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
    let quietSlice = false;
    this.waiting = true;
    holdEventLoop();
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
        if (quietSlice) this.checkPeerAlive();
        this.heartbeat();
        const result = await this.parker.waitAsync(this.words, ownDoorbell, bell, Math.min(remaining, this.parkSliceMs), stop);
        storeSeqCst(this.words, waiting, 0);
        signal?.throwIfAborted();
        if (this.closed) throw this.closedError();
        quietSlice = result === 'timed-out';
      }
    } finally {
      storeSeqCst(this.words, waiting, 0);
      this.waiting = false;
      releaseEventLoop();
    }
  }

  /** Leaves the role: publishes the new state, wakes a parked peer, and ends this side's own waits. */
  protected leaveRole(state: number): void {
    if (this.closed) return;
    this.closed = true;
    openSides.delete(this);
    if (this.exitHook !== undefined) exitHookAddon?.cancelDetachAtExit(this.exitHook);
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
