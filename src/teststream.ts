/**
 * The seeded record stream every test suite and peer uses to check each other (TypeScript, Go, the
 * CLI): record n of stream `seed` has a length, a type and payload bytes derived from (seed, n), so a
 * consumer in any language regenerates what it expects and compares byte for byte. A lost,
 * duplicated, reordered or torn record fails the comparison. The Go twin is go-peer/shmring/teststream.go.
 *
 *   fmix32(x) = murmur3 finaliser
 *   h(n)      = fmix32(seed ^ (n * 0x9E3779B9))           (uint32 wrapping arithmetic)
 *   length    = h % (maxLength + 1)
 *   type      = n & 0xFFFF
 *   byte k    = byte (k & 3), little-endian, of  h + (k >> 2) * 0x9E3779B9
 */
const GOLDEN = 0x9e3779b9;

export function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

export function streamHash(seed: number, n: number): number {
  return fmix32((seed ^ Math.imul(n, GOLDEN)) >>> 0);
}

export function streamLength(seed: number, n: number, maxLength: number): number {
  return streamHash(seed, n) % (maxLength + 1);
}

export function streamType(n: number): number {
  return n & 0xffff;
}

/** Writes record n's payload (its length from streamLength) into dst[offset, offset + length). */
export function fillStreamPayload(dst: Uint8Array, offset: number, length: number, seed: number, n: number): void {
  const h = streamHash(seed, n);
  let k = 0;
  for (; k + 4 <= length; k += 4) {
    const word = (h + Math.imul(k >>> 2, GOLDEN)) | 0;
    dst[offset + k] = word;
    dst[offset + k + 1] = word >>> 8;
    dst[offset + k + 2] = word >>> 16;
    dst[offset + k + 3] = word >>> 24;
  }
  if (k < length) {
    const word = (h + Math.imul(k >>> 2, GOLDEN)) | 0;
    for (let shift = 0; k < length; k++, shift += 8) dst[offset + k] = word >>> shift;
  }
}

/**
 * Checks that (type, bytes) is record n of the stream. Returns null when it is, else a message
 * naming what differs. Allocates only on failure.
 */
export function checkStreamRecord(
  seed: number,
  n: number,
  maxLength: number,
  type: number,
  data: Uint8Array,
  offset: number,
  length: number,
): string | null {
  const h = streamHash(seed, n);
  const expectedLength = h % (maxLength + 1);
  if (length !== expectedLength) return `record ${n}: length ${length}, expected ${expectedLength}`;
  if (type !== (n & 0xffff)) return `record ${n}: type ${type}, expected ${n & 0xffff}`;
  for (let k = 0; k < length; k++) {
    const word = (h + Math.imul(k >>> 2, GOLDEN)) | 0;
    if (data[offset + k] !== ((word >>> ((k & 3) << 3)) & 0xff)) {
      return `record ${n}: payload byte ${k} is ${data[offset + k]}, expected ${(word >>> ((k & 3) << 3)) & 0xff}`;
    }
  }
  return null;
}
