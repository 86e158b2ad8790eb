/** Command-line options of bench/run.mjs. Pure: no I/O, so the tests can call it directly. */
import { parseArgs } from 'node:util';

export const SUITES = ['inproc', 'xproc', 'xlang', 'latency', 'pipeline', 'micro', 'positions', 'structs', 'csv', 'log'];

/** 8 B .. 1 MiB in powers of four (plus 64 KiB / 1 MiB ends), the full sweep. */
export const FULL_SIZES = [8, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];
export const QUICK_SIZES = [64, 4096];
export const MAX_SIZE = 16 * 1024 * 1024;

export const USAGE = `usage: node bench/run.mjs [options]

  --quick               short run (a few seconds per suite): sizes 64,4096, 3 rounds, short trials
  --suite NAME[,NAME]   suites to run (default: all): ${SUITES.join(', ')}
  --rounds N            interleaved rounds per case (default 7, quick 3)
  --sizes LIST          record sizes in bytes, e.g. 64,4096 or 8,1k,64k,1m (default 8 B .. 1 MiB)
  --transports LIST     only these contenders (e.g. shmring-batched,ringbuf.js,memcpy-set)
  --json FILE           also write the results as JSON to FILE
  --out DIR             where report.md and the SVG charts go (default bench/results, quick: bench/results/quick)
  --target-ms N         aim for trials of about N ms (default 250, quick 40)
  --no-charts           skip the SVG charts
  -h, --help            this text`;

export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

/** "64", "4k", "4KiB", "1m", "1MiB" -> bytes. */
export function parseSize(text) {
  const match = /^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib)?\s*$/i.exec(String(text));
  if (!match) throw new UsageError(`--sizes: "${text}" is not a size (e.g. 64, 4k, 1m)`);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('m') ? 1024 * 1024 : unit.startsWith('k') ? 1024 : 1;
  const size = Number(match[1]) * factor;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_SIZE) {
    throw new UsageError(`--sizes: ${text} is out of range; expected 1 B .. ${MAX_SIZE / 1024 / 1024} MiB`);
  }
  return size;
}

function positiveInteger(flag, text) {
  if (!/^\d+$/.test(String(text)) || Number(text) < 1) throw new UsageError(`${flag}: "${text}" is not a positive integer`);
  return Number(text);
}

/** Parses argv (without node and the script) into options; throws UsageError on anything wrong. */
export function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        suite: { type: 'string', multiple: true },
        rounds: { type: 'string' },
        sizes: { type: 'string' },
        json: { type: 'string' },
        transports: { type: 'string' },
        out: { type: 'string' },
        'target-ms': { type: 'string' },
        'no-charts': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error.message);
  }
  const values = parsed.values;
  const quick = values.quick;
  let suites = SUITES;
  if (values.suite !== undefined) {
    suites = [];
    for (const name of values.suite.flatMap((item) => item.split(','))) {
      const trimmed = name.trim();
      if (trimmed === '') continue;
      if (!SUITES.includes(trimmed)) throw new UsageError(`--suite: unknown suite "${trimmed}"; expected one of ${SUITES.join(', ')}`);
      if (!suites.includes(trimmed)) suites.push(trimmed);
    }
    if (suites.length === 0) throw new UsageError('--suite: no suite named');
  }
  const sizes =
    values.sizes !== undefined
      ? [...new Set(values.sizes.split(',').filter((s) => s.trim() !== '').map(parseSize))].sort((a, b) => a - b)
      : quick
        ? QUICK_SIZES
        : FULL_SIZES;
  if (sizes.length === 0) throw new UsageError('--sizes: no size given');
  return {
    help: values.help,
    quick,
    suites,
    sizes,
    rounds: values.rounds !== undefined ? positiveInteger('--rounds', values.rounds) : quick ? 3 : 7,
    targetMs: values['target-ms'] !== undefined ? positiveInteger('--target-ms', values['target-ms']) : quick ? 40 : 250,
    json: values.json,
    transports: values.transports !== undefined ? values.transports.split(',').map((t) => t.trim()).filter((t) => t !== '') : undefined,
    out: values.out,
    charts: !values['no-charts'],
  };
}
