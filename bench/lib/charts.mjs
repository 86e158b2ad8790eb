/**
 * SVG charts from the results with Vega-Lite (compiled to Vega and rendered headless: no browser, no
 * canvas, no native module). `chartSpecs` is pure (testable); `renderCharts` writes the files.
 */
import fs from 'node:fs';
import path from 'node:path';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Vega-Lite specs: per suite, throughput vs record size per transport; latency percentiles. */
export function chartSpecs(cases) {
  const specs = [];
  const bySuite = new Map();
  for (const c of cases) {
    if (c.error !== undefined) continue;
    if (!bySuite.has(c.suite)) bySuite.set(c.suite, []);
    bySuite.get(c.suite).push(c);
  }
  for (const [suite, suiteCases] of bySuite) {
    const throughput = suiteCases.filter((c) => c.latency === undefined);
    if (throughput.length > 0) {
      const values = throughput.map((c) => ({
        transport: c.transport,
        size: c.recordSize,
        records: c.recordsPerSec,
        recordsMin: c.recordsPerSecRange[0],
        recordsMax: c.recordsPerSecRange[1],
        gbytes: c.bytesPerSec / 1e9,
        gbytesMin: c.bytesPerSecRange[0] / 1e9,
        gbytesMax: c.bytesPerSecRange[1] / 1e9,
      }));
      const panel = (field, title) => ({
        width: 360,
        height: 260,
        layer: [
          {
            mark: { type: 'line', point: true },
            encoding: {
              x: { field: 'size', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'record size (bytes, log scale)' },
              y: { field, type: 'quantitative', scale: { type: 'log' }, title },
              color: { field: 'transport', type: 'nominal', title: 'transport' },
            },
          },
          {
            mark: { type: 'rule' },
            encoding: {
              x: { field: 'size', type: 'quantitative', scale: { type: 'log', base: 2 } },
              y: { field: `${field}Min`, type: 'quantitative' },
              y2: { field: `${field}Max` },
              color: { field: 'transport', type: 'nominal' },
            },
          },
        ],
      });
      specs.push({
        suite,
        file: `${suite}-throughput.svg`,
        title: `${suite}: throughput vs record size`,
        spec: {
          $schema: SCHEMA,
          title: `${suite}: throughput vs record size (median, bars = min–max over rounds)`,
          data: { values },
          hconcat: [panel('records', 'records/s (log scale)'), panel('gbytes', 'GB/s (log scale)')],
        },
      });
    }
    const latency = suiteCases.filter((c) => c.latency !== undefined);
    if (latency.length > 0) {
      const values = latency.flatMap((c) =>
        [
          ['p50', c.latency.p50],
          ['p90', c.latency.p90],
          ['p99', c.latency.p99],
          ['p99.9', c.latency.p999],
        ].map(([percentile, us]) => ({ transport: `${c.transport} (${c.recordSize} B)`, percentile, us })),
      );
      specs.push({
        suite,
        file: `${suite}-percentiles.svg`,
        title: `${suite}: latency percentiles`,
        spec: {
          $schema: SCHEMA,
          title: `${suite}: latency percentiles (µs, log scale; round trip, one-way for *-wakeup)`,
          data: { values },
          width: 520,
          height: 40 * latency.length,
          encoding: {
            y: { field: 'transport', type: 'nominal', title: null, axis: { labelLimit: 320 } },
          },
          layer: [
            {
              // A line from the smallest to the largest percentile shown, per transport.
              mark: { type: 'rule', color: '#bbb' },
              encoding: { x: { aggregate: 'min', field: 'us', type: 'quantitative' }, x2: { aggregate: 'max', field: 'us' } },
            },
            {
              mark: { type: 'point', filled: true, size: 90 },
              encoding: {
                x: { field: 'us', type: 'quantitative', scale: { type: 'log' }, title: 'µs (log scale)' },
                color: { field: 'percentile', type: 'nominal', sort: ['p50', 'p90', 'p99', 'p99.9'] },
                shape: { field: 'percentile', type: 'nominal', sort: ['p50', 'p90', 'p99', 'p99.9'] },
              },
            },
          ],
        },
      });
    }
  }
  return specs;
}

/** Renders each spec to `dir/<file>`; returns the charts written. Throws if Vega is not installed. */
export async function renderCharts(cases, dir) {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const written = [];
  for (const chart of chartSpecs(cases)) {
    const { spec } = vegaLite.compile(chart.spec);
    const view = new vega.View(vega.parse(spec), { renderer: 'none' });
    const svg = await view.toSVG();
    view.finalize();
    fs.writeFileSync(path.join(dir, chart.file), svg);
    written.push(chart);
  }
  return written;
}
