/**
 * No abort from the addon, ever (issue 10.1): worker threads busy in every addon call (create, open,
 * close, lockRole, roleHeld, flush, futexWait, futexWaitAsync with and without cancel, futexWake,
 * liveMappings, ...) are terminated at seeded random points, some exit by themselves, and each child
 * process finally calls process.exit() while its main thread and workers are inside addon calls.
 *
 * Before the fix every child died at once: `terminate called after throwing an instance of
 * 'Napi::Error'` (SIGABRT), and past that a SIGSEGV in v8::internal::BackingStore::~BackingStore
 * (the addon was unloaded with its last worker while V8 still had to run its buffer deleters).
 *
 * The random delays only choose WHERE the teardown lands; no assertion depends on timing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { lastJson, removeTestFiles, runNodeChild, tempDir } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

const CHILDREN = 5;
const ROUNDS = 25;
const WORKERS = 8;
const SEED = 0x7e4d0a11;

let terminatedTotal = 0;

describe('tearing down threads and processes inside addon calls', () => {
  for (let child = 0; child < CHILDREN; child++) {
    const seed = SEED + child;
    it(`child ${child} (seed ${seed}): ${ROUNDS * WORKERS} workers terminated mid-call, then process.exit() mid-call; no abort`, async () => {
      const dir = tempDir();
      const result = await runNodeChild('addon-teardown-child.mjs', { dir, seed, rounds: ROUNDS, workers: WORKERS });
      // A crash shows as a signal (SIGABRT from std::terminate, SIGSEGV) and its message on stderr.
      expect(result.stderr).not.toMatch(/terminate called|FATAL ERROR|Segmentation|Aborted|core dumped/);
      expect(result.signal).toBeNull();
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const report = lastJson<{ terminated: number; selfExited: number; errors: string[] }>(result.stdout);
      expect(report.errors).toEqual([]);
      expect(report.terminated).toBe(ROUNDS * WORKERS);
      terminatedTotal += report.terminated;
    }, 300_000);
  }

  it('covered at least 1000 teardowns in total', () => {
    expect(terminatedTotal).toBeGreaterThanOrEqual(1000);
  });
});
