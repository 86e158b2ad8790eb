// One stage that copies each record and flips its first payload byte, written several ways, for
// bench/suites/pipeline-stages/output-ab.mjs: which way out of a stage is fastest.
let scratch = new Uint8Array(256);

/** Does nothing: passes the input view on (the pipeline copies it into the next ring). */
export function noop(data) {
  return data;
}

/** A fresh Uint8Array per record (allocates). */
export function fresh(data) {
  const out = data.slice();
  out[4] ^= 0x5a;
  return out;
}

/** One buffer reused for every record (the pipeline copies it into the ring at once). */
export function reused(data) {
  if (scratch.length < data.length) scratch = new Uint8Array(data.length);
  const out = scratch.subarray(0, data.length);
  out.set(data);
  out[4] ^= 0x5a;
  return out;
}

/** context.write(bytes): a copy, through the context. */
export function write(data, type, context) {
  if (scratch.length < data.length) scratch = new Uint8Array(data.length);
  scratch.set(data);
  scratch[4] ^= 0x5a;
  context.write(scratch.subarray(0, data.length));
}

/** In place: claim in the next ring, fill, commit. */
export function claim(data, type, context) {
  const at = context.claim(data.length);
  const output = context.output;
  output.set(data, at);
  output[at + 4] ^= 0x5a;
  context.commit();
}

/** context.batch(): claimed on the next ring's batch writer (the stage runs ordered: false), no commit. */
export function batchWriter(data, type, context) {
  let out = context.batch();
  let at = out.claim(data.length, type);
  if (at < 0) {
    out = context.waitForRoom(data.length);
    at = out.claim(data.length, type);
  }
  out.data.set(data, at);
  out.data[at + 4] ^= 0x5a;
}

/** In place (stage option inPlace: the pipeline is one ring): the record is changed where it lies. */
export function inPlace(data) {
  data[4] ^= 0x5a;
}
