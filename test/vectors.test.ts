/**
 * The ring files in test/vectors (made by a hand-written generator from FORMAT.md alone, by the
 * TypeScript library and by the Go peer) decoded through the public API: header, positions,
 * records, end of stream, and for the corrupt ones the error code and field (FORMAT.md §9). The C++
 * core (native/test/vectors_test.cc) and the Go peer (go-peer/shmring/vectors_test.go) decode the same files.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RingConsumer, RingError, validateRing } from '../src/index.js';
import { CONSUMER_STATE_INDEX, HEAD_INDEX, PRODUCER_STATE_INDEX, TAIL_INDEX } from '../src/layout.js';

interface Vector {
  description: string;
  file: string;
  header: { capacity: number; maxRecordLength: number; creatorPid: number };
  head: number;
  tail: number;
  producerState: number;
  consumerState: number;
  records?: { type: number; payload: string }[];
  ended?: boolean;
  error?: { code: string; field: string; value?: number; fieldByLanguage?: Record<string, string> };
}

const directory = join(import.meta.dirname, 'vectors');
const vectors = readdirSync(directory)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(directory, name), 'utf8')) as Vector);

/** A private copy of the file in a SharedArrayBuffer: attaching writes state words. */
function load(vector: Vector): SharedArrayBuffer {
  const bytes = readFileSync(join(directory, vector.file));
  const buffer = new SharedArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return buffer;
}

function decode(buffer: SharedArrayBuffer, vector: Vector): { records: { type: number; payload: string }[]; ended: boolean } {
  const geometry = validateRing(buffer);
  const header = new DataView(buffer, 0, 64);
  expect({ ...geometry, creatorPid: header.getUint32(28, true) }).toEqual({ ...vector.header, byteLength: buffer.byteLength });
  const words = new Int32Array(buffer, 0, 1024);
  expect({
    head: words[HEAD_INDEX] >>> 0,
    tail: words[TAIL_INDEX] >>> 0,
    producerState: words[PRODUCER_STATE_INDEX] >>> 0,
    consumerState: words[CONSUMER_STATE_INDEX] >>> 0,
  }).toEqual({ head: vector.head, tail: vector.tail, producerState: vector.producerState, consumerState: vector.consumerState });
  const consumer = new RingConsumer(buffer);
  const records: { type: number; payload: string }[] = [];
  while (consumer.poll((type, data, offset, length) => records.push({ type, payload: Buffer.from(data.subarray(offset, offset + length)).toString('hex') })) > 0);
  return { records, ended: consumer.ended };
}

describe('test vectors', () => {
  it('there are hand-made, Node-made and Go-made vectors, valid and corrupt', () => {
    const prefixes = new Set(vectors.map((vector) => vector.file.split('-')[0]));
    expect([...prefixes].sort()).toEqual(['go', 'hand', 'node']);
    expect(vectors.filter((vector) => vector.error).length).toBeGreaterThanOrEqual(5);
  });

  for (const vector of vectors) {
    it(`${vector.file}: ${vector.description}`, () => {
      const buffer = load(vector);
      if (vector.error) {
        let error: unknown;
        try {
          decode(buffer, vector);
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(RingError);
        const field = vector.error.fieldByLanguage?.ts ?? vector.error.field;
        expect(error).toMatchObject({ code: vector.error.code, field });
        if (vector.error.value !== undefined) expect((error as RingError).value).toBe(vector.error.value);
        return;
      }
      expect(decode(buffer, vector)).toEqual({ records: vector.records, ended: vector.ended });
    });
  }
});
