// Run by scripts/test-package.sh inside a fresh application that installed the packed tarball: uses
// the package the way a user does (import 'shmring', nothing from the checkout).
//   node smoke.mjs file <dir>   a ring file: create, produce, open it again, consume, check every byte;
//                               the addon loaded is this Node's prebuild
//   node smoke.mjs memory       an in-memory ring works, and ring files throw ERR_NATIVE_UNAVAILABLE
import { createRing, RingConsumer, RingFile, RingProducer } from 'shmring';
import { createRequire } from 'node:module';
import path from 'node:path';

const RECORDS = 1000;

function payloadOf(index) {
  const payload = new Uint8Array(1 + (index % 200));
  for (let i = 0; i < payload.length; i++) payload[i] = (index * 31 + i) & 0xff;
  return payload;
}

/** Writes RECORDS records (types 1..) and reads them back, checking type, length and every byte. */
function roundTrip(producer, consumer) {
  let written = 0;
  let read = 0;
  while (read < RECORDS) {
    while (written < RECORDS && producer.tryWrite(payloadOf(written), 1 + (written % 1000))) written++;
    producer.flush();
    consumer.poll((type, data, offset, length) => {
      const expected = payloadOf(read);
      if (type !== 1 + (read % 1000) || length !== expected.length) {
        throw new Error(`record ${read}: type ${type} length ${length}, expected ${1 + (read % 1000)} / ${expected.length}`);
      }
      for (let i = 0; i < length; i++) {
        if (data[offset + i] !== expected[i]) throw new Error(`record ${read}: byte ${i} is ${data[offset + i]}, expected ${expected[i]}`);
      }
      read++;
    });
  }
  return read;
}

const [mode, dir] = process.argv.slice(2);
if (mode === 'file') {
  const file = path.join(dir, `smoke-${process.pid}.ring`);
  const writerSide = RingFile.create(file, { capacity: 1 << 14 });
  const readerSide = RingFile.open(file);
  const count = roundTrip(writerSide.producer(), readerSide.consumer());
  readerSide.close();
  writerSide.close();
  RingFile.unlink(file);
  // The addon must be this Node's own prebuild (node-gyp-build's choice), not a build from source.
  const require = createRequire(import.meta.url);
  const packageDir = path.dirname(require.resolve('shmring/package.json'));
  const addon = path.relative(packageDir, require('node-gyp-build').path(packageDir));
  const expected = path.join('prebuilds', `linux-${process.arch}`, `node.abi${process.versions.modules}.glibc.node`);
  if (addon !== expected) throw new Error(`loaded addon ${addon}, expected ${expected}`);
  console.log(`ok: Node ${process.version}: ${count} records through ring file ${file}; addon ${addon}`);
} else if (mode === 'memory') {
  const ring = createRing({ capacity: 1 << 14 });
  const count = roundTrip(new RingProducer(ring), new RingConsumer(ring));
  let code = 'none';
  try {
    RingFile.create(path.join(process.cwd(), 'never.ring'), { capacity: 4096 });
  } catch (error) {
    code = error.code;
  }
  if (code !== 'ERR_NATIVE_UNAVAILABLE') throw new Error(`RingFile.create gave ${code}, expected ERR_NATIVE_UNAVAILABLE`);
  console.log(`ok: Node ${process.version}: ${count} records through an in-memory ring; RingFile.create: ${code}`);
} else {
  console.error('usage: node smoke.mjs file <dir> | memory');
  process.exit(2);
}
