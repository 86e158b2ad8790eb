/**
 * The cross-thread / cross-process benchmark harness: what benchmark.js cannot time.
 *
 * - A start barrier over a SharedArrayBuffer (Atomics): the peer sets up, arrives, and spins until the
 *   main thread releases it; time runs from the release to the last record the consumer sees.
 * - Peers: a worker thread (`WorkerPeer`, barrier via Atomics) or a child process (`ProcessPeer`,
 *   barrier via IPC messages; the IPC latency, ~0.1 ms, is inside the timed span and documented).
 * - Interleaved rounds: every round runs every contender once, in an order rotated by the round
 *   number, so the host's near/far vCPU placement (which flips every few seconds here, DESIGN.md)
 *   hits every contender alike. Each contender's record count is calibrated in a warm-up (grown
 *   until a trial lasts a quarter of the target, then trials repeated until two successive rates
 *   agree within 10 %, at most MAX_WARMUP_TRIALS) and then fixed for all its rounds.
 * - Statistics: median and min–max over rounds; ratios between contenders are the median of the
 *   per-round ratios (a pair measured seconds apart shares the placement), nearest-rank percentiles.
 * - Memory: heap growth of a trial = heapUsed after the trial minus heapUsed before it (after a full
 *   GC when `gc` is exposed), summed over the main isolate and the peer's isolate; RSS after it.
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

// ---------------------------------------------------------------------------------------------
// Statistics

/** Median of a non-empty list of finite numbers (mean of the two middle values for an even count). */
export function median(values) {
  if (!Array.isArray(values) || values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** { median, min, max, n } of a non-empty list. */
export function summarize(values) {
  if (!Array.isArray(values) || values.length === 0) throw new RangeError('summary of an empty list');
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return { median: median(values), min, max, n: values.length };
}

/**
 * Nearest-rank percentile (p in (0, 100]) of an ascending-sorted list: the smallest value such that
 * at least p % of the values are <= it. p99.9 of 1000 samples is the 999th smallest.
 */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) throw new RangeError('percentile of an empty list');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} out of (0, 100]`);
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** p50/p90/p99/p99.9/max of an unsorted sample list (Float64Array or array). */
export function latencyPercentiles(samples) {
  const sorted = Float64Array.from(samples).sort();
  return {
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    p999: percentileSorted(sorted, 99.9),
    max: sorted[sorted.length - 1],
    samples: sorted.length,
  };
}

/**
 * Ratio of contender A to contender B: the median of the per-round ratios a[i] / b[i] when both were
 * measured in the same rounds (equal lengths), else the ratio of the medians.
 */
export function pairedRatio(a, b) {
  if (a.length === 0 || b.length === 0) throw new RangeError('ratio of an empty list');
  if (a.length === b.length) return median(a.map((value, i) => value / b[i]));
  return median(a) / median(b);
}

/** The contender order for round `round`: the list rotated left by round mod length. */
export function rotation(items, round) {
  const n = items.length;
  if (n === 0) return [];
  const shift = ((round % n) + n) % n;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** At most this many warm-up trials after calibration (runInterleaved). */
export const MAX_WARMUP_TRIALS = 5;

/** Warm-up is over once two successive trials' rates agree within `tolerance` (relative). */
export function rateSettled(previousRate, rate, tolerance = 0.1) {
  return previousRate > 0 && Math.abs(rate - previousRate) <= tolerance * previousRate;
}

/** Record count for the next trials so one takes about targetMs, given a calibration trial. */
export function calibratedCount(count, elapsedMs, targetMs, minCount, maxCount) {
  const perMs = count / Math.max(elapsedMs, 1e-3);
  const wanted = Math.round(perMs * targetMs);
  return Math.max(minCount, Math.min(maxCount, wanted));
}

// ---------------------------------------------------------------------------------------------
// Memory

/** Full GC if the process runs with --expose-gc (run.mjs re-executes itself with it). */
export function collectGarbage() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    return true;
  }
  return false;
}

let unforcedGcs = 0;
let gcObserver;

/**
 * Garbage collections V8 ran on its own in this isolate so far (forced ones, from collectGarbage,
 * are not counted): a trial that allocates per record shows scavenges here even when its heap
 * growth looks flat.
 */
export function gcCount() {
  if (gcObserver === undefined) {
    gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if ((entry.detail?.flags ?? 0) & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED) continue;
        unforcedGcs++;
      }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
  }
  return unforcedGcs;
}

/** GCs since `before` (gc entries arrive asynchronously: let them land first). */
export async function gcSince(before) {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 1));
  return gcCount() - before;
}

/** Heap baseline for a trial: GC first when possible, then heapUsed. */
export function heapBaseline() {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

// ---------------------------------------------------------------------------------------------
// Start barrier

/**
 * Generation-counted start barrier over a small SharedArrayBuffer. The peer `arrive(gen)`s after its
 * set-up and spins until `release(gen)`; the main side awaits the arrival without blocking its event
 * loop (Atomics.waitAsync), so a peer that dies is noticed.
 */
export class StartBarrier {
  static ARRIVED = 0;
  static RELEASED = 1;

  constructor(buffer = new SharedArrayBuffer(64)) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
  }

  /** Peer side: announce readiness for trial `gen`, then wait for the release. */
  arrive(gen) {
    Atomics.store(this.words, StartBarrier.ARRIVED, gen);
    Atomics.notify(this.words, StartBarrier.ARRIVED);
    // Spin first (the release normally comes within microseconds), then park in slices.
    for (let i = 0; i < 1_000_000; i++) if (Atomics.load(this.words, StartBarrier.RELEASED) === gen) return;
    while (Atomics.load(this.words, StartBarrier.RELEASED) !== gen) {
      Atomics.wait(this.words, StartBarrier.RELEASED, Atomics.load(this.words, StartBarrier.RELEASED), 50);
    }
  }

  /** Main side: resolves once the peer arrived at trial `gen`; rejects after timeoutMs or on `abort`. */
  async awaitArrival(gen, timeoutMs, failed = () => undefined) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.words, StartBarrier.ARRIVED);
      if (seen === gen) return;
      const error = failed();
      if (error) throw error;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Error(`peer did not reach the start barrier within ${timeoutMs} ms`);
      const result = Atomics.waitAsync(this.words, StartBarrier.ARRIVED, seen, Math.min(remaining, 100));
      if (result.async) await result.value;
    }
  }

  /** Main side: releases the peer; returns the start time (performance.now()). */
  release(gen) {
    const start = performance.now();
    Atomics.store(this.words, StartBarrier.RELEASED, gen);
    Atomics.notify(this.words, StartBarrier.RELEASED);
    return start;
  }
}

// ---------------------------------------------------------------------------------------------
// Peers

/**
 * The control replies of a peer (worker or child process), awaited by name: `next('done')` resolves
 * with the next message whose `control` is 'done'. The peer's failure rejects every pending and
 * every later `next`.
 */
class PeerReplies {
  waiters = new Map();
  error = undefined;

  next(control) {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => this.waiters.set(control, { resolve, reject }));
  }

  deliver(message) {
    const waiter = this.waiters.get(message?.control);
    if (waiter) {
      this.waiters.delete(message.control);
      waiter.resolve(message);
    }
  }

  fail = (error) => {
    this.error ??= error;
    for (const waiter of this.waiters.values()) waiter.reject(error);
    this.waiters.clear();
  };
}

/**
 * A worker thread that serves trials (its module calls `serveWorkerTrials`). `trial(params,
 * transfer, mainSide)`: posts the parameters, awaits the barrier arrival, releases it, runs
 * `mainSide()` (sync or async; returns the performance.now() of the last record, or undefined for
 * "now"), then awaits the worker's report.
 */
export class WorkerPeer {
  constructor(moduleUrl, workerData = {}) {
    this.barrier = new StartBarrier();
    this.generation = 0;
    this.replies = new PeerReplies();
    this.worker = new Worker(moduleUrl, { workerData: { ...workerData, barrier: this.barrier.buffer } });
    this.worker.on('message', (message) => {
      if (message === null || typeof message !== 'object' || typeof message.control !== 'string') {
        this.onData?.(message);
        return;
      }
      this.replies.deliver(message);
    });
    this.worker.on('error', this.replies.fail);
    this.worker.on('exit', (code) => this.replies.fail(new Error(`benchmark worker exited (code ${code})`)));
    this.loaded = this.next('loaded');
  }

  /** Data messages (anything without a `control` field) go to this callback. */
  onData = undefined;

  /** The peer's failure (error or exit), once it failed. */
  get error() {
    return this.replies.error;
  }

  next(control) {
    return this.replies.next(control);
  }

  async trial(params, transfer, mainSide) {
    const heapBefore = heapBaseline();
    const gcBefore = gcCount();
    const pending = await this.begin(params, transfer);
    const start = this.go(pending);
    const { end, report } = await this.finish(pending, mainSide);
    const heapGrowthBytes = process.memoryUsage().heapUsed - heapBefore + (report.heapGrowthBytes ?? 0);
    return {
      elapsedMs: end - start,
      heapGrowthBytes,
      gcCount: (await gcSince(gcBefore)) + (report.gcCount ?? 0),
      rssBytes: process.memoryUsage().rss,
      peer: report.result,
    };
  }

  /** Split-phase trial, for several peers in one trial: post the parameters, await the arrival. */
  async begin(params, transfer = []) {
    await this.loaded;
    const gen = ++this.generation;
    const done = this.next('done');
    done.catch(() => undefined);
    this.worker.postMessage({ control: 'trial', gen, params }, transfer);
    await this.barrier.awaitArrival(gen, 30_000, () => this.error);
    // A worker that fails after the barrier reports it in 'done': stop waiting for records then.
    const failure = done.then((report) => {
      if (report.error) throw new Error(`worker: ${report.error}`);
      return new Promise(() => {});
    });
    failure.catch(() => undefined);
    return { gen, done, failure };
  }

  /** Releases the peer; returns the start time. */
  go(pending) {
    return this.barrier.release(pending.gen);
  }

  /** Runs mainSide (racing the peer's failure), then awaits the peer's report. */
  async finish(pending, mainSide = () => undefined) {
    const last = await Promise.race([mainSide(), pending.failure]);
    const end = typeof last === 'number' ? last : performance.now();
    const report = await pending.done;
    if (report.error) throw new Error(`worker: ${report.error}`);
    return { end, report };
  }

  async close() {
    await this.worker.terminate();
  }
}

/**
 * Worker side of WorkerPeer. `setup(params)` prepares a trial and returns the function that runs
 * it (sync or async; its return value is sent back as `result`).
 */
export async function serveWorkerTrials(setup) {
  const { parentPort, workerData } = await import('node:worker_threads');
  const barrier = new StartBarrier(workerData.barrier);
  parentPort.on('message', async (message) => {
    if (message?.control !== 'trial') return;
    let report;
    try {
      const run = await setup(message.params);
      const heapBefore = heapBaseline();
      const gcBefore = gcCount();
      barrier.arrive(message.gen);
      const result = await run();
      const heapGrowthBytes = process.memoryUsage().heapUsed - heapBefore;
      report = { control: 'done', heapGrowthBytes, gcCount: await gcSince(gcBefore), result };
      // Collect this trial's garbage now, not during another contender's trial.
      collectGarbage();
    } catch (error) {
      // Still release a main thread waiting at the barrier: arrive, then report the failure.
      Atomics.store(barrier.words, StartBarrier.ARRIVED, message.gen);
      report = { control: 'done', error: String(error?.stack ?? error) };
    }
    parentPort.postMessage(report);
  });
  parentPort.postMessage({ control: 'loaded' });
}

/**
 * A child process (node) that serves trials over IPC (its module calls `serveProcessTrials`). The
 * barrier is an IPC round: the child sets up and says 'ready', the parent takes the start time and
 * says 'go'. `mainSide` must not block before the child has had the 'go' (it is sent first).
 */
export class ProcessPeer {
  constructor(modulePath, args = [], options = {}) {
    this.generation = 0;
    this.replies = new PeerReplies();
    this.child = fork(modulePath, args, {
      execArgv: ['--expose-gc'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...options,
    });
    this.child.on('message', (message) => this.replies.deliver(message));
    this.child.on('error', this.replies.fail);
    this.child.on('exit', (code, signal) => this.replies.fail(new Error(`benchmark child exited (code ${code}, signal ${signal})`)));
    this.loaded = this.next('loaded');
  }

  /** The peer's failure (error or exit), once it failed. */
  get error() {
    return this.replies.error;
  }

  next(control) {
    return this.replies.next(control);
  }

  /**
   * `prepare()` (optional, async) runs after the child is ready and before 'go' (e.g. accept a
   * connection); `mainSide()` runs after 'go' was sent.
   */
  async trial(params, mainSide, prepare = undefined) {
    const heapBefore = heapBaseline();
    const gcBefore = gcCount();
    const pending = await this.begin(params);
    const prepared = prepare ? await prepare(pending.info) : undefined;
    const start = this.go(pending);
    const { end, report } = await this.finish(pending, () => mainSide(prepared));
    const heapGrowthBytes = process.memoryUsage().heapUsed - heapBefore + (report.heapGrowthBytes ?? 0);
    return {
      elapsedMs: end - start,
      heapGrowthBytes,
      gcCount: (await gcSince(gcBefore)) + (report.gcCount ?? 0),
      rssBytes: process.memoryUsage().rss + (report.rssBytes ?? 0),
      peer: report.result,
    };
  }

  /** Split-phase trial: send the parameters, await 'ready' (with the child's `info`). */
  async begin(params) {
    await this.loaded;
    const gen = ++this.generation;
    const ready = this.next('ready');
    const done = this.next('done');
    done.catch(() => undefined);
    this.child.send({ control: 'trial', gen, params });
    const readyReport = await withTimeout(ready, 30_000, 'child did not get ready');
    if (readyReport.error) throw new Error(`child: ${readyReport.error}`);
    const failure = done.then((report) => {
      if (report.error) throw new Error(`child: ${report.error}`);
      return new Promise(() => {});
    });
    failure.catch(() => undefined);
    return { gen, done, failure, info: readyReport.info };
  }

  /** Sends 'go'; returns the start time. */
  go(pending) {
    const start = performance.now();
    this.child.send({ control: 'go', gen: pending.gen });
    return start;
  }

  async finish(pending, mainSide = () => undefined) {
    const last = await Promise.race([mainSide(), pending.failure]);
    const end = typeof last === 'number' ? last : performance.now();
    const report = await withTimeout(pending.done, 60_000, 'child did not finish');
    if (report.error) throw new Error(`child: ${report.error}`);
    return { end, report };
  }

  async close() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await withTimeout(exited, 5000, 'child did not exit').catch(() => this.child.kill('SIGKILL'));
  }
}

/**
 * Child side of ProcessPeer. `setup(params)` returns `{ run, info }`: `info` goes to the parent with
 * 'ready' (e.g. a socket path), `run()` starts at 'go' and its result is reported with 'done'.
 */
export function serveProcessTrials(setup) {
  let pending;
  process.on('message', async (message) => {
    if (message?.control === 'trial') {
      try {
        const prepared = await setup(message.params);
        const heapBefore = heapBaseline();
        pending = { prepared, heapBefore, gcBefore: gcCount(), gen: message.gen };
        process.send({ control: 'ready', gen: message.gen, info: prepared.info });
      } catch (error) {
        process.send({ control: 'ready', error: String(error?.stack ?? error) });
      }
    } else if (message?.control === 'go' && pending?.gen === message.gen) {
      const { prepared, heapBefore, gcBefore } = pending;
      pending = undefined;
      try {
        const result = await prepared.run();
        const heapGrowthBytes = process.memoryUsage().heapUsed - heapBefore;
        process.send({
          control: 'done',
          heapGrowthBytes,
          gcCount: await gcSince(gcBefore),
          rssBytes: process.memoryUsage().rss,
          result,
        });
      } catch (error) {
        process.send({ control: 'done', error: String(error?.stack ?? error) });
      }
    }
  });
  process.on('SIGTERM', () => process.exit(0));
  process.send({ control: 'loaded' });
}

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Interleaved rounds

/**
 * Runs contenders in interleaved rounds. A contender is
 *   { id, transport, recordSize, setup?(), trial(count) -> { elapsedMs, heapGrowthBytes, rssBytes,
 *     latency? }, teardown?(), initialCount, minCount, maxCount, bytesPerRecord?, sameCountAs? }
 * Returns one entry per contender: { contender, count, samples: [{ recordsPerSec, bytesPerSec,
 * elapsedMs, heapGrowthBytes, rssBytes }], error? }. A contender that throws is dropped from the
 * later rounds with its error recorded; the others go on.
 */
let defaultSettleMs = 25;

/** The pause between trials (run.mjs shortens it for --quick). */
export function setSettleMs(ms) {
  defaultSettleMs = ms;
}

export async function runInterleaved({ contenders, rounds, targetMs, progress = () => {}, label = '', settleMs = defaultSettleMs }) {
  // A pause between trials lets background work of the previous one (V8's concurrent GC and
  // compiler threads, a peer's exit) finish instead of stealing a core from the next trial.
  const settle = () => new Promise((resolve) => setTimeout(resolve, settleMs));
  const states = contenders.map((contender) => ({ contender, count: contender.initialCount ?? 1000, samples: [], error: undefined }));
  const fail = (state, error) => {
    state.error = String(error?.message ?? error);
    progress(`  ${state.contender.id}: failed: ${state.error}`);
  };
  for (const state of states) {
    try {
      await state.contender.setup?.();
    } catch (error) {
      fail(state, error);
    }
  }
  // Warm-up and calibration: grow the count until a trial lasts at least a quarter of the target,
  // then fix the count for every round. The warm-up also lets the JIT settle.
  // A contender with `sameCountAs: transport` (a reference that should see exactly as many records
  // or pings as the contender it is compared with) takes that contender's count after its calibration.
  const calibrateFirst = [...states.filter((s) => !s.contender.sameCountAs), ...states.filter((s) => s.contender.sameCountAs)];
  for (const state of calibrateFirst) {
    if (state.error) continue;
    const { contender } = state;
    const leader = contender.sameCountAs && states.find((s) => s.contender.transport === contender.sameCountAs && s.contender.recordSize === contender.recordSize && !s.error);
    try {
      if (leader) {
        state.count = leader.count;
        await contender.trial(state.count);
        continue;
      }
      for (let attempt = 0; attempt < 6; attempt++) {
        await settle();
        const { elapsedMs } = await contender.trial(state.count);
        const next = calibratedCount(state.count, elapsedMs, targetMs, contender.minCount ?? 1, contender.maxCount ?? 1e9);
        const enough = elapsedMs >= targetMs / 4 || state.count >= (contender.maxCount ?? 1e9);
        state.count = next;
        if (enough) break;
      }
      if (contender.warmupAfterCalibration !== false) {
        // Warm up until the rate settles, recalibrating the count each time. The JIT keeps tiering
        // up over the first trials (a fresh worker's ring loop ran 1.2-1.8x slower in its first two or
        // three 100 ms trials than later), so a count calibrated on a cold trial gave trials a third of
        // the target, in which per-trial start-up weighed three times as much.
        let previousRate = 0;
        for (let warmup = 0; warmup < MAX_WARMUP_TRIALS; warmup++) {
          await settle();
          const { elapsedMs } = await contender.trial(state.count);
          const rate = state.count / Math.max(elapsedMs, 1e-3);
          state.count = calibratedCount(state.count, elapsedMs, targetMs, contender.minCount ?? 1, contender.maxCount ?? 1e9);
          if (rateSettled(previousRate, rate)) break;
          previousRate = rate;
        }
      }
    } catch (error) {
      fail(state, error);
    }
  }
  for (let round = 0; round < rounds; round++) {
    progress(`${label} round ${round + 1}/${rounds}`);
    for (const state of rotation(states, round)) {
      if (state.error) continue;
      const { contender } = state;
      try {
        await settle();
        const outcome = await contender.trial(state.count);
        const seconds = outcome.elapsedMs / 1000;
        state.samples.push({
          round,
          elapsedMs: outcome.elapsedMs,
          recordsPerSec: state.count / seconds,
          bytesPerSec: (state.count * (contender.bytesPerRecord ?? contender.recordSize)) / seconds,
          heapGrowthBytes: outcome.heapGrowthBytes ?? 0,
          gcCount: outcome.gcCount,
          rssBytes: outcome.rssBytes ?? process.memoryUsage().rss,
          latency: outcome.latency,
          derived: outcome.derived,
          peerRecordsPerSec: outcome.peerRecordsPerSec,
        });
      } catch (error) {
        fail(state, error);
      }
    }
  }
  for (const state of states) {
    try {
      await state.contender.teardown?.();
    } catch (error) {
      progress(`  ${state.contender.id}: teardown failed: ${error?.message ?? error}`);
    }
  }
  return states;
}

/**
 * One record size of a suite: keeps the contenders `transports` names (all of them when it is
 * undefined), runs them interleaved and returns their cases (none when no contender is left).
 */
export async function runRecordSize({ suite, size, contenders, transports, rounds, targetMs, progress }) {
  const chosen = transports === undefined ? contenders : contenders.filter((c) => transports.includes(c.transport));
  if (chosen.length === 0) return [];
  progress(`${suite}: ${size} B records, ${chosen.length} contenders`);
  const states = await runInterleaved({ contenders: chosen, rounds, targetMs, progress, label: `${suite} ${size} B` });
  return toCases(suite, states);
}

/**
 * Turns runInterleaved states into result cases. `peersOf(state)` picks which other contenders to
 * compute ratios against (default: every other contender of the same record size in the same run).
 */
export function toCases(suite, states, notes = {}) {
  const cases = [];
  for (const state of states) {
    const { contender } = state;
    const base = {
      suite,
      transport: contender.transport,
      label: contender.label ?? contender.transport,
      recordSize: contender.recordSize,
      recordsPerTrial: state.count,
    };
    if (state.error !== undefined || state.samples.length === 0) {
      cases.push({ ...base, error: state.error ?? 'no samples', rounds: state.samples.length });
      continue;
    }
    const records = summarize(state.samples.map((s) => s.recordsPerSec));
    const bytes = summarize(state.samples.map((s) => s.bytesPerSec));
    const ratios = {};
    for (const other of states) {
      if (other === state || other.contender.recordSize !== contender.recordSize || other.samples.length === 0 || other.error) continue;
      ratios[other.contender.transport] = round4(pairedRatio(alignedRates(state, other), alignedRates(other, state)));
    }
    cases.push({
      ...base,
      recordsPerSec: records.median,
      recordsPerSecRange: [records.min, records.max],
      bytesPerSec: bytes.median,
      bytesPerSecRange: [bytes.min, bytes.max],
      rounds: state.samples.length,
      ratios,
      heapGrowthBytes: Math.round(median(state.samples.map((s) => s.heapGrowthBytes))),
      rssBytes: Math.max(...state.samples.map((s) => s.rssBytes)),
      ...gcOf(state.samples),
      ...latencyOf(state.samples),
      ...peerReported(state.samples),
      ...(notes[contender.transport] ? { note: notes[contender.transport] } : {}),
    });
    // Figures a trial measured on the side (e.g. one-way latency within a round trip): one more
    // case each, with the parent's rates.
    const derived = new Map();
    for (const sample of state.samples) {
      for (const item of sample.derived ?? []) {
        if (!derived.has(item.transport)) derived.set(item.transport, { label: item.label, samples: [] });
        derived.get(item.transport).samples.push({ latency: item.latency });
      }
    }
    const parent = cases[cases.length - 1];
    for (const [transport, { label, samples }] of derived) {
      cases.push({ ...parent, transport, label, ratios: {}, derivedFrom: contender.transport, ...latencyOf(samples) });
    }
  }
  return cases;
}

/** Median count of GCs V8 started on its own during a trial (all isolates involved), where counted. */
function gcOf(samples) {
  const counts = samples.map((s) => s.gcCount).filter((c) => Number.isInteger(c));
  return counts.length === samples.length && counts.length > 0 ? { gcCount: Math.round(median(counts)) } : {};
}

/** The median rate a peer reported itself (e.g. the Go CLI's own clock), when it did. */
function peerReported(samples) {
  const rates = samples.map((s) => s.peerRecordsPerSec).filter((r) => typeof r === 'number' && Number.isFinite(r));
  return rates.length > 0 ? { peerRecordsPerSec: median(rates) } : {};
}

/** Latency percentiles (µs) over every sample of every round, when the trials measured latency. */
function latencyOf(samples) {
  const lists = samples.map((s) => s.latency).filter((l) => l !== undefined && l.length > 0);
  if (lists.length === 0) return {};
  const all = new Float64Array(lists.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const list of lists) {
    all.set(list, at);
    at += list.length;
  }
  const percentiles = latencyPercentiles(all);
  const round3 = (x) => Number(x.toFixed(3));
  const { p50, p90, p99, p999, max } = percentiles;
  return { latency: { unit: 'us', p50: round3(p50), p90: round3(p90), p99: round3(p99), p999: round3(p999), max: round3(max), samples: percentiles.samples } };
}

/** The records/s of `a` in the rounds where `b` also has a sample (so paired ratios line up). */
function alignedRates(a, b) {
  const roundsOfB = new Set(b.samples.map((s) => s.round));
  return a.samples.filter((s) => roundsOfB.has(s.round)).map((s) => s.recordsPerSec);
}

function round4(value) {
  return Number(value.toPrecision(4));
}

// ---------------------------------------------------------------------------------------------
// Machine

export function machineInfo() {
  const cpus = os.cpus();
  let goVersion = null;
  try {
    goVersion = execFileSync('go', ['version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    goVersion = null;
  }
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemBytes: os.totalmem(),
    platform: `${process.platform} ${os.release()}`,
    arch: process.arch,
    node: process.version,
    v8: process.versions.v8,
    go: goVersion,
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
    date: new Date().toISOString(),
  };
}
