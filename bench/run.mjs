#!/usr/bin/env node
/**
 * The benchmark entry (`npm run bench`). Runs the chosen suites, prints progress on stderr, writes
 * bench/results/report.md and SVG charts, and with --json FILE the results for machines.
 *
 *   node bench/run.mjs                      every suite, 8 B .. 1 MiB, 7 rounds
 *   node bench/run.mjs --quick              a few seconds per suite (README demo, CI smoke)
 *   node bench/run.mjs --suite inproc --sizes 64,4096 --rounds 9 --json /tmp/bench.json
 *
 * Bench scripts import the built package (../dist): run `npx tsc -p tsconfig.json` first.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError, USAGE, parseOptions } from './lib/args.mjs';
import { machineInfo, setSettleMs } from './harness.mjs';
import { buildResults, formatRatio, renderMarkdown, validateResults } from './lib/report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const SUITE_MODULES = {
  inproc: './suites/inproc.mjs',
  xproc: './suites/xproc.mjs',
  xlang: './suites/xlang.mjs',
  latency: './suites/latency.mjs',
  pipeline: './suites/pipeline.mjs',
  micro: './micro.mjs',
  positions: './positions.mjs',
  structs: './suites/structs.mjs',
  csv: './suites/csv.mjs',
  log: './suites/log.mjs',
};

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

/** CPU ticks of the whole machine and of this process (with its waited-for children), from /proc. */
function cpuTicks() {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = fields[3] + (fields[4] ?? 0);
    const self = fs.readFileSync('/proc/self/stat', 'utf8');
    const after = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    // Fields 14-17 of /proc/PID/stat: utime stime cutime cstime (index 11-14 after the comm field).
    const own = after[11] + after[12] + after[13] + after[14];
    return { total, busy: total - idle, own };
  } catch {
    return undefined;
  }
}

function hostLoadBetween(start, end, loadStart) {
  if (!start || !end || end.total <= start.total) return undefined;
  const others = Math.max(0, end.busy - start.busy - (end.own - start.own));
  return {
    loadAverageStart: loadStart,
    loadAverageEnd: os.loadavg().map((x) => Number(x.toFixed(2))),
    othersBusyFraction: Number((others / (end.total - start.total)).toFixed(3)),
  };
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // Heap-growth figures want a full GC before each trial: re-run this script with --expose-gc.
  if (typeof globalThis.gc !== 'function' && process.env.SHMRING_BENCH_NO_REEXEC !== '1') {
    const child = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, SHMRING_BENCH_NO_REEXEC: '1' },
    });
    process.exit(child.status ?? 1);
  }
  if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
    process.stderr.write('bench: dist/index.js not found; build first: npx tsc -p tsconfig.json\n');
    process.exit(1);
  }

  if (options.quick) setSettleMs(10);
  // A --quick run (the demo, CI) writes beside the committed results, not over them.
  const outDir = path.resolve(options.out ?? path.join(here, 'results', ...(options.quick ? ['quick'] : [])));
  fs.mkdirSync(outDir, { recursive: true });
  const command = ['node bench/run.mjs', ...process.argv.slice(2)].join(' ');
  const machine = machineInfo();
  log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ${machine.go ?? 'no Go'}; load average ${machine.loadAverage.join(' ')}`);
  log(`suites ${options.suites.join(',')}; sizes ${options.sizes.join(',')}; ${options.rounds} rounds; trials ~${options.targetMs} ms`);

  const loadStart = os.loadavg().map((x) => Number(x.toFixed(2)));
  const ticksStart = cpuTicks();
  const suites = {};
  const suiteInfo = {};
  const cases = [];
  const extras = {};
  for (const name of options.suites) {
    const started = performance.now();
    log(`suite ${name}: start`);
    let module;
    try {
      module = await import(pathToFileURL(path.join(here, SUITE_MODULES[name])).href);
    } catch (error) {
      suites[name] = { status: 'failed', reason: `cannot load: ${error.message}` };
      log(`suite ${name}: failed: cannot load: ${error.message}`);
      continue;
    }
    suiteInfo[name] = { description: module.description };
    try {
      const outcome = await module.run({ ...options, progress: (message) => log(message), quick: options.quick });
      const durationMs = Math.round(performance.now() - started);
      if (outcome.status === 'skipped') {
        suites[name] = { status: 'skipped', reason: outcome.reason, durationMs };
        log(`suite ${name}: skipped: ${outcome.reason}`);
        continue;
      }
      suites[name] = { status: 'ok', notes: outcome.notes ?? [], durationMs };
      for (const note of outcome.notes ?? []) log(`suite ${name}: ${note}`);
      cases.push(...(outcome.cases ?? []));
      if (outcome.extras !== undefined) extras[name] = outcome.extras;
      suiteInfo[name].markdown = outcome.markdown ?? [];
      log(`suite ${name}: done in ${(durationMs / 1000).toFixed(1)} s`);
    } catch (error) {
      suites[name] = { status: 'failed', reason: String(error?.stack ?? error), durationMs: Math.round(performance.now() - started) };
      log(`suite ${name}: failed: ${error?.stack ?? error}`);
    }
  }
  const hostLoad = hostLoadBetween(ticksStart, cpuTicks(), loadStart);
  const doc = buildResults({ machine, options, suites, cases, extras, hostLoad });
  const problems = validateResults(doc);
  if (problems.length > 0) {
    log(`results do not match the schema:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  }

  let charts = [];
  if (options.charts) {
    try {
      const { renderCharts } = await import('./lib/charts.mjs');
      charts = await renderCharts(cases, outDir);
    } catch (error) {
      log(`charts skipped: ${error.message} (npm install --save-dev vega vega-lite)`);
    }
  }
  const markdown = renderMarkdown(doc, { command, suiteInfo, charts });
  fs.writeFileSync(path.join(outDir, 'report.md'), markdown);
  log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'report.md'))}${charts.length ? ` and ${charts.length} chart(s)` : ''}`);
  if (options.json) {
    fs.writeFileSync(path.resolve(options.json), `${JSON.stringify(doc, null, 2)}\n`);
    log(`wrote ${options.json}`);
  }
  for (const f of doc.floors) log(`floor ${f.met ? 'met   ' : 'MISSED'} ${f.name}: ${f.unit === 'x' ? formatRatio(f.value) : f.value.toExponential(3)} (${f.atMost ? '<=' : '>='} ${f.threshold})`);
  if (Object.values(suites).some((s) => s.status === 'failed')) process.exitCode = 1;
}

await main();
