/**
 * Typed records in place: a fixed record layout, defined once, read and written directly in ring
 * memory through a reusable cursor (no allocation per record, no copy through a staging buffer).
 *
 * A layout is an ordered list of fields, packed in the order given, little-endian, with no implicit
 * padding (put wide fields first: a field whose offset is a multiple of its size takes the fast
 * path). A cursor points only at 8-aligned records, as every ring payload is. Its
 * textual form, `layout.spec` (for example "id:u64,price:f64,qty:u32,symbol:utf8[20]"), is what the
 * Go peer's `ParseLayout` takes, so both languages agree on every offset. Field kinds:
 *
 * | kind | bytes | JS value |
 * |---|---|---|
 * | u8 i8 u16 i16 u32 i32 | 1 2 4 | number (stored modulo 2^bits, as typed arrays do) |
 * | f32 f64 | 4 8 | number |
 * | u64 i64 | 8 | number, exact: writing a non-safe integer or reading a value beyond 2^53 throws |
 * | u64n i64n | 8 | bigint (allocates: the caller asked for one); same bytes as u64/i64 |
 * | bytes[N] | N | Uint8Array view of ring memory (allocates a view); written by copy, rest zeroed |
 * | utf8[N] | N | string: UTF-8, zero-padded; writing truncates at a character boundary |
 */
import { RingUsageError } from './errors.js';

const SCALAR_SIZES = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  f64: 8,
  u64: 8,
  i64: 8,
  u64n: 8,
  i64n: 8,
} as const;

export type ScalarKind = keyof typeof SCALAR_SIZES;
export type FieldKind = ScalarKind | `bytes[${number}]` | `utf8[${number}]`;
export type RecordSpec = Readonly<Record<string, FieldKind>>;

/** The JS type a field reads as and is written from. */
export type FieldValue<K extends FieldKind> = K extends 'u64n' | 'i64n'
  ? bigint
  : K extends `bytes[${number}]`
    ? Uint8Array
    : K extends `utf8[${number}]`
      ? string
      : number;

export type RecordValues<S extends RecordSpec> = { -readonly [F in keyof S]: FieldValue<S[F]> };

export interface FieldLayout {
  readonly name: string;
  readonly kind: FieldKind;
  /** Byte offset of the field from the start of the record. */
  readonly offset: number;
  readonly size: number;
}

/**
 * A reusable cursor over ring memory: `at(offset)` points it at a record (the payload offset that
 * tryClaim returns or a poll handler receives), then each field is a property. Reading or writing a
 * number field allocates nothing.
 */
export type RecordCursor<S extends RecordSpec> = RecordValues<S> & {
  /** Points the cursor at the record whose payload starts at `offset` in the cursor's data; returns the cursor. */
  at(offset: number): RecordCursor<S>;
  /** The payload offset the cursor points at. */
  readonly offset: number;
};

export interface RecordLayout<S extends RecordSpec> {
  /** Bytes per record (the sum of the field sizes). */
  readonly size: number;
  readonly fields: readonly FieldLayout[];
  /** The canonical text of the layout: what Go's ParseLayout takes. */
  readonly spec: string;
  /** A cursor over `data` (a producer's or consumer's `data`, or any Uint8Array). */
  cursor(data: Uint8Array): RecordCursor<S>;
  /** Writes `values` into data at `offset` (fields not given are left as they are). */
  encode(data: Uint8Array, offset: number, values: Partial<RecordValues<S>>): void;
  /** Reads a record into a new object (allocates; for tests and slow paths). */
  decode(data: Uint8Array, offset: number): RecordValues<S>;
}

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ARRAY_KIND = /^(bytes|utf8)\[(\d+)\]$/;
const RESERVED = new Set(['at', 'offset', 'constructor', '__proto__']);

function badLayout(message: string, field: string, value: string, expected: string): RingUsageError {
  return new RingUsageError('ERR_BAD_ARGUMENT', `shmring: record layout: ${message}`, { field, value, expected });
}

function fieldSize(name: string, kind: string): number {
  if (Object.hasOwn(SCALAR_SIZES, kind)) return SCALAR_SIZES[kind as ScalarKind];
  const array = ARRAY_KIND.exec(kind);
  const size = array ? Number(array[2]) : NaN;
  if (!array || !Number.isSafeInteger(size) || size < 1 || size > 1 << 20) {
    throw badLayout(`field ${name} has kind ${kind}`, name, kind, `one of ${Object.keys(SCALAR_SIZES).join(' ')}, bytes[N] or utf8[N] with 1 <= N <= 2^20`);
  }
  return size;
}

/** Parses "name:kind,name:kind" (the form `spec` prints and Go reads) into a spec object. */
function parseSpecText(text: string): Record<string, string> {
  // No prototype: a field named __proto__ becomes a key (and is then refused by name), not a prototype.
  const spec: Record<string, string> = Object.create(null);
  for (const part of text.split(',')) {
    const [name, kind, extra] = part.trim().split(':');
    if (name === undefined || kind === undefined || extra !== undefined) {
      throw badLayout(`'${part}' is not name:kind`, 'spec', text, 'name:kind[,name:kind...]');
    }
    if (Object.hasOwn(spec, name.trim())) throw badLayout(`field ${name.trim()} appears twice`, 'name', name.trim(), 'distinct names');
    spec[name.trim()] = kind.trim();
  }
  return spec;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * Defines a record layout from `{ name: kind, ... }` (fields in that order) or its text form.
 * Field names must be identifiers, distinct, and not `at` or `offset`.
 */
export function defineRecord<const S extends RecordSpec>(spec: S | string): RecordLayout<S> {
  const entries = Object.entries(typeof spec === 'string' ? parseSpecText(spec) : spec);
  if (entries.length === 0) throw badLayout('no fields', 'spec', '', 'at least one field');
  const fields: FieldLayout[] = [];
  let offset = 0;
  for (const [name, kind] of entries) {
    if (!FIELD_NAME.test(name) || RESERVED.has(name)) {
      throw badLayout(`field name '${name}' is not allowed`, 'name', name, `an identifier other than ${[...RESERVED].join(', ')}`);
    }
    const size = fieldSize(name, kind);
    fields.push(Object.freeze({ name, kind: kind as FieldKind, offset, size }));
    offset += size;
  }
  const size = offset;
  const text = fields.map((field) => `${field.name}:${field.kind}`).join(',');

  const Cursor = cursorClass(fields, size);
  // encode/decode reuse the cursor of the last buffer they were given (a cursor holds seven views).
  let lastData: Uint8Array | undefined;
  let lastCursor: Record<string, unknown> & { at(offset: number): unknown } = {} as never;
  const cursorAt = (data: Uint8Array, at: number): Record<string, unknown> => {
    if (data !== lastData) {
      lastCursor = new Cursor(data) as never;
      lastData = data;
    }
    lastCursor.at(at);
    return lastCursor;
  };

  const layout: RecordLayout<S> = {
    size,
    fields: Object.freeze(fields),
    spec: text,
    cursor: (data) => new Cursor(data) as unknown as RecordCursor<S>,
    encode(data, at, values) {
      const cursor = cursorAt(data, at);
      for (const field of fields) if (Object.hasOwn(values, field.name)) cursor[field.name] = (values as Record<string, unknown>)[field.name];
    },
    decode(data, at) {
      const cursor = cursorAt(data, at);
      const values: Record<string, unknown> = {};
      for (const field of fields) {
        const value = cursor[field.name];
        values[field.name] = value instanceof Uint8Array ? value.slice() : value;
      }
      return values as RecordValues<S>;
    },
  };
  return Object.freeze(layout);
}

/** A cursor's own state: `$` names, which no field name can take. */
interface CursorState {
  $view: DataView;
  $bytes: Uint8Array;
  /** The record's offset in `$bytes`, and its byte address in the underlying buffer. */
  $base: number;
  $address: number;
  $u16: Uint16Array;
  $i16: Int16Array;
  $u32: Uint32Array;
  $i32: Int32Array;
  $f32: Float32Array;
  $f64: Float64Array;
  /** The last offset at which a whole record fits (negative when none does), and data.byteOffset. */
  $last: number;
  $origin: number;
}

/**
 * Byte order of typed arrays on this host. The format is little-endian; a big-endian host takes
 * the DataView path for every field.
 */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const TWO_32 = 4294967296;

/** The typed array and index shift of each number kind's aligned path. */
const TYPED: Partial<Record<FieldKind, [array: string, shift: number, dataView: string]>> = {
  u16: ['$u16', 1, 'Uint16'],
  i16: ['$i16', 1, 'Int16'],
  u32: ['$u32', 2, 'Uint32'],
  i32: ['$i32', 2, 'Int32'],
  f32: ['$f32', 2, 'Float32'],
  f64: ['$f64', 3, 'Float64'],
};

/**
 * The source of one field's getter and setter. Fields whose offset is a multiple of their size go
 * through a typed array over the whole buffer (cursors only point at 8-aligned records, as ring
 * payloads always are): one element access with the offset a constant, which V8 inlines into the
 * caller's loop, so no double is boxed to cross a call. Measured on Node 20 with the closure-per-
 * field design this replaced: ~1.8 MB of boxed doubles per 10^6 records and 2-4x the time; with
 * generated accessors, nothing. Other fields use the DataView. Field names are identifiers and
 * offsets numbers (checked in defineRecord), so the generated text holds nothing from the caller.
 */
function accessorSource(field: FieldLayout, index: number): string {
  const { name, offset: at, size } = field;
  const aligned = LITTLE_ENDIAN_HOST && at % Math.min(size, 8) === 0;
  const typed = TYPED[field.kind];
  if (typed !== undefined) {
    const [array, shift, view] = typed;
    return aligned
      ? `get ${name}() { return this.${array}[(this.$address + ${at}) >> ${shift}]; }
         set ${name}(value) { this.${array}[(this.$address + ${at}) >> ${shift}] = value; }`
      : `get ${name}() { return this.$view.get${view}(this.$base + ${at}, true); }
         set ${name}(value) { this.$view.set${view}(this.$base + ${at}, value, true); }`;
  }
  switch (field.kind) {
    case 'u8':
      return `get ${name}() { return this.$bytes[this.$base + ${at}]; }
              set ${name}(value) { this.$bytes[this.$base + ${at}] = value; }`;
    case 'i8':
      return `get ${name}() { return (this.$bytes[this.$base + ${at}] << 24) >> 24; }
              set ${name}(value) { this.$bytes[this.$base + ${at}] = value; }`;
    case 'u64':
    case 'i64': {
      // Two 32-bit halves: exact for every safe integer, and no BigInt on either path. Signed: safe
      // when the high half is in -2^21 .. 2^21-1, except -2^53 itself (high -2^21, low 0).
      const signed = field.kind === 'i64';
      const [low, high, putLow, putHigh] = aligned
        ? [`this.$u32[(this.$address + ${at}) >> 2]`, `this.${signed ? '$i32' : '$u32'}[((this.$address + ${at}) >> 2) + 1]`,
           (v: string) => `this.$u32[(this.$address + ${at}) >> 2] = ${v}`, (v: string) => `this.$u32[((this.$address + ${at}) >> 2) + 1] = ${v}`]
        : [`this.$view.getUint32(this.$base + ${at}, true)`, `this.$view.get${signed ? 'Int32' : 'Uint32'}(this.$base + ${at + 4}, true)`,
           (v: string) => `this.$view.setUint32(this.$base + ${at}, ${v}, true)`, (v: string) => `this.$view.setUint32(this.$base + ${at + 4}, ${v}, true)`];
      const unsafe = signed ? 'high > 0x1fffff || high < -0x200000 || (high === -0x200000 && low === 0)' : 'high > 0x1fffff';
      // Number.isSafeInteger, spelled as number tests: V8 (12-14) calls the builtin for it, which
      // boxes a double argument (an allocation per write of a u64 such as 2^40 + i).
      const accept = `typeof value === 'number' && value >= ${signed ? '-9007199254740991' : '0'} && value <= 9007199254740991 && Math.floor(value) === value`;
      return `get ${name}() {
                const high = ${high}; const low = ${low};
                if (${unsafe}) throw helpers.notSafeRead(this, ${index});
                return high * ${TWO_32} + low;
              }
              set ${name}(value) {
                if (!(${accept})) throw helpers.notSafe(${index}, value);
                ${putLow('value')}; ${putHigh(`Math.floor(value / ${TWO_32})`)};
              }`;
    }
    case 'u64n':
    case 'i64n': {
      const kind = field.kind === 'u64n' ? 'BigUint64' : 'BigInt64';
      return `get ${name}() { return this.$view.get${kind}(this.$base + ${at}, true); }
              set ${name}(value) { this.$view.set${kind}(this.$base + ${at}, value, true); }`;
    }
  }
  if (field.kind.startsWith('bytes[')) {
    return `get ${name}() { return helpers.getBytes(this, ${index}); }
            set ${name}(value) { helpers.setBytes(this, ${index}, value); }`;
  }
  // utf8[N]: the ASCII case (symbols, keys) inline, with no call; anything else, or a string
  // longer than N units, through the helpers (TextEncoder / TextDecoder). Reading: strings that
  // recur (symbols, keys) come from a 256-entry cache per field, checked against the field's bytes,
  // so reading one allocates nothing; a miss builds the string and caches it.
  if (isWordUtf8(field)) return utf8WordSource(field, index);
  return `get ${name}() {
            const bytes = this.$bytes; const start = this.$base + ${at};
            let length = 0; let hash = 0;
            for (; length < ${size}; length++) {
              const byte = bytes[start + length];
              if (byte === 0) break;
              if (byte >= 0x80) return helpers.getUtf8(this, ${index});
              hash = (Math.imul(hash, 31) + byte) | 0;
            }
            const cache = helpers.strings[${index}];
            const slot = (hash ^ (hash >>> 8)) & 255;
            const cached = cache[slot];
            if (cached.length === length) {
              let k = 0;
              while (k < length && cached.charCodeAt(k) === bytes[start + k]) k++;
              if (k === length) return cached;
            }
            let text = '';
            for (let k = 0; k < length; k++) text += String.fromCharCode(bytes[start + k]);
            cache[slot] = text;
            return text;
          }
          set ${name}(value) {
            if (typeof value === 'string' && value.length <= ${size}) {
              const bytes = this.$bytes; const start = this.$base + ${at};
              let k = 0;
              for (; k < value.length; k++) {
                const code = value.charCodeAt(k);
                if (code >= 0x80 || code === 0) break;
                bytes[start + k] = code;
              }
              if (k === value.length) {
                for (; k < ${size}; k++) bytes[start + k] = 0;
                return;
              }
            }
            helpers.setUtf8(this, ${index}, value);
          }`;
}

/** utf8[N] fields up to this size at a 4-aligned offset, N a multiple of 4, take the word path. */
const MAX_WORD_UTF8 = 64;

/**
 * utf8[N] a 32-bit word at a time (N a multiple of 4 at a 4-aligned offset). Reading loads the
 * field's N/4 words once (unrolled), hashes them, and returns the cached string when the slot's
 * saved words equal them: the same bytes decode to the same string, so the cache needs no other
 * check, and a hit costs N/4 loads and compares (byte for byte it was N of each, ~3x the time on
 * Node 22-26 for utf8[20]). A word with a byte >= 0x80 is not ASCII (or has bytes after the end
 * that are): the general decoder takes it. Writing packs four code units per store, the zero
 * padding included, so the field costs N/4 stores whatever the string's length.
 */
function utf8WordSource(field: FieldLayout, index: number): string {
  const { name, offset: at, size } = field;
  const words = size >> 2;
  const loads: string[] = [];
  const fold: string[] = [];
  const matches = (way: string): string => Array.from({ length: words }, (_, k) => `saved[${way} + ${k}] === w${k}`).join(' && ');
  const demote: string[] = [];
  const save: string[] = [];
  for (let k = 0; k < words; k++) {
    loads.push(`const w${k} = u32[first + ${k}];`);
    fold.push(`hash = Math.imul(hash ^ w${k}, 0x9e3779b1);`);
    demote.push(`saved[second + ${k}] = saved[entry + ${k}];`);
    save.push(`saved[entry + ${k}] = w${k};`);
  }
  const or = Array.from({ length: words }, (_, k) => `w${k}`).join(' | ');
  // Two ways per set (256 sets): two strings whose words hash to one set both stay cached; a miss
  // moves the set's first way to its second and takes the first.
  return `get ${name}() {
            const u32 = this.$u32; const first = (this.$address + ${at}) >> 2;
            ${loads.join(' ')}
            if (((${or}) & 0x80808080) !== 0) return helpers.getUtf8(this, ${index});
            let hash = 0;
            ${fold.join(' ')}
            const way = (hash >>> 24) << 1;
            const saved = helpers.words[${index}]; const entry = way * ${words}; const second = entry + ${words};
            const strings = helpers.strings[${index}];
            if (${matches('entry')}) return strings[way];
            if (${matches('second')}) return strings[way + 1];
            const text = helpers.getUtf8(this, ${index});
            ${demote.join(' ')}
            ${save.join(' ')}
            strings[way + 1] = strings[way];
            strings[way] = text;
            return text;
          }
          set ${name}(value) { put${index}(this, value); }`;
}

/**
 * The body of a word-path utf8 setter, as a function of its own: the setter stays a one-call
 * accessor that costs V8's inlining budget almost nothing, which the number fields written in the
 * same loop need (a number setter that is not inlined boxes its argument: an allocation per field).
 */
function utf8WordPutSource(field: FieldLayout, index: number): string {
  const { offset: at, size } = field;
  return `function put${index}(cursor, value) {
    if (typeof value === 'string' && value.length <= ${size}) {
      const u32 = cursor.$u32; const first = (cursor.$address + ${at}) >> 2;
      const length = value.length;
      let w = first; let word = 0; let k = 0;
      for (; k < length; k++) {
        const code = value.charCodeAt(k);
        if (((code - 1) >>> 0) >= 0x7f) break;
        word |= code << ((k & 3) << 3);
        if ((k & 3) === 3) { u32[w++] = word; word = 0; }
      }
      if (k === length) {
        if ((k & 3) !== 0) u32[w++] = word;
        for (; w < first + ${size >> 2}; w++) u32[w] = 0;
        return;
      }
    }
    helpers.setUtf8(cursor, ${index}, value);
  }`;
}

const isWordUtf8 = (field: FieldLayout): boolean =>
  field.kind.startsWith('utf8[') && LITTLE_ENDIAN_HOST && field.offset % 4 === 0 && field.size % 4 === 0 && field.size <= MAX_WORD_UTF8;

interface CursorHelpers {
  /** Per utf8 field (by index): the read cache of recent ASCII strings. */
  strings: string[][];
  /** Per utf8 field on the word path: the words each cached string was decoded from (512 x N/4). */
  words: Uint32Array[];
  notSafe(index: number, value: unknown): RingUsageError;
  /** The error for a u64/i64 field whose stored value is beyond 2^53 (read as a bigint for the message). */
  notSafeRead(cursor: CursorState, index: number): RingUsageError;
  getBytes(cursor: CursorState, index: number): Uint8Array;
  setBytes(cursor: CursorState, index: number, value: Uint8Array): void;
  getUtf8(cursor: CursorState, index: number): string;
  setUtf8(cursor: CursorState, index: number, value: string): void;
}

/** The cursor class of a layout: generated once per defineRecord. */
function cursorClass(fields: readonly FieldLayout[], size: number): new (data: Uint8Array) => CursorState {
  const scratch = new Uint8Array(Math.max(...fields.map((field) => field.size)) + 4);
  const helpers: CursorHelpers = {
    // 256 slots (byte path) or 256 sets of 2 (word path). A slot starts as '' decoded from N zero
    // bytes, which is what it is.
    strings: fields.map(() => new Array<string>(512).fill('')),
    words: fields.map((field) => new Uint32Array(field.kind.startsWith('utf8[') ? 512 * (field.size >> 2) : 0)),
    notSafe(index, value) {
      const field = fields[index];
      return new RingUsageError('ERR_OUT_OF_RANGE', `shmring: field ${field.name} (${field.kind}) cannot hold ${String(value)} exactly`, {
        field: field.name,
        value: String(value),
        expected: field.kind === 'u64' ? 'an integer 0..2^53-1 (use u64n for larger)' : 'an integer -(2^53-1)..2^53-1 (use i64n for larger)',
      });
    },
    notSafeRead(cursor, index) {
      const { offset, kind } = fields[index];
      const at = cursor.$base + offset;
      return this.notSafe(index, kind === 'i64' ? cursor.$view.getBigInt64(at, true) : cursor.$view.getBigUint64(at, true));
    },
    getBytes(cursor, index) {
      const { offset, size: length } = fields[index];
      return cursor.$bytes.subarray(cursor.$base + offset, cursor.$base + offset + length);
    },
    setBytes(cursor, index, value) {
      const field = fields[index];
      if (!(value instanceof Uint8Array) || value.length > field.size) {
        throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: field ${field.name} takes a Uint8Array of at most ${field.size} bytes`, {
          field: field.name,
          value: value instanceof Uint8Array ? value.length : typeof value,
          expected: `a Uint8Array of at most ${field.size} bytes`,
        });
      }
      const bytes = cursor.$bytes;
      const start = cursor.$base + field.offset;
      for (let k = 0; k < value.length; k++) bytes[start + k] = value[k];
      bytes.fill(0, start + value.length, start + field.size);
    },
    // utf8[N]: ASCII, the common case for symbols and keys, a code unit at a time (no encoder call,
    // no view); anything else through TextEncoder.encodeInto / TextDecoder on a private scratch
    // buffer (they refuse or copy shared memory), then one copy.
    getUtf8(cursor, index) {
      const { offset, size: limit } = fields[index];
      const bytes = cursor.$bytes;
      const start = cursor.$base + offset;
      let length = 0;
      let ascii = true;
      for (; length < limit; length++) {
        const byte = bytes[start + length];
        if (byte === 0) break;
        if (byte >= 0x80) ascii = false;
      }
      if (ascii) {
        let text = '';
        for (let k = 0; k < length; k++) text += String.fromCharCode(bytes[start + k]);
        return text;
      }
      for (let k = 0; k < length; k++) scratch[k] = bytes[start + k];
      return utf8Decoder.decode(scratch.subarray(0, length));
    },
    setUtf8(cursor, index, value) {
      const field = fields[index];
      if (typeof value !== 'string') {
        throw new RingUsageError('ERR_BAD_ARGUMENT', `shmring: field ${field.name} takes a string`, { field: field.name, value: typeof value, expected: 'a string' });
      }
      const bytes = cursor.$bytes;
      const start = cursor.$base + field.offset;
      let written = 0;
      let ascii = value.length <= field.size;
      for (; ascii && written < value.length; written++) {
        const code = value.charCodeAt(written);
        if (code >= 0x80 || code === 0) ascii = false;
        else bytes[start + written] = code;
      }
      if (!ascii) {
        // encodeInto stops before a character that does not fit: never a split character.
        written = utf8.encodeInto(value, scratch.subarray(0, field.size)).written;
        for (let k = 0; k < written; k++) bytes[start + k] = scratch[k];
      }
      bytes.fill(0, start + written, start + field.size);
    },
  };
  const puts = fields.map((field, index) => (isWordUtf8(field) ? utf8WordPutSource(field, index) : '')).join('\n');
  const source = `${puts}
  return class Cursor {
    constructor(data) {
      // Every property assigned here, in one order: one hidden class for every cursor of a layout.
      const buffer = data.buffer;
      this.$bytes = data;
      this.$base = 0;
      this.$address = data.byteOffset;
      this.$view = new DataView(buffer, data.byteOffset, data.byteLength);
      this.$u16 = new Uint16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
      this.$i16 = new Int16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
      this.$u32 = new Uint32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
      this.$i32 = new Int32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
      this.$f32 = new Float32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
      this.$f64 = new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
      // at()'s bounds, precomputed: the last offset a record fits at, and the data's byte address.
      this.$last = data.length - ${size};
      this.$origin = data.byteOffset;
    }
    at(at) {
      // A uint32 number ((at >>> 0) === at refuses strings, which pass the other tests by
      // coercion, fractions, NaN and negatives), 0..$last, 8-aligned. Kept this short because at()
      // is inlined into every record loop, where it competes with the accessors for V8's budget.
      if (!((at >>> 0) === at && at <= this.$last && ((this.$origin + at) & 7) === 0)) throw helpers.outOfRange(this, at);
      this.$base = at;
      this.$address = this.$origin + at;
      return this;
    }
    get offset() { return this.$base; }
    ${fields.map(accessorSource).join('\n    ')}
  };`;
  const outOfRange = (cursor: CursorState, at: number): RingUsageError => {
    const fits = at >= 0 && at <= cursor.$bytes.length - size;
    const problem = (at >>> 0) !== at ? 'is not an integer from 0 to 2^32-1' : fits ? 'is not 8-aligned' : `does not fit in ${cursor.$bytes.length} bytes`;
    // A string is quoted: offset "8" is not offset 8.
    const shown = typeof at === 'string' ? JSON.stringify(at) : at;
    return new RingUsageError('ERR_OUT_OF_RANGE', `shmring: a record of ${size} bytes at offset ${shown} ${problem}`, {
      field: 'offset',
      value: at,
      expected: `an 8-aligned address, offset 0..${cursor.$bytes.length - size}`,
    });
  };
  return new Function('helpers', source)({ ...helpers, outOfRange });
}
