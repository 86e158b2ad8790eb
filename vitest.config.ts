import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Stress tests run real worker threads and processes; 2 cores: keep files sequential-ish.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // --no-concurrent-array-buffer-sweeping: tests that bound memory read
    // process.memoryUsage().arrayBuffers right after gc(); with V8's default concurrent sweeping, dead
    // ArrayBuffers are still counted for a while after gc() returns (measured: up to 14 MB of 16 MB
    // just dropped, on Node 20 and 26), which failed streams.test.ts's bound once on Node 26.
    execArgv: ['--expose-gc', '--no-concurrent-array-buffer-sweeping'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './test/tsconfig.json' },
  },
});
