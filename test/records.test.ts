/**
 * Typed records in place (src/records.ts) and their Go twin (go-peer/shmring/records.go): offsets, every
 * field kind at its edges, many laps of a ring with every record checked, no allocation per record,
 * and TS-encoded records decoded and re-encoded by Go, then checked again by TS.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RingConsumer, RingFile, RingProducer, createRing, defineRecord } from '../src/index.js';
import { removeTestFiles, shmTestPath, tempDir } from './helpers/ringfiles.js';
import { seededRandom } from './support/ring.js';

const Trade = defineRecord({ id: 'u64', price: 'f64', qty: 'u32', symbol: 'utf8[20]' });

const Every = defineRecord({
  f64: 'f64', u64: 'u64', i64: 'i64', u64n: 'u64n', i64n: 'i64n', f32: 'f32',
  u32: 'u32', i32: 'i32', u16: 'u16', i16: 'i16', u8: 'u8', i8: 'i8', raw: 'bytes[5]', name: 'utf8[7]',
});

afterEach(removeTestFiles);

describe('layout', () => {
  it('packs fields in order, little-endian, and prints the text form Go parses', () => {
    expect(Trade.size).toBe(40);
    expect(Trade.fields.map((field) => [field.name, field.offset, field.size])).toEqual([
      ['id', 0, 8], ['price', 8, 8], ['qty', 16, 4], ['symbol', 20, 20],
    ]);
    expect(Trade.spec).toBe('id:u64,price:f64,qty:u32,symbol:utf8[20]');
    expect(defineRecord(Trade.spec).fields).toEqual(Trade.fields);

    const bytes = new Uint8Array(40);
    Trade.encode(bytes, 0, { id: 0x0102030405, price: 1.5, qty: 7, symbol: 'AB' });
    expect([...bytes.subarray(0, 8)]).toEqual([5, 4, 3, 2, 1, 0, 0, 0]);
    expect(new DataView(bytes.buffer).getFloat64(8, true)).toBe(1.5);
    expect([...bytes.subarray(16, 24)]).toEqual([7, 0, 0, 0, 65, 66, 0, 0]);
  });

  it.each([
    [{ a: 'u128' }, 'kind u128'],
    [{ a: 'utf8[0]' }, 'kind utf8[0]'],
    [{ a: 'bytes[x]' }, 'kind bytes[x]'],
    [{ at: 'u8' }, "name 'at'"],
    [{ '1x': 'u8' }, "name '1x'"],
    [{}, 'no fields'],
    ['a:u8,a:u8', 'appears twice'],
    ['a=u8', 'not name:kind'],
  ])('refuses %j (%s) with ERR_BAD_ARGUMENT', (spec, message) => {
    expect(() => defineRecord(spec as never)).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', message: expect.stringContaining(message) }));
  });

  it('refuses a cursor position where the record does not fit, naming the offset', () => {
    const cursor = Trade.cursor(new Uint8Array(128));
    expect(cursor.at(88).offset).toBe(88);
    expect(() => cursor.at(25)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', field: 'offset', value: 25, message: expect.stringContaining('at offset 25 is not 8-aligned') }));
    // Aligned but past the end: said as such (the message named alignment for both once).
    expect(() => cursor.at(96)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', value: 96, message: expect.stringContaining('at offset 96 does not fit in 128 bytes') }));
    expect(() => cursor.at(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => cursor.at(2 ** 40)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('at offset 1099511627776 is not an integer from 0 to 2^32-1') }));
    // Not an integer: refused before any field is touched (a string '8' passed the range tests by coercion).
    expect(() => cursor.at('8' as never)).toThrow(expect.objectContaining({ message: expect.stringContaining('at offset "8" is not an integer') }));
    for (const bad of ['8', 8.5, Number.NaN]) {
      expect(() => cursor.at(bad as number)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('is not an integer from 0 to 2^32-1') }));
    }
    expect(cursor.offset).toBe(88);
  });
});

describe('field kinds', () => {
  const cursor = Every.cursor(new Uint8Array(Every.size + 8)).at(8);

  it('round-trips integers at their edges, wrapping small ones as typed arrays do', () => {
    for (const [field, values] of [
      ['u8', [0, 255]], ['i8', [-128, 127]], ['u16', [0, 65535]], ['i16', [-32768, 32767]],
      ['u32', [0, 2 ** 32 - 1]], ['i32', [-(2 ** 31), 2 ** 31 - 1]],
      ['u64', [0, 1, 2 ** 32, 2 ** 53 - 1]], ['i64', [0, -1, -(2 ** 32), -(2 ** 53 - 1), 2 ** 53 - 1]],
    ] as const) {
      for (const value of values) {
        (cursor as unknown as Record<string, number>)[field] = value;
        expect((cursor as unknown as Record<string, number>)[field], `${field} ${value}`).toBe(value);
      }
    }
    cursor.u8 = 256 + 3;
    expect(cursor.u8).toBe(3);
    cursor.u64n = 2n ** 64n - 1n;
    expect(cursor.u64n).toBe(2n ** 64n - 1n);
    cursor.i64n = -(2n ** 63n);
    expect(cursor.i64n).toBe(-(2n ** 63n));
    cursor.f32 = 1.25;
    expect(cursor.f32).toBe(1.25);
    cursor.f64 = -0.1;
    expect(cursor.f64).toBe(-0.1);
  });

  it('u64/i64 as numbers never lose precision silently', () => {
    expect(() => (cursor.u64 = 2 ** 53)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', field: 'u64' }));
    expect(() => (cursor.u64 = -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => (cursor.u64 = 1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => (cursor.i64 = -(2 ** 53))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', field: 'i64' }));
    // Written through the bigint kind, the same bytes read as a number: refused, with the value.
    const bytes = new Uint8Array(8);
    defineRecord({ v: 'u64n' }).cursor(bytes).at(0).v = 2n ** 53n;
    expect(() => defineRecord({ v: 'u64' }).cursor(bytes).at(0).v).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', value: String(2n ** 53n) }));
    defineRecord({ v: 'i64n' }).cursor(bytes).at(0).v = -(2n ** 53n);
    expect(() => defineRecord({ v: 'i64' }).cursor(bytes).at(0).v).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', value: String(-(2n ** 53n)) }));
    defineRecord({ v: 'i64n' }).cursor(bytes).at(0).v = -(2n ** 53n) + 1n;
    expect(defineRecord({ v: 'i64' }).cursor(bytes).at(0).v).toBe(-(2 ** 53) + 1);
  });

  it('bytes[N]: a view in place, written by copy with the rest zeroed', () => {
    cursor.raw = new Uint8Array([1, 2, 3, 4, 5]);
    cursor.raw = new Uint8Array([9, 8]);
    expect([...cursor.raw]).toEqual([9, 8, 0, 0, 0]);
    expect(() => (cursor.raw = new Uint8Array(6))).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', field: 'raw' }));
  });

  it('utf8[N]: ASCII and multi-byte text, zero-padded, truncated at a character boundary', () => {
    for (const [written, read] of [
      ['', ''], ['abc', 'abc'], ['seven77', 'seven77'], ['eight888', 'eight88'],
      ['é', 'é'], ['aéb', 'aéb'], ['€€€', '€€'], ['ab€€', 'ab€'], ['😀😀', '😀'],
    ]) {
      cursor.name = 'zzzzzzz';
      cursor.name = written;
      expect(cursor.name, JSON.stringify(written)).toBe(read);
    }
    expect(() => (cursor.name = 5 as never)).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARGUMENT', field: 'name' }));
  });
});

describe('utf8 fields against a reference decoder', () => {
  // utf8[20] at offset 20 takes the word path (4-aligned, N a multiple of 4); utf8[7] at an odd
  // offset and utf8[6] take the byte path. Bytes are planted directly, as a foreign writer would:
  // ASCII of every length, a zero inside, non-ASCII bytes before and after the terminator, and
  // thousands of distinct strings so the read cache's sets collide and evict.
  const Mixed = defineRecord({ id: 'u64', price: 'f64', qty: 'u32', word: 'utf8[20]', odd: 'u8', bytewise: 'utf8[7]', short: 'utf8[6]' });
  const reference = new TextDecoder();
  const expected = (bytes: Uint8Array): string => {
    const end = bytes.indexOf(0);
    return reference.decode(bytes.subarray(0, end < 0 ? bytes.length : end));
  };

  it('reads exactly what the bytes say, through the cache, whatever was cached before', () => {
    const stride = (Mixed.size + 7) & ~7; // cursors point at 8-aligned records, as ring payloads are
    const data = new Uint8Array(stride * 64);
    const cursor = Mixed.cursor(data);
    const random = seededRandom(2024);
    const fieldOf = (name: 'word' | 'bytewise' | 'short') => Mixed.fields.find((f) => f.name === name)!;
    for (let round = 0; round < 20_000; round++) {
      const record = random() & 63;
      const at = record * stride;
      cursor.at(at);
      for (const name of ['word', 'bytewise', 'short'] as const) {
        const { offset, size } = fieldOf(name);
        const bytes = data.subarray(at + offset, at + offset + size);
        const shape = random() % 6;
        const length = random() % (size + 1);
        bytes.fill(0);
        for (let k = 0; k < length; k++) {
          // Mostly ASCII letters from a small alphabet (so strings recur and hit the cache).
          bytes[k] = 0x41 + (random() % (shape === 0 ? 2 : 6));
        }
        if (shape === 1 && length < size) bytes[length + (random() % (size - length))] = 0x80 | (random() & 0x7f); // garbage after the end
        if (shape === 2 && length > 0) bytes[random() % length] = 0xc3; // a broken sequence: the decoder's U+FFFD
        if (shape === 3 && length >= 2) bytes.set([0xc3, 0xa9], 0); // é
        expect(cursor[name], `${name} ${Array.from(bytes).join(',')}`).toBe(expected(bytes));
        // Read twice: the second read may come from the cache, and must agree.
        expect(cursor[name]).toBe(expected(bytes));
      }
    }
  });

  it('writes ASCII of every length, NUL, non-ASCII and over-long strings as the reference encoder would', () => {
    const data = new Uint8Array(Mixed.size);
    const cursor = Mixed.cursor(data);
    const encoder = new TextEncoder();
    for (const name of ['word', 'bytewise', 'short'] as const) {
      const { offset, size } = Mixed.fields.find((f) => f.name === name)!;
      const field = () => data.subarray(offset, offset + size);
      const cases = [...Array.from({ length: size + 1 }, (_, n) => 'Q'.repeat(n)), 'a\u0000b', 'ñandú', '€uro', 'x'.repeat(size + 3), '\u007f'];
      for (const value of cases) {
        data.fill(0xee);
        cursor[name] = value;
        const want = new Uint8Array(size);
        // encodeInto into the field's room: whole characters only, the rest zero.
        encoder.encodeInto(value, want);
        expect(Array.from(field()), `${name} <- ${JSON.stringify(value)}`).toEqual(Array.from(want));
        // Neighbouring fields are untouched.
        expect(data[offset - 1]).toBe(0xee);
        if (offset + size < data.length) expect(data[offset + size]).toBe(0xee);
      }
    }
  });
});

/** Record n's values; `random` is test/support's seeded u32 source. */
function tradeValues(random: () => number, n: number) {
  return {
    id: n * 4099 + (random() & 4095),
    price: (random() % 1e8) / 100,
    qty: random(),
    symbol: ['AAPL', 'MSFT', 'BRK.B', 'ÅSEA', 'EURUSD', 'x'.repeat(20)][n % 6],
  };
}

describe('in a ring', () => {
  it('writes through tryClaim and reads in poll, every record checked over many laps', () => {
    const buffer = createRing({ capacity: 4096 });
    const producer = new RingProducer(buffer, { publish: 'manual' });
    const consumer = new RingConsumer(buffer);
    const out = Trade.cursor(producer.data);
    const into = Trade.cursor(consumer.data);
    const expected = seededRandom(11);
    const random = seededRandom(11);
    let written = 0;
    let read = 0;
    const total = 200_000; // 40 B + 8 B header = 48 B a record: ~2,300 laps of 4 KiB
    while (read < total) {
      for (let at; written < total && (at = producer.tryClaim(Trade.size, 3)) >= 0; written++) {
        const values = tradeValues(random, written);
        out.at(at);
        out.id = values.id;
        out.price = values.price;
        out.qty = values.qty;
        out.symbol = values.symbol;
        producer.commit();
      }
      producer.flush();
      consumer.poll((type, _data, offset, length) => {
        expect(length).toBe(Trade.size);
        const values = tradeValues(expected, read);
        into.at(offset);
        if (into.id !== values.id || into.price !== values.price || into.qty !== values.qty || into.symbol !== values.symbol || type !== 3) {
          expect({ id: into.id, price: into.price, qty: into.qty, symbol: into.symbol }, `record ${read}`).toEqual(values);
        }
        read++;
      });
    }
    expect(read).toBe(total);
  });

  it('allocates nothing per record for number fields (heap stays flat over 10^6 records)', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'vitest runs with --expose-gc').toBeTypeOf('function');
    const buffer = createRing({ capacity: 1 << 16 });
    const producer = new RingProducer(buffer, { publish: 'manual' });
    const consumer = new RingConsumer(buffer);
    const Tick = defineRecord({ id: 'u64', price: 'f64', qty: 'u32', side: 'u8' });
    const out = Tick.cursor(producer.data);
    const into = Tick.cursor(consumer.data);
    // Integer bookkeeping only: a double kept in a closure variable would itself be boxed per update.
    let checked = 0;
    let wrong = 0;
    let next = 0;
    const handler = (_type: number, _data: Uint8Array, offset: number): void => {
      into.at(offset);
      if (into.id !== next || into.price !== next * 0.5 || into.qty !== (next & 0xffff) || into.side !== (next & 1)) wrong++;
      checked++;
      next++;
    };
    const run = (records: number): void => {
      next = 0;
      for (let n = 0; n < records; ) {
        for (let at; n < records && (at = producer.tryClaim(Tick.size, 1)) >= 0; n++) {
          out.at(at);
          out.id = n;
          out.price = n * 0.5;
          out.qty = n & 0xffff;
          out.side = n & 1;
          producer.commit();
        }
        producer.flush();
        consumer.poll(handler);
      }
    };
    run(100_000); // warm up: let V8 optimise before measuring
    gc!();
    const before = process.memoryUsage().heapUsed;
    run(1_000_000);
    const grown = process.memoryUsage().heapUsed - before;
    // One 16-byte object per record would be 16 MB; a flat loop grows by what V8's own work needs.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
    expect([checked, wrong]).toEqual([1_100_000, 0]);
  });
});

describe('with Go', () => {
  it('TS-encoded records decode in Go, Go re-encodes them, and TS reads back the same values', () => {
    const input = shmTestPath('records-in');
    const output = shmTestPath('records-out');
    const json = `${tempDir()}/decoded.jsonl`;
    const total = 5000;
    const layout = Every;
    const values = Array.from({ length: total }, (_, n) => ({
      f64: n / 7, u64: n * 1_000_003 + 2 ** 40, i64: 0 - n * 999_983, u64n: 2n ** 63n + BigInt(n), i64n: -(2n ** 62n) - BigInt(n),
      f32: Math.fround(n / 3), u32: (n * 2654435761) >>> 0, i32: (n * 2654435761) | 0, u16: n & 0xffff, i16: (n * 7) << 16 >> 16,
      u8: n & 0xff, i8: (n << 24) >> 24, raw: new Uint8Array([n & 0xff, 1, 2, 3, (n >> 8) & 0xff]), name: ['', 'a', 'héllo', '€uro', 'sevenXY'][n % 5].slice(0, 7),
    }));
    const inRing = RingFile.create(input, { capacity: 1 << 20 });
    const outRing = RingFile.create(output, { capacity: 1 << 20 });
    const producer = inRing.producer({ publish: 'manual' });
    for (const value of values) {
      const at = producer.tryClaim(layout.size, 9);
      expect(at).toBeGreaterThanOrEqual(0);
      layout.encode(producer.data, at, value);
      producer.commit();
    }
    producer.close({ end: true });
    inRing.close();
    outRing.close();

    const go = spawnSync('go', ['test', '-run', '^TestLayoutInterop$', '-count=1', '.'], {
      cwd: fileURLToPath(new URL('../go-peer/shmring/', import.meta.url)),
      env: { ...process.env, SHMRING_LAYOUT_SPEC: layout.spec, SHMRING_LAYOUT_IN: input, SHMRING_LAYOUT_OUT: output, SHMRING_LAYOUT_JSON: json },
      encoding: 'utf8',
    });
    expect(go.status, go.stdout + go.stderr).toBe(0);
    expect(go.stdout).not.toContain('SKIP');

    // Go's own reading, field by field (64-bit integers as decimal strings, bytes as arrays).
    const decoded = readFileSync(json, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(decoded).toHaveLength(total);
    decoded.forEach((record, n) => {
      const value = values[n];
      expect(record, `record ${n}`).toEqual({
        ...value,
        u64: String(value.u64), i64: String(value.i64), u64n: String(value.u64n), i64n: String(value.i64n), raw: [...value.raw],
      });
    });
    // And Go's writing, read back by TS.
    const back = RingFile.open(output);
    const consumer = back.consumer();
    let n = 0;
    consumer.poll((type, data, offset, length) => {
      expect([type, length]).toEqual([9, layout.size]);
      expect(layout.decode(data, offset), `record ${n}`).toEqual(values[n]);
      n++;
    });
    expect(n).toBe(total);
    expect(consumer.ended).toBe(true);
    back.close();
  });
});
