/**
 * Process stages: another program (a Go peer, a C program, another Node) between two ring files
 * that the pipeline creates in /dev/shm. It is spawned with the paths in its argv and environment,
 * and judged by how it exits: 0 after ending its output ring is a clean end, anything else fails the
 * pipeline naming the stage, with the end of what the process said.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadSeqCst } from '../atomics.js';
import { HEADER_LENGTH, PRODUCER_STATE_INDEX, ROLE_CLOSED } from '../layout.js';
import { PipelineError } from './types.js';
import type { RunContext } from './wiring.js';

export interface ProcessState {
  /** Set while the process runs (dropped when it has exited: its listeners must not keep ring memory alive). */
  child: ChildProcess | undefined;
  pid: number | undefined;
  exitCode: number | null;
  output: string;
}

export function newProcessState(): ProcessState {
  return { child: undefined, pid: undefined, exitCode: null, output: '' };
}

/** Whether the producer of boundary b's (single) ring has ended its stream. */
function producerEnded(run: RunContext, boundary: number): boolean {
  const ring = run.boundaries[boundary]?.[0]?.[0];
  if (ring === undefined) return false;
  return loadSeqCst(new Int32Array(ring.buffer, 0, HEADER_LENGTH >> 2), PRODUCER_STATE_INDEX) === ROLE_CLOSED;
}

/** Spawns a process stage; settles when it has exited (failing the pipeline unless it ended cleanly). */
export function startProcess(run: RunContext, stageIndex: number): Promise<void> {
  const stage = run.plan.stages[stageIndex];
  const state = run.processes[stageIndex];
  // Paths only: the child's listeners outlive the run, and must not hold the rings' memory.
  const input = run.boundaries[stageIndex][0][0].path!;
  const output = run.boundaries[stageIndex + 1][0][0].path!;
  const fill = (argument: string): string => argument.replaceAll('{input}', input).replaceAll('{output}', output);
  const [command, ...args] = stage.command.map(fill);
  const where = `shmring pipeline: stage '${stage.name}' (process ${stage.command[0]})`;
  const details = { stage: stage.name, stageIndex };
  return new Promise<void>((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: stage.cwd,
        env: { ...(stage.env ?? process.env), SHMRING_PIPELINE_INPUT: input, SHMRING_PIPELINE_OUTPUT: output },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      run.fail(new PipelineError('ERR_PROCESS_SPAWN', `${where}: cannot start: ${(error as Error).message}`, { ...details, cause: error }));
      resolve();
      return;
    }
    state.child = child;
    state.pid = child.pid;
    // Keep the end of what the process says, for the error message.
    const keep = (chunk: Buffer): void => {
      state.output = (state.output + chunk.toString('utf8')).slice(-2000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    // 'error' without a spawn (ENOENT, EACCES) is followed by 'close' (code -2 etc.); report the spawn error first.
    child.once('error', (error) => {
      run.fail(new PipelineError('ERR_PROCESS_SPAWN', `${where}: cannot start: ${error.message}`, { ...details, cause: error }));
      resolve();
    });
    child.once('close', (code, signal) => {
      state.exitCode = code;
      state.child = undefined;
      const said = state.output.trim() === '' ? '' : `; it said: ${state.output.trim()}`;
      if (code !== 0) {
        const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
        run.fail(new PipelineError('ERR_PROCESS_EXIT', `${where} ${how}${said}`, details));
      } else if (!producerEnded(run, stageIndex + 1)) {
        run.fail(
          new PipelineError('ERR_PROCESS_EXIT', `${where} exited with code 0 without ending its output ring (producer close with end of stream)${said}`, details),
        );
      }
      resolve();
    });
  });
}

/** Kills every stage process still running (the pipeline is failing). */
export function killProcesses(run: RunContext): void {
  for (const process of run.processes) {
    if (process.child !== undefined && process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGKILL');
  }
}
