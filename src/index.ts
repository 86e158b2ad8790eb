/**
 * shmring: a zero-copy single-producer single-consumer ring of typed, variable-length records over
 * a SharedArrayBuffer. One protocol implementation serves in-memory rings (threads) and ring files
 * mapped by the native addon (processes, Go). docs/FORMAT.md is the specification.
 */
export { createRing, initializeRing, validateRing, ringGeometry } from './header.js';
export type { RingOptions, RingGeometry } from './header.js';
export { RingProducer } from './producer.js';
export type { ProducerOptions, ProducerStats, PublishPolicy, WaitOptions } from './producer.js';
export { RingConsumer, RecordView } from './consumer.js';
export { RecordBatchWriter, RecordBatchReader } from './batch.js';
export type { ConsumerStats, RecordHandler } from './consumer.js';
export type { SideOptions, Role } from './side.js';
export { atomicsParker } from './parker.js';
export type { Parker, WaitResult } from './parker.js';
export {
  RingError,
  RingFormatError,
  RingCorruptError,
  RingUsageError,
  RingClosedError,
  RingTimeoutError,
} from './errors.js';
export type { RingErrorCode, RingErrorDetails } from './errors.js';
export * as layout from "./layout.js";
export { RingFile, futexParker } from './file.js';
export type { RingFileOptions, NewRingFileOptions, RingFileOpenOptions, RingFileStats, PeerStats, FileSideOptions } from './file.js';
export { RingFileError } from './errors.js';
export { nativeInfo } from './native.js';
export type { NativeInfo } from './native.js';
export { RingPeerDeadError } from './errors.js';
export { PARK_SLICE_MS } from './side.js';
export { Pipeline, PipelineError, runPipeline, MAX_PIPELINE_TYPE } from './pipeline/index.js';
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
} from './pipeline/index.js';
export { createRingReadable, createRingWritable, RingStreamError, STREAM_ERROR_TYPE } from './streams.js';
export type { RingStreamMode, RingRecord, RingReadableOptions, RingWritableOptions } from './streams.js';
export { defineRecord } from './records.js';
export type { FieldKind, ScalarKind, FieldValue, FieldLayout, RecordSpec, RecordValues, RecordCursor, RecordLayout } from './records.js';
