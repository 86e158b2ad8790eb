/** Helpers shared by the pipeline tests. */
import { expect } from 'vitest';
import { PipelineError, type Pipeline, type PipelineOptions } from '../../src/pipeline/index.js';
// @ts-expect-error -- plain JS fixture shared with the workers
import { recordType, sourceRecord } from '../fixtures/stages/seeded.mjs';

/** Writes source records 0 .. count-1 of the seeded stream, reusing one scratch buffer. */
export function seededSource(count: number): PipelineOptions['source'] {
  return async (out) => {
    const scratch = new Uint8Array(64);
    for (let n = 0; n < count; n++) {
      const pending = out.write(sourceRecord(n, scratch), recordType(n));
      if (pending !== undefined) await pending;
    }
  };
}

/** Runs a pipeline that must fail; returns its PipelineError. */
export async function failure(pipeline: Pipeline): Promise<PipelineError> {
  const error = await pipeline.run().then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}
