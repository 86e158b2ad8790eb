/**
 * The struct workload of the `structs` suite, shared by its producers and consumers (main thread,
 * worker, and the checksum the Go peers fold the same way):
 *
 *   record  id:u64, price:f64, qty:u32, symbol:utf8[20]   40 bytes, little-endian, packed
 *
 * Record i carries id = 2^40 + i (so the u64's high half is not zero), a price and a symbol from
 * seeded tables, and qty = (7 i + 3) mod 997 + 1. Every consumer decodes every field into the JS
 * value a user would hold (numbers and a string) and folds them into a checksum:
 *
 *   h = (31 h + (low32(id) xor high32(id)) + qty + symbolFold) mod 2^32, priceSum += price
 *   symbolFold = length + first char code + last char code   (symbols are ASCII, 1..20 chars)
 *
 * priceSum is summed in record order in float64, so a consumer that skipped, reordered or altered a
 * record cannot match it, and Go (`shmring bench-consume --layout`, `socketpeer consume --layout`)
 * computes the same two numbers bit for bit.
 *
 * The hand-written codec below is what a user without shmring would write for postMessage batches
 * and ringbuf.js: typed-array views over the buffer at 8-aligned record offsets (the fastest plain
 * JS way), the symbol written and read a char code at a time, as shmring's cursor does for ASCII.
 */

export const STRUCT_SPEC = 'id:u64,price:f64,qty:u32,symbol:utf8[20]';
export const STRUCT_SIZE = 40;
export const STRUCT_TYPE = 1;
const SYMBOL_OFFSET = 20;
const SYMBOL_SIZE = 20;
export const ID_BASE = 2 ** 40;
const TWO_32 = 4294967296;

/** A small seeded generator (mulberry32): the same tables in every thread and process. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_32;
  };
}

function makeTables() {
  const random = seededRandom(13);
  const symbols = [];
  for (let i = 0; i < 64; i++) {
    // 1..20 characters, mostly ticker-like (3-6), a few at the field's full width.
    const length = i % 16 === 15 ? SYMBOL_SIZE : 1 + Math.floor(random() * 8);
    let symbol = '';
    for (let k = 0; k < length; k++) symbol += String.fromCharCode(65 + Math.floor(random() * 26));
    symbols.push(symbol);
  }
  const prices = new Float64Array(1024);
  for (let i = 0; i < prices.length; i++) prices[i] = Math.round((1 + random() * 999) * 100) / 100;
  return { symbols, prices };
}

export const { symbols: SYMBOLS, prices: PRICES } = makeTables();

export const qtyOf = (i) => ((7 * i + 3) % 997) + 1;
export const priceOf = (i) => PRICES[i & 1023];
export const symbolOf = (i) => SYMBOLS[i & 63];

/**
 * One batch of the ring's batch paths, encoded: producer.batch() claims records [i, end) in place,
 * as many as fit, `cursor` (the layout's, over producer.data) writes every field, one publish.
 * Returns the next record. Every batch producer calls it once per batch: a record loop nested in a
 * batch loop of a function that runs once is compiled by V8 on stack replacement and dropped at
 * every inner-loop exit (structs.mjs says what that cost).
 */
export function encodeRingBatch(producer, cursor, i, end) {
  const batch = producer.batch();
  for (let at; i < end && (at = batch.claim(STRUCT_SIZE, STRUCT_TYPE)) >= 0; i++) {
    cursor.at(at);
    cursor.id = ID_BASE + i;
    cursor.price = priceOf(i);
    cursor.qty = qtyOf(i);
    cursor.symbol = symbolOf(i);
  }
  batch.publish();
  return i;
}

/** One batch of the ring's batch paths, decoded: consumer.batch(), every field into `checksum`; returns the records released. */
export function decodeRingBatch(consumer, cursor, checksum) {
  const batch = consumer.batch();
  while (batch.next()) {
    cursor.at(batch.offset);
    checksum.add(cursor.id, cursor.price, cursor.qty, cursor.symbol);
  }
  return batch.release();
}

/** The running checksum of a consumer (reset per trial; `add` allocates nothing). */
export class StructChecksum {
  hash = 0;
  priceSum = 0;
  count = 0;

  reset() {
    this.hash = 0;
    this.priceSum = 0;
    this.count = 0;
  }

  add(id, price, qty, symbol) {
    const low = id >>> 0;
    const high = Math.floor(id / TWO_32) >>> 0;
    const symbolFold = symbol.length + symbol.charCodeAt(0) + symbol.charCodeAt(symbol.length - 1);
    this.hash = (Math.imul(this.hash, 31) + ((low ^ high) >>> 0) + qty + symbolFold) >>> 0;
    this.priceSum += price;
    this.count++;
  }

  result() {
    return { hash: this.hash, priceSum: this.priceSum, count: this.count };
  }
}

const expectedCache = new Map();

/** The checksum of records 0..count-1 straight from the generator (cached per count). */
export function expectedChecksum(count) {
  let expected = expectedCache.get(count);
  if (expected === undefined) {
    const checksum = new StructChecksum();
    for (let i = 0; i < count; i++) checksum.add(ID_BASE + i, priceOf(i), qtyOf(i), symbolOf(i));
    expected = checksum.result();
    expectedCache.set(count, expected);
  }
  return expected;
}

/** Throws unless a consumer's checksum is the one of `count` records. */
export function checkChecksum(label, got, count) {
  const expected = expectedChecksum(count);
  if (got.count !== expected.count || got.hash !== expected.hash || got.priceSum !== expected.priceSum) {
    throw new Error(`${label}: checksum ${JSON.stringify(got)} != expected ${JSON.stringify(expected)}`);
  }
}

/**
 * Hand-written encoder/decoder over one buffer (postMessage batches, ringbuf.js staging and
 * scratch buffers, socket chunks): typed-array views made once per buffer, record offsets 8-aligned.
 */
export class StructCodec {
  constructor(bytes) {
    if (bytes.byteOffset % 8 !== 0) throw new RangeError('StructCodec needs an 8-aligned view');
    this.bytes = bytes;
    this.u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
    this.f64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 3);
  }

  /** Writes record fields at byte offset `at` (a multiple of 8). */
  encode(at, id, price, qty, symbol) {
    const word = at >> 2;
    this.u32[word] = id >>> 0;
    this.u32[word + 1] = Math.floor(id / TWO_32) >>> 0;
    this.f64[(at >> 3) + 1] = price;
    this.u32[word + 4] = qty;
    const bytes = this.bytes;
    const start = at + SYMBOL_OFFSET;
    const length = symbol.length;
    for (let k = 0; k < length; k++) bytes[start + k] = symbol.charCodeAt(k);
    for (let k = length; k < SYMBOL_SIZE; k++) bytes[start + k] = 0;
  }

  /** Decodes the record at `at` into `checksum`. */
  decodeInto(at, checksum) {
    const word = at >> 2;
    const id = this.u32[word] + this.u32[word + 1] * TWO_32;
    const price = this.f64[(at >> 3) + 1];
    const qty = this.u32[word + 4];
    checksum.add(id, price, qty, decodeSymbol(this.bytes, at + SYMBOL_OFFSET));
  }
}

/** A utf8[20] ASCII field as a string (up to the first zero byte). */
export function decodeSymbol(bytes, start) {
  let symbol = '';
  for (let k = 0; k < SYMBOL_SIZE; k++) {
    const byte = bytes[start + k];
    if (byte === 0) break;
    symbol += String.fromCharCode(byte);
  }
  return symbol;
}
