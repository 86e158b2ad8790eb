/**
 * The StageContext a stage receives: its identity and options (the same in every stage), and its
 * record index and output, which a stage worker (worker.ts, output.ts) and an in-place chain stage
 * (chain.ts, which has no output) provide differently.
 */
import type { RecordBatchWriter } from '../batch.js';
import type { StageContext, StageTask } from './worker.js';

/** What differs between the kinds of stage: where the record index comes from, and the output. */
export interface StageIo {
  recordIndex(): number;
  output(): Uint8Array;
  claim(length: number, type?: number): number;
  commit(): void;
  write(data: Uint8Array, type?: number): void;
  batch(): RecordBatchWriter;
  waitForRoom(length: number): RecordBatchWriter;
}

/** The context of one worker of `task`'s stage: one object, sealed, for the worker's whole run. */
export function stageContext(task: StageTask, io: StageIo): StageContext {
  const context: StageContext = {
    stage: task.stage,
    stageIndex: task.stageIndex,
    worker: task.worker,
    workers: task.workers,
    options: task.options,
    state: undefined,
    get recordIndex() {
      return io.recordIndex();
    },
    get output() {
      return io.output();
    },
    claim: io.claim,
    commit: io.commit,
    write: io.write,
    batch: io.batch,
    waitForRoom: io.waitForRoom,
  };
  return Object.seal(context);
}
