/** Temporary ring-file paths for tests, all removed after the test file: nothing is left behind. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const workersDir = fileURLToPath(new URL('../workers/', import.meta.url));

const created: string[] = [];
const dirs: string[] = [];

/** A unique name for /dev/shm (the path is returned; the caller creates the file). */
export function shmTestPath(label: string): string {
  const file = path.join('/dev/shm', `shmring-test-${process.pid}-${label}-${randomBytes(4).toString('hex')}`);
  created.push(file);
  return file;
}

/** A unique path on disk, inside a fresh temporary directory. */
export function diskTestPath(label: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'shmring-test-'));
  dirs.push(dir);
  const file = path.join(dir, `${label}.ring`);
  created.push(file);
  return file;
}

export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'shmring-test-'));
  dirs.push(dir);
  return dir;
}

export function removeTestFiles(): void {
  for (const file of created.splice(0)) if (existsSync(file)) unlinkSync(file);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}


export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a node child script with a JSON argument; resolves when it exits (never rejects). */
export function runNodeChild(script: string, argument: object, onSpawn?: (child: ChildProcess) => void, ipc = false): Promise<ChildResult> {
  return runChild(process.execPath, [path.join(workersDir, script), JSON.stringify(argument)], onSpawn, ipc);
}

export function runChild(command: string, args: string[], onSpawn?: (child: ChildProcess) => void, ipc = false): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    onSpawn?.(child);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Parses the last JSON line a child printed. */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}
