// Child process of addon-teardown.test.ts. `rounds` times: starts `workers` worker threads that run
// every addon call in a loop (addon-teardown-ops.mjs), and terminates them at a seeded random point
// (some before they have even loaded the addon, some of them exiting by themselves). Then runs the
// same loop on its own main thread, with workers beside it, and calls process.exit() at a seeded
// random point. Prints one JSON line {terminated, selfExited, errors} before exiting.
// argv[2]: JSON {dir, seed, rounds, workers}
import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { runOperations, seededRandom } from './addon-teardown-ops.mjs';

const { dir, seed, rounds, workers: perRound } = JSON.parse(process.argv[2]);
const random = seededRandom(seed);
const workerUrl = new URL('./addon-teardown-worker.mjs', import.meta.url);
let terminated = 0;
let selfExited = 0;
const errors = [];

/** Resolves when control[index] is 1 or the worker has exited, whichever is first. */
function running(worker, control, index) {
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const { async, value } = Atomics.waitAsync(control, index, 0);
  return Promise.race([exited, async ? value : Promise.resolve()]);
}

/** A seeded pause: none, one turn of the event loop, or a few milliseconds. */
function pause() {
  const choice = random();
  if (choice < 0.2) return Promise.resolve();
  if (choice < 0.5) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => setTimeout(resolve, random() * 4));
}

function start(round, slot, control) {
  const selfExit = random() < 0.15;
  if (selfExit) selfExited++;
  const worker = new Worker(workerUrl, {
    workerData: { dir, seed: (seed * 1000 + round * perRound + slot) >>> 0, label: `${process.pid}-${round}-${slot}`, control: control.buffer, index: slot, selfExit },
  });
  // terminate() and process.exit() emit no 'error': one means the load itself broke (a bug in
  // addon-teardown-ops.mjs, or an addon call failing in a way it should not), reported to the test.
  worker.on('error', (error) => errors.push(String(error?.stack ?? error)));
  return worker;
}

for (let round = 0; round < rounds; round++) {
  const control = new Int32Array(new SharedArrayBuffer(4 * perRound));
  const workers = Array.from({ length: perRound }, (_, slot) => start(round, slot, control));
  // Mostly terminate workers busy in the addon; sometimes while they are still loading it.
  if (random() < 0.9) await Promise.all(workers.map((worker, slot) => running(worker, control, slot)));
  await pause();
  await Promise.all(workers.map((worker) => worker.terminate()));
  terminated += perRound;
}

// Last: this process exits while its main thread and its workers are inside addon calls.
const control = new Int32Array(new SharedArrayBuffer(4 * perRound));
const workers = Array.from({ length: perRound }, (_, slot) => start(rounds, slot, control));
void runOperations({ dir, seed: seed ^ 0x5bd1e995, label: `${process.pid}-main` });
await Promise.all(workers.map((worker, slot) => running(worker, control, slot)));
await pause();
writeSync(1, JSON.stringify({ terminated, selfExited, errors }) + '\n');
process.exit(0);
