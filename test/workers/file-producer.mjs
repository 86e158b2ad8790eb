// Child process: opens a ring file, takes the producer role and writes `count` records of the seeded
// test stream starting at record `start` (zero-copy claims; with mode 'batch', producer.batch()
// claims until one does not fit, one publish per batch). Prints one JSON line when done.
// argv[2]: JSON {path, count, seed, maxLength, start, publish, spin, end, ready, mode, peerDeath}
import { RingFile } from '../../dist/index.js';
import { fillStreamPayload, streamLength } from '../../dist/teststream.js';

const options = JSON.parse(process.argv[2]);
const { path, count, seed, maxLength, start = 0, publish = 'auto', spin, end = true, peerDeath } = options;
const file = RingFile.open(path);
const producer = file.producer({ publish, spin, peerDeath });
if (options.ready) process.stdout.write('ready\n');
let bytes = 0;
for (let n = start; options.mode === 'batch' && n < start + count; ) {
  const batch = producer.batch();
  for (let at; n < start + count && (at = batch.claim(streamLength(seed, n >>> 0, maxLength), n & 0xffff)) >= 0; n++) {
    const length = streamLength(seed, n >>> 0, maxLength);
    fillStreamPayload(producer.data, at, length, seed, n >>> 0);
    bytes += length;
  }
  if (batch.publish() === 0) {
    // Nothing fitted: wait for room for the next record (a claim then aborted moves nothing).
    producer.claimSync(streamLength(seed, n >>> 0, maxLength), n & 0xffff);
    producer.abort();
  }
}
for (let n = start; options.mode !== 'batch' && n < start + count; n++) {
  const length = streamLength(seed, n >>> 0, maxLength);
  const offset = producer.claimSync(length, n & 0xffff);
  fillStreamPayload(producer.data, offset, length, seed, n >>> 0);
  producer.commit();
  bytes += length;
}
producer.close({ end });
file.close();
process.stdout.write(JSON.stringify({ records: count, bytes, next: start + count }) + '\n');
