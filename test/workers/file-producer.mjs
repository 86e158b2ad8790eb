// Child process: opens a ring file, takes the producer role and writes `count` records of the seeded
// test stream starting at record `start` (zero-copy claims). Prints one JSON line when done.
// argv[2]: JSON {path, count, seed, maxLength, start, publish, spin, end, ready, peerDeath}
import { RingFile } from '../../dist/index.js';
import { fillStreamPayload, streamLength } from '../../dist/teststream.js';

const options = JSON.parse(process.argv[2]);
const { path, count, seed, maxLength, start = 0, publish = 'auto', spin, end = true, peerDeath } = options;
const file = RingFile.open(path);
const producer = file.producer({ publish, spin, peerDeath });
if (options.ready) process.stdout.write('ready\n');
let bytes = 0;
for (let n = start; n < start + count; n++) {
  const length = streamLength(seed, n >>> 0, maxLength);
  const offset = producer.claimSync(length, n & 0xffff);
  fillStreamPayload(producer.data, offset, length, seed, n >>> 0);
  producer.commit();
  bytes += length;
}
producer.close({ end });
file.close();
process.stdout.write(JSON.stringify({ records: count, bytes, next: start + count }) + '\n');
