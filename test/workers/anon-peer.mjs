// Child process given two anonymous (memfd) rings by descriptor: fd 3 carries the parent's test
// stream (verified record by record: sequence and checksum), fd 4 gets this child's own stream back.
// Prints one JSON line. argv[2]: JSON {seed, maxLength, count}
import { ftruncateSync } from 'node:fs';
import { RingFile } from '../../dist/index.js';
import { checkStreamRecord, fillStreamPayload, streamLength, streamType } from '../../dist/teststream.js';

const { seed, maxLength, count } = JSON.parse(process.argv[2]);
const inbound = RingFile.openFd(3);
const outbound = RingFile.openFd(4);
let truncateCode = null;
try {
  ftruncateSync(inbound.fd, 0);
} catch (error) {
  truncateCode = error.code;
}
const consumer = inbound.consumer({ spin: 0 });
let received = 0;
let failure = null;
const handler = (type, data, offset, length) => {
  if (failure === null) failure = checkStreamRecord(seed, received, maxLength, type, data, offset, length);
  received++;
};
while (failure === null && received < count) {
  if (consumer.pollSync(handler, count - received) === 0) break;
}
const producer = outbound.producer({ spin: 0 });
for (let n = 0; n < count; n++) {
  const length = streamLength(seed + 1, n, maxLength);
  const claim = producer.claimSync(length, streamType(n));
  fillStreamPayload(producer.data, claim, length, seed + 1, n);
  producer.commit();
}
producer.close();
consumer.close();
process.stdout.write(JSON.stringify({ received, failure, truncateCode, seals: inbound.stats().seals }) + '\n');
inbound.close();
outbound.close();
