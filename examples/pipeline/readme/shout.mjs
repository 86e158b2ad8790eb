// A process stage: reads the ring file argv[2] to its end, writes each record upper-cased to the
// ring file argv[3], ends that stream and exits 0.
import { RingFile } from 'shmring';

const input = RingFile.open(process.argv[2]);
const output = RingFile.open(process.argv[3]);
const consumer = input.consumer();
const producer = output.producer();
const relay = (type, data, offset, length) => {
  const at = producer.claimSync(length, type);
  producer.data.set(data.subarray(offset, offset + length), at);
  if (type === 0) for (let k = at + 4; k < at + length; k++) if (producer.data[k] >= 97) producer.data[k] -= 32;
  producer.commit();
};
for (;;) {
  producer.flush();
  if (consumer.pollSync(relay, 256) === 0 && consumer.ended) break;
}
producer.close();
consumer.close();
input.close();
output.close();
