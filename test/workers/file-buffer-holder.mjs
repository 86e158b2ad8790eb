// Worker thread holding a ring file's SharedArrayBuffer (posted by file-release.test.ts) across the
// owner's RingFile.close(): reads the first header word and a data byte before and after, and
// writes after, then reports what it saw. Never calls the addon.
// workerData: { buffer, control } ; control words: [0] ARRIVED, [1] GO (test/support/workers.ts)
import { parentPort, workerData } from 'node:worker_threads';

const { buffer, control } = workerData;
const words = new Int32Array(buffer);
const bytes = new Uint8Array(buffer);
const controlWords = new Int32Array(control);
const dataOffset = 4096;

const before = { magic: Atomics.load(words, 0), data: bytes[dataOffset] };
Atomics.store(controlWords, 0, 1);
Atomics.notify(controlWords, 0);
Atomics.wait(controlWords, 1, 0); // until the owner has closed the file
const after = { magic: Atomics.load(words, 0), data: bytes[dataOffset] };
bytes[dataOffset] = 0x5a; // lands in private zero pages, never in the file
parentPort.postMessage({ before, after, readBack: bytes[dataOffset], length: buffer.byteLength });
