/**
 * Planning: checks a pipeline's options before any thread or ring exists, resolves stage modules,
 * and answers the topology questions every other part asks (how many nodes per tier, which tiers
 * keep source order, which write framing, where each node's stats slot is).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRing } from '../header.js';
import { NODE_SLOT_LENGTH, type StatsLayout } from './stats.js';
import { PipelineError, type PipelineOptions, type ProcessStageDescriptor, type WorkerStageDescriptor } from './types.js';

const DEFAULT_RING_CAPACITY = 256 * 1024;
const DEFAULT_BATCH_RECORDS = 256;

/**
 * The default spin budget (polls before a waiting side parks). A spinning waiter keeps its core busy,
 * and when the pipeline's busy threads (its workers plus the calling thread, which runs the source
 * and the sink) outnumber the cores, the thread it waits for may need that very core: park at once.
 * With a core to spare per thread, spinning bridges the short gaps a wake-up (~30 us) would cost;
 * in between, spin a little.
 */
export function defaultSpin(threads: number, cores: number): number {
  if (threads > cores) return 0;
  return threads * 2 <= cores ? 2000 : 200;
}

export interface StagePlan {
  kind: 'worker' | 'process';
  name: string;
  module: string;
  export: string;
  workers: number;
  ordered: boolean;
  options: unknown;
  batch: boolean;
  inPlace: boolean;
  command: string[];
  env: NodeJS.ProcessEnv | undefined;
  cwd: string | undefined;
}

export function badArgument(message: string, stage?: string, stageIndex?: number): PipelineError {
  return new PipelineError('ERR_BAD_ARGUMENT', `shmring pipeline: ${message}`, { stage, stageIndex });
}

/** Resolves a stage's module to what the worker will import(); checks file modules exist. */
function resolveModule(stage: WorkerStageDescriptor, index: number): string {
  const where = `stage '${stage.name}'`;
  let specifier: string;
  const module = stage.module as unknown;
  if (module instanceof URL) specifier = module.href;
  else if (typeof module === 'string' && module.length > 0) {
    if (/^(file|data|node):/.test(module)) specifier = module;
    else if (path.isAbsolute(module) || module.startsWith('./') || module.startsWith('../')) specifier = pathToFileURL(path.resolve(module)).href;
    else specifier = module;
  } else {
    throw badArgument(`${where}: module must be a URL, a path or a package name; got ${String(module)}`, stage.name, index);
  }
  if (specifier.startsWith('file:') && !existsSync(fileURLToPath(specifier))) {
    throw new PipelineError('ERR_STAGE_MODULE', `shmring pipeline: ${where}: module ${fileURLToPath(specifier)} does not exist`, {
      stage: stage.name,
      stageIndex: index,
    });
  }
  return specifier;
}

function planStage(stage: PipelineOptions['stages'][number], index: number, names: Set<string>): StagePlan {
  if (stage === null || typeof stage !== 'object') throw badArgument(`stage ${index} must be an object`);
  if (typeof stage.name !== 'string' || stage.name.length === 0) throw badArgument(`stage ${index} needs a name`);
  if (names.has(stage.name) || stage.name === 'source' || stage.name === 'sink') {
    throw badArgument(`stage name '${stage.name}' is used twice or reserved ('source', 'sink')`, stage.name, index);
  }
  names.add(stage.name);
  if (stage.ordered !== undefined && typeof stage.ordered !== 'boolean') {
    throw badArgument(`stage '${stage.name}': ordered must be a boolean`, stage.name, index);
  }
  if (stage.command !== undefined) {
    if ((stage as { inPlace?: unknown }).inPlace !== undefined) {
      throw badArgument(`stage '${stage.name}': a process stage cannot be in place (inPlace is for worker stages that share one ring)`, stage.name, index);
    }
    const command = stage.command as unknown;
    if (!Array.isArray(command) || command.length === 0 || !command.every((part) => typeof part === 'string')) {
      throw badArgument(`stage '${stage.name}': command must be a non-empty array of strings (argv)`, stage.name, index);
    }
    return {
      kind: 'process',
      name: stage.name,
      module: '',
      export: '',
      workers: 1,
      ordered: stage.ordered ?? true,
      options: undefined,
      batch: false,
      inPlace: false,
      command: command as string[],
      env: (stage as ProcessStageDescriptor).env,
      cwd: (stage as ProcessStageDescriptor).cwd,
    };
  }
  const workers = stage.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw badArgument(`stage '${stage.name}': workers ${String(workers)} is invalid; expected an integer from 1 to 256`, stage.name, index);
  }
  const exportName = stage.export ?? 'default';
  if (typeof exportName !== 'string') throw badArgument(`stage '${stage.name}': export must be a string`, stage.name, index);
  if (stage.batch !== undefined && typeof stage.batch !== 'boolean') throw badArgument(`stage '${stage.name}': batch must be a boolean`, stage.name, index);
  if (stage.inPlace !== undefined && typeof stage.inPlace !== 'boolean') throw badArgument(`stage '${stage.name}': inPlace must be a boolean`, stage.name, index);
  return {
    kind: 'worker',
    name: stage.name,
    module: resolveModule(stage, index),
    export: exportName,
    workers,
    ordered: stage.ordered ?? true,
    options: stage.options,
    batch: stage.batch ?? false,
    inPlace: stage.inPlace ?? false,
    command: [],
    env: undefined,
    cwd: undefined,
  };
}

/** A checked pipeline: its stages and sizes, and the topology derived from them. Immutable. */
export class PipelinePlan {
  readonly stages: StagePlan[];
  readonly ringCapacity: number;
  readonly maxRecordLength: number;
  readonly batchRecords: number;
  readonly spin: number;
  readonly layout: StatsLayout;
  /** Every stage is in place: the pipeline is one ring with a cursor per stage (chain.ts). */
  readonly chained: boolean;

  /** Throws a PipelineError (ERR_BAD_ARGUMENT, ERR_STAGE_MODULE) naming what is wrong. */
  constructor(options: PipelineOptions) {
    if (options === null || typeof options !== 'object') throw badArgument('options must be an object');
    if (!Array.isArray(options.stages) || options.stages.length === 0) throw badArgument('stages must be a non-empty array');
    const sink = options.sink as unknown;
    if (typeof sink !== 'function' && !(sink !== null && typeof sink === 'object' && typeof (sink as { batch?: unknown }).batch === 'function')) {
      throw badArgument(`sink must be a function (data, type) => void or { batch(batch) }; got ${sink === null ? 'null' : typeof sink}`);
    }
    const source = options.source as unknown;
    if (
      typeof source !== 'function' &&
      !(source !== null && typeof source === 'object' && (Symbol.iterator in source || Symbol.asyncIterator in source))
    ) {
      throw badArgument('source must be an iterable, an async iterable or a function (writer) => ...');
    }
    const names = new Set<string>();
    this.stages = options.stages.map((stage, index) => planStage(stage, index, names));
    this.stages.forEach((stage, index) => {
      if (stage.kind !== 'process') return;
      for (const neighbour of [this.stages[index - 1], this.stages[index + 1]]) {
        if (neighbour !== undefined && neighbour.workers !== 1) {
          throw badArgument(
            `stage '${stage.name}': a process stage reads one ring and writes one ring, so the stages next to it need one worker; '${neighbour.name}' has ${neighbour.workers}`,
            stage.name,
            index,
          );
        }
      }
    });
    // In-place stages share one ring (chain.ts): every stage must be one, with one worker.
    const inPlace = this.stages.findIndex((stage) => stage.inPlace);
    if (inPlace >= 0) {
      const other = this.stages.findIndex((stage) => !stage.inPlace || stage.workers !== 1);
      if (other >= 0) {
        const odd = this.stages[other];
        throw badArgument(
          `stage '${this.stages[inPlace].name}' is in place, so every stage must be (one ring for the whole pipeline, one worker per stage); '${odd.name}' ${
            odd.kind === 'process' ? 'is a process stage' : !odd.inPlace ? 'is not in place' : `has ${odd.workers} workers`
          }`,
          this.stages[inPlace].name,
          inPlace,
        );
      }
    }
    this.chained = inPlace >= 0;
    this.ringCapacity = options.ringCapacity ?? DEFAULT_RING_CAPACITY;
    this.maxRecordLength = options.maxRecordLength ?? Math.floor(this.ringCapacity / 4);
    this.batchRecords = options.batchRecords ?? DEFAULT_BATCH_RECORDS;
    this.spin = options.spin ?? defaultSpin(this.threadCount + 1, availableParallelism());
    if (!Number.isInteger(this.batchRecords) || this.batchRecords < 1) throw badArgument(`batchRecords ${this.batchRecords} is invalid; expected an integer >= 1`);
    if (!Number.isInteger(this.spin) || this.spin < 0) throw badArgument(`spin ${this.spin} is invalid; expected an integer >= 0`);
    // Validates capacity and maxRecordLength the same way createRing does, before any thread starts.
    createRing({ capacity: this.ringCapacity, maxRecordLength: this.maxRecordLength });
    const tiers = this.tierSizes();
    let rings = 0;
    for (let b = 0; b + 1 < tiers.length; b++) rings += tiers[b] * tiers[b + 1];
    // Node slots: source, each stage worker, sink.
    this.layout = { nodes: tiers.reduce((sum, size) => sum + size, 0), rings };
  }

  /** Nodes per tier: the source, each stage's workers, the sink. */
  tierSizes(): number[] {
    return [1, ...this.stages.map((stage) => stage.workers), 1];
  }

  /** Whether tier t (1 = first stage, stages + 1 = sink) reads in source order. */
  readsOrdered(tier: number): boolean {
    for (let s = 0; s < Math.min(tier, this.stages.length); s++) if (!this.stages[s].ordered) return false;
    return true;
  }

  /**
   * Whether tier t frames items for the next tier: it reads in order, unless the next tier is a
   * process (which gets plain records in FIFO order, and renumbers the items).
   */
  writesFramed(tier: number): boolean {
    return this.readsOrdered(tier + 1) && this.stages[tier]?.kind !== 'process';
  }

  /** What item numbers count at tier t: source records, or the output of the last process stage before it. */
  itemLabel(tier: number): string {
    for (let s = Math.min(tier, this.stages.length) - 1; s >= 0; s--) {
      if (this.stages[s].kind === 'process') return `record (of process stage '${this.stages[s].name}' output)`;
    }
    return 'source record';
  }

  /** Index into the stats block of node `node` of tier `tier`. */
  nodeSlot(tier: number, node: number): number {
    const tiers = this.tierSizes();
    let slot = 0;
    for (let t = 0; t < tier; t++) slot += tiers[t];
    return (slot + node) * NODE_SLOT_LENGTH;
  }

  /** Boundary b joins tier b and tier b + 1; it is a ring file when either side is a process stage. */
  isFileBoundary(boundary: number): boolean {
    return this.stages[boundary - 1]?.kind === 'process' || this.stages[boundary]?.kind === 'process';
  }

  /** Worker threads the stages run (process stages are not counted: they are other processes). */
  get threadCount(): number {
    return this.stages.reduce((sum, stage) => sum + (stage.kind === 'worker' ? stage.workers : 0), 0);
  }
}
