/**
 * The reusable cursor behind StageBatch (worker.ts): the records of a batch as integers in typed
 * arrays, walked with next(); nothing allocated per record.
 */
import type { StageBatch } from './worker.js';

/** The reusable cursor behind StageBatch: integer bookkeeping in typed arrays, no object per record. */
export class BatchCursor implements StageBatch {
  count = 0;
  buffer: Uint8Array = new Uint8Array(0);
  offset = 0;
  length = 0;
  type = 0;
  index = -1;
  position = -1;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly types: Int32Array;
  readonly items: Float64Array;
  readonly indices: Float64Array;
  /** Called when the cursor leaves a record and when it reaches the next one (output framing). */
  onLeave: () => void = () => {};
  onEnter: (position: number) => void = () => {};

  constructor(capacity: number) {
    this.offsets = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    this.types = new Int32Array(capacity);
    this.items = new Float64Array(capacity);
    this.indices = new Float64Array(capacity);
  }

  next(): boolean {
    if (this.position >= 0 && this.position < this.count) this.onLeave();
    if (this.position < this.count) this.position++;
    if (this.position >= this.count) return false;
    const position = this.position;
    this.offset = this.offsets[position];
    this.length = this.lengths[position];
    this.type = this.types[position];
    this.index = this.indices[position];
    this.onEnter(position);
    return true;
  }

  get data(): Uint8Array {
    return this.buffer.subarray(this.offset, this.offset + this.length);
  }
}

