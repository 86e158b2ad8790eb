/**
 * Pipelines: worker-thread (and process) stages joined by shmring rings. The parts, each readable alone:
 * - types.ts: the public descriptors, options, errors and stats types
 * - plan.ts: checks the options and derives the topology
 * - wiring.ts: the rings between tiers, and what a running pipeline shares
 * - thread-stage.ts / worker.ts: stages on worker threads (main-thread side / worker side)
 * - output.ts: a stage worker's output (context claim/commit/write/batch, item framing)
 * - context.ts: the context a stage function receives
 * - cursor.ts: the batch a batch handler walks
 * - chain.ts: in-place stages, the whole pipeline one ring with a cursor per stage
 * - process-stage.ts: stages that are other processes, through ring files
 * - io.ts: fan-in/fan-out over a tier's rings, ordered collect and framing
 * - ends.ts: the source and the sink on the calling thread
 * - stats.ts: the shared stats block and its snapshot
 * - pipeline.ts: the lifecycle (run, abort, failure, cleanup)
 */
export { Pipeline, runPipeline } from './pipeline.js';
export { PipelineError, MAX_PIPELINE_TYPE } from './types.js';
export type {
  StageDescriptor,
  WorkerStageDescriptor,
  ProcessStageDescriptor,
  StageContext,
  StageBatch,
  StageBatchFunction,
  StageDefinition,
  StageFunction,
  StageOutput,
  PipelineInput,
  SourceWriter,
  PipelineSource,
  PipelineSink,
  PipelineOptions,
  PipelineErrorCode,
  QueueStats,
  StageStats,
  PipelineState,
  PipelineStats,
  PipelineResult,
} from './types.js';
