/**
 * The C ping-pong reference of the latency suite (bench/native/pingpong.c: two threads, two SPSC
 * rings with acquire/release positions, both spinning), built with the system C compiler by
 * build.mjs. Each call runs one child process for one trial, interleaved with the Node contenders
 * (unlike memcpy.mjs, which measures before any worker exists): here the workers are idle between
 * trials, and ring-thread-spin's p50 with and without this contender in the rounds showed no
 * difference beyond the host's run-to-run spread (1.2-2.2 µs either way, --quick --rounds 5).
 */
import { execFile } from 'node:child_process';
import { buildC } from './build.mjs';

let cached;

/** { available: true, run(size, count, warmup) } or { available: false, reason }. */
export function nativePingPong() {
  cached ??= build();
  return cached;
}

function build() {
  const built = buildC('pingpong', ['-pthread']);
  if (!built.available) return built;
  const { binary } = built;
  return {
    available: true,
    /** Resolves with { count, elapsedNs, latencyNs: [round trip of each timed ping], rssBytes }. */
    run(size, count, warmup) {
      return new Promise((resolve, reject) => {
        execFile(binary, [String(size), String(count), String(warmup)], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
          if (error) return reject(new Error(`C ping-pong reference failed: ${stderr || error.message}`));
          try {
            resolve(JSON.parse(stdout));
          } catch (parseError) {
            reject(new Error(`C ping-pong reference: no JSON report (${parseError.message})`));
          }
        });
      });
    },
  };
}
