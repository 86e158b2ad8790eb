/**
 * Builds a C reference of the bench (bench/native/NAME.c) with the system C compiler, once, into
 * bench/native/.build/NAME, rebuilding when the source is newer. No compiler is a normal outcome:
 * the result says why, and the suite reports the reference as unavailable instead of failing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** { available: true, binary } or { available: false, reason }. */
export function buildC(name, extraFlags = []) {
  const compiler = process.env.CC || 'cc';
  const source = path.join(here, `${name}.c`);
  const binary = path.join(here, '.build', name);
  try {
    const stale = !fs.existsSync(binary) || fs.statSync(binary).mtimeMs < fs.statSync(source).mtimeMs;
    if (stale) {
      fs.mkdirSync(path.dirname(binary), { recursive: true });
      execFileSync(compiler, ['-O2', '-std=c11', ...extraFlags, '-o', binary, source], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    }
  } catch (error) {
    const reason = error.code === 'ENOENT' ? `no C compiler (${compiler})` : `building ${name}.c failed: ${String(error.stderr ?? error.message).trim().split('\n')[0]}`;
    return { available: false, reason };
  }
  return { available: true, binary };
}
