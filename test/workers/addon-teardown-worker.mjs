// Worker thread of addon-teardown-child.mjs: runs every addon call in a loop until it is terminated
// (or, when asked, calls process.exit() itself at a seeded point, which ends only this thread).
// Sets control[index] to 1 once the addon is loaded and the first call made.
import { workerData } from 'node:worker_threads';
import { runOperations, seededRandom } from './addon-teardown-ops.mjs';

const { dir, seed, label, control, index, selfExit } = workerData;
const words = new Int32Array(control);
if (selfExit) {
  const random = seededRandom(seed ^ 0x9e3779b9);
  setTimeout(() => process.exit(0), random() * 4);
}
await runOperations({
  dir,
  seed,
  label,
  onRunning: () => {
    Atomics.store(words, index, 1);
    Atomics.notify(words, index);
  },
});
