// Child process for test/waits.test.ts: takes the producer role of a ring file, writes `records`
// records (record i holds the byte i), tells the parent over IPC, then either closes the stream
// (`close: true`, exit 0) or blocks until the parent kills it (a producer that dies attached).
// argv[2]: JSON { path, records, close }
import { RingFile } from '../../dist/index.js';

const { path, records, close } = JSON.parse(process.argv[2]);
const file = RingFile.open(path);
const producer = file.producer({ publish: 'eager' });
for (let i = 0; i < records; i++) producer.writeSync(Uint8Array.of(i));
if (close) {
  producer.close();
  file.close();
  process.send({ written: records, pid: process.pid }, () => process.disconnect());
} else {
  process.send({ written: records, pid: process.pid });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // until killed
}
