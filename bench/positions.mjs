#!/usr/bin/env node
/**
 * The measurement behind the 32-bit position choice (docs/FORMAT.md §2): what a position access
 * costs in JavaScript as an Int32Array element vs a BigInt64Array element, over a SharedArrayBuffer.
 *
 * Each case does what the ring's hot path does with a position: an atomic load and the in-flight
 * arithmetic against a private position, or an atomic store of an advanced position. Reported: ns
 * per operation (median of repeated timed loops, min–max) and heap bytes allocated per operation
 * (young-generation growth of short loops after a full GC, see bytesPerOp; 0 means none).
 *
 *   node --expose-gc bench/positions.mjs [--quick]
 *   node bench/run.mjs --suite positions
 */
import { fileURLToPath } from 'node:url';
import { collectGarbage, median, summarize } from './harness.mjs';

export const description =
  'Position access in JS: Int32Array vs BigInt64Array atomics over a SharedArrayBuffer (the 32-bit position decision, docs/FORMAT.md §2).';

const sab = new SharedArrayBuffer(256);
const words32 = new Int32Array(sab);
const words64 = new BigInt64Array(sab);
const TAIL32 = 32;
const TAIL64 = 16;

/** Stand-ins for a ring side's private position fields. */
const sides32 = { cachedTail: 0, readPosition: 0, available: 0 };
const sides64 = { cachedTail: 0n, readPosition: 0n, available: 0 };

let sink32 = 0;
let sink64 = 0;

const cases = [
  {
    name: 'Int32Array plain read (reference)',
    run(n) {
      let position = 0;
      for (let i = 0; i < n; i++) position = (position + ((words32[TAIL32] - i) | 0)) | 0;
      sink32 += position;
    },
  },
  {
    name: 'Int32Array Atomics.load + (tail - head) | 0',
    run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum = (sum + ((Atomics.load(words32, TAIL32) - i) | 0)) | 0;
      sink32 += sum;
    },
  },
  {
    name: 'BigInt64Array Atomics.load + Number(tail - head)',
    run(n) {
      let sum = 0;
      let head = 0n;
      for (let i = 0; i < n; i++) {
        sum += Number(Atomics.load(words64, TAIL64) - head);
        head += 8n;
      }
      sink64 += sum;
    },
  },
  {
    name: 'Int32Array Atomics.load kept in an object field (as the ring keeps cachedTail)',
    run(n) {
      const side = sides32;
      for (let i = 0; i < n; i++) {
        side.cachedTail = Atomics.load(words32, TAIL32);
        side.readPosition = (side.readPosition + 8) | 0;
        side.available = (side.cachedTail - side.readPosition) | 0;
      }
      sink32 += side.available;
    },
  },
  {
    name: 'BigInt64Array Atomics.load kept in an object field (as the ring keeps cachedTail)',
    run(n) {
      const side = sides64;
      for (let i = 0; i < n; i++) {
        side.cachedTail = Atomics.load(words64, TAIL64);
        side.readPosition += 8n;
        side.available = Number(side.cachedTail - side.readPosition);
      }
      sink64 += side.available;
    },
  },
  {
    name: 'Int32Array Atomics.store (position + 72) | 0',
    run(n) {
      let position = 0;
      for (let i = 0; i < n; i++) {
        position = (position + 72) | 0;
        Atomics.store(words32, TAIL32 + 1, position);
      }
    },
  },
  {
    name: 'BigInt64Array Atomics.store (position += 72n)',
    run(n) {
      let position = 0n;
      for (let i = 0; i < n; i++) {
        position += 72n;
        Atomics.store(words64, TAIL64 + 1, position);
      }
    },
  },
  {
    name: 'BigInt64Array Atomics.store BigInt(number position)',
    run(n) {
      let position = 0;
      for (let i = 0; i < n; i++) {
        position += 72;
        Atomics.store(words64, TAIL64 + 1, BigInt(position));
      }
    },
  },
];

/**
 * Young-generation bytes allocated per op: loops of n and 3n ops, each right after a full GC and
 * short enough (n = 1000) that no scavenge runs inside even with the small initial semi-space; the
 * difference of their heap growth over 2n removes fixed costs. Median of 7 tries. 0 means no allocation per op.
 */
function bytesPerOp(test) {
  const n = 1000;
  const growth = (ops) => {
    test.run(1000);
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    test.run(ops);
    return process.memoryUsage().heapUsed - before;
  };
  if (!collectGarbage()) return null;
  const tries = [];
  for (let i = 0; i < 7; i++) tries.push((growth(3 * n) - growth(n)) / (2 * n));
  return Math.max(0, median(tries));
}

export function runPositions({ quick = false, progress = () => {} } = {}) {
  const n = quick ? 2_000_000 : 10_000_000;
  const repeats = quick ? 5 : 11;
  const results = [];
  for (const test of cases) {
    test.run(n / 10); // warm up (optimise)
    const samples = [];
    for (let r = 0; r < repeats; r++) {
      const start = performance.now();
      test.run(n);
      samples.push(((performance.now() - start) * 1e6) / n);
    }
    const { median: nsPerOp, min, max } = summarize(samples);
    results.push({ name: test.name, nsPerOp, nsPerOpRange: [min, max], heapBytesPerOp: bytesPerOp(test) });
  }
  for (const result of results) {
    progress(`positions: ${result.name}: ${result.nsPerOp.toFixed(2)} ns/op, ${result.heapBytesPerOp === null ? '?' : result.heapBytesPerOp.toFixed(1)} heap B/op`);
  }
  if (sink32 === 0.5 || sink64 === 0.5) console.log('');
  return results;
}

export function positionsTable(results) {
  const rows = results.map(
    (r) =>
      `| ${r.name.replaceAll('|', '\\|')} | ${r.nsPerOp.toFixed(2)} | ${r.nsPerOpRange[0].toFixed(2)} – ${r.nsPerOpRange[1].toFixed(2)} | ${r.heapBytesPerOp === null ? 'run with --expose-gc' : r.heapBytesPerOp.toFixed(1)} |`,
  );
  return ['| operation | ns/op (median) | min – max | heap bytes allocated/op |', '|---|---|---|---|', ...rows].join('\n');
}

export async function run({ quick, progress }) {
  const results = runPositions({ quick, progress });
  return { cases: [], notes: [], extras: results, markdown: [positionsTable(results)] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = runPositions({ quick: process.argv.includes('--quick'), progress: (m) => process.stderr.write(`${m}\n`) });
  console.log(positionsTable(results));
  if (typeof globalThis.gc !== 'function') console.log('\n(heap figures need node --expose-gc)');
}
