/**
 * The CSV app of the `csv` suite, shared by every variant so that only the transport differs:
 * generated trades (`SYMBOL,price,qty,ts` lines, seeded), a byte-level line parser, the typed record
 * between the parse and aggregate stages, and the aggregate (per symbol: sum of qty and of
 * price x qty, plus the largest ts and the line count), with the reference result computed once
 * on the main thread.
 *
 * No stage allocates per line: symbols travel as a numeric key (base-27 letters, up to 6 of them),
 * turned back into names only in the final result.
 */
import fs from 'node:fs';
import { seededRandom } from './structs-records.mjs';

export const TRADE_SPEC = 'ts:u64,price:f64,qty:u32,symbol:u32';
export const TRADE_SIZE = 24;
export const MAX_LINE = 64;
const NEWLINE = 10;
const COMMA = 44;
const DOT = 46;
const TWO_32 = 4294967296;

/** Writes `lines` seeded trade lines to `file`; returns the file's size in bytes. */
export function generateCsv(file, lines, seed = 42) {
  const random = seededRandom(seed);
  const symbols = [];
  for (let i = 0; i < 100; i++) {
    const length = 2 + Math.floor(random() * 4);
    let symbol = '';
    for (let k = 0; k < length; k++) symbol += String.fromCharCode(65 + Math.floor(random() * 26));
    symbols.push(symbol);
  }
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    let text = '';
    let ts = 1_700_000_000_000;
    for (let i = 0; i < lines; i++) {
      ts += 1 + Math.floor(random() * 50);
      const cents = 100 + Math.floor(random() * 99_900);
      const qty = 1 + Math.floor(random() * 5000);
      text += `${symbols[Math.floor(random() * symbols.length)]},${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')},${qty},${ts}\n`;
      if (text.length > 1 << 20) {
        fs.writeSync(fd, text);
        text = '';
      }
    }
    fs.writeSync(fd, text);
    return fs.fstatSync(fd).size;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Yields [start, end) for runs of whole lines ([start, end) ends with a newline) read from `file`
 * into `buffer` (reused: at least 2 lines long, and overwritten after each yield), stopping after
 * `maxLines` lines.
 */
function* lineChunks(file, buffer, maxLines) {
  const fd = fs.openSync(file, 'r');
  let lines = 0;
  try {
    let kept = 0;
    for (;;) {
      const read = fs.readSync(fd, buffer, kept, buffer.length - kept, null);
      const filled = kept + read;
      let end = 0;
      for (let i = 0; i < filled && lines < maxLines; i++) {
        if (buffer[i] === NEWLINE) {
          lines++;
          end = i + 1;
        }
      }
      if (end > 0) yield end;
      if (read === 0 || lines >= maxLines) break;
      buffer.copyWithin(0, end, filled);
      kept = filled - end;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Calls onChunk(buffer, 0, end) for each run of whole lines of lineChunks. */
export function readLineChunks(file, buffer, maxLines, onChunk) {
  for (const end of lineChunks(file, buffer, maxLines)) onChunk(buffer, 0, end);
}

/** readLineChunks for an async consumer: awaits what onChunk returns before reading on. */
export async function readLineChunksAsync(file, buffer, maxLines, onChunk) {
  for (const end of lineChunks(file, buffer, maxLines)) await onChunk(buffer, 0, end);
}

/**
 * Parses one line (bytes[start, end), without its newline) into `out`:
 * out[0] symbol key, out[1] price, out[2] qty, out[3] ts. Throws on a malformed line.
 */
export function parseLine(bytes, start, end, out) {
  let at = start;
  let key = 0;
  let byte;
  while ((byte = bytes[at++]) !== COMMA) key = key * 27 + (byte - 64);
  let cents = 0;
  while ((byte = bytes[at++]) !== COMMA) if (byte !== DOT) cents = cents * 10 + (byte - 48);
  let qty = 0;
  while ((byte = bytes[at++]) !== COMMA) qty = qty * 10 + (byte - 48);
  let ts = 0;
  while (at < end) ts = ts * 10 + (bytes[at++] - 48);
  if (!(key > 0 && key < TWO_32 && ts > 0) || at !== end) throw new Error(`malformed CSV line at byte ${start}`);
  out[0] = key;
  out[1] = cents / 100;
  out[2] = qty;
  out[3] = ts;
}

/** Writes the trade parseLine left in `fields` through a TRADE_SPEC cursor already at its record. */
export function putTrade(cursor, fields) {
  cursor.ts = fields[3];
  cursor.price = fields[1];
  cursor.qty = fields[2];
  cursor.symbol = fields[0];
}

/** A symbol key back to its letters. */
export function symbolName(key) {
  let name = '';
  for (let rest = key; rest > 0; rest = Math.floor(rest / 27)) name = String.fromCharCode(64 + (rest % 27)) + name;
  return name;
}

/** Hand-written typed-array codec of the trade record (the batched variants' encode/decode). */
export class TradeCodec {
  constructor(buffer) {
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  encode(index, fields) {
    const word = index * 6;
    const ts = fields[3];
    this.u32[word] = ts >>> 0;
    this.u32[word + 1] = Math.floor(ts / TWO_32);
    this.f64[index * 3 + 1] = fields[1];
    this.u32[word + 4] = fields[2];
    this.u32[word + 5] = fields[0];
  }

  decodeInto(index, aggregate) {
    const word = index * 6;
    aggregate.add(this.u32[word + 5], this.f64[index * 3 + 1], this.u32[word + 4], this.u32[word] + this.u32[word + 1] * TWO_32);
  }
}

/** Per-symbol sums; `add` allocates only the first time a symbol is seen. */
export class Aggregate {
  indexOf = new Map();
  keys = [];
  qty = new Float64Array(1024);
  notional = new Float64Array(1024);
  lines = 0;
  maxTs = 0;

  add(key, price, qty, ts) {
    let index = this.indexOf.get(key);
    if (index === undefined) {
      index = this.keys.length;
      if (index === this.qty.length) throw new Error('more than 1024 symbols');
      this.indexOf.set(key, index);
      this.keys.push(key);
    }
    this.qty[index] += qty;
    this.notional[index] += price * qty;
    if (ts > this.maxTs) this.maxTs = ts;
    this.lines++;
  }

  /** A canonical, comparable form: symbols sorted by name. */
  result() {
    const rows = this.keys.map((key, index) => [symbolName(key), this.qty[index], this.notional[index]]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return { lines: this.lines, maxTs: this.maxTs, rows };
  }
}

/** The aggregate of the first `maxLines` lines of `file`, parsed on this thread (the reference). */
export function referenceAggregate(file, maxLines) {
  const aggregate = new Aggregate();
  const fields = new Float64Array(4);
  readLineChunks(file, Buffer.alloc(1 << 20), maxLines, (bytes, start, end) => {
    let lineStart = start;
    for (let i = start; i < end; i++) {
      if (bytes[i] !== NEWLINE) continue;
      parseLine(bytes, lineStart, i, fields);
      aggregate.add(fields[0], fields[1], fields[2], fields[3]);
      lineStart = i + 1;
    }
  });
  return aggregate.result();
}
