// Worker for test/waits.test.ts. workerData: { mode, buffer | path, control, timeout?, records? }.
// The ring is an in-memory SharedArrayBuffer (`buffer`) or a ring file (`path`, opened here).
// Modes:
//   async-<op>     one async wait with { timeout } on an empty (read/pollAsync) or full (write/
//                  claimAsync) ring, and nothing else pending: posts { code } of the outcome.
//   for-await      consumes with `for await` until the end; posts { records, sum } and exits.
//   sync-<op>      blocks in readSync/pollSync/writeSync/claimSync without a timeout (the parent
//                  terminates it); control[1] = 1 just before it blocks.
//   exit-open      attaches a producer and returns without close(): the thread just ends.
//   hold-open      attaches a producer and stays busy (a timer) until terminated.
//   hold-readSync  attaches a consumer and blocks in readSync() until terminated.
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer, RingFile, RingProducer } from '../../dist/index.js';

const { mode, buffer, path, control, timeout } = workerData;
const file = path === undefined ? undefined : RingFile.open(path);
const consumerOf = () => (file ? file.consumer({ spin: 0 }) : new RingConsumer(buffer, { spin: 0 }));
const producerOf = () => (file ? file.producer({ spin: 0, publish: 'eager' }) : new RingProducer(buffer, { spin: 0, publish: 'eager' }));

function fill(producer) {
  const payload = new Uint8Array(16);
  while (producer.tryWrite(payload));
  return payload;
}

const outcome = (promise) =>
  promise.then(
    () => parentPort.postMessage({ code: 'settled' }),
    (error) => parentPort.postMessage({ code: error.code ?? String(error) }),
  );

switch (mode) {
  case 'async-read':
    outcome(consumerOf().read({ timeout }));
    break;
  case 'async-pollAsync':
    outcome(consumerOf().pollAsync(() => undefined, Infinity, { timeout }));
    break;
  case 'async-write': {
    const producer = producerOf();
    outcome(producer.write(fill(producer), 0, { timeout }));
    break;
  }
  case 'async-claimAsync': {
    const producer = producerOf();
    fill(producer);
    outcome(producer.claimAsync(16, 0, { timeout }));
    break;
  }
  case 'for-await': {
    let records = 0;
    let sum = 0;
    for await (const record of consumerOf()) {
      records++;
      sum += record.data[0];
    }
    parentPort.postMessage({ records, sum });
    break;
  }
  case 'sync-readSync':
  case 'sync-pollSync': {
    const consumer = consumerOf();
    Atomics.store(control, 1, 1);
    if (mode === 'sync-readSync') consumer.readSync();
    else consumer.pollSync(() => undefined);
    parentPort.postMessage({ code: 'returned' });
    break;
  }
  case 'sync-writeSync':
  case 'sync-claimSync': {
    const producer = producerOf();
    const payload = fill(producer);
    Atomics.store(control, 1, 1);
    if (mode === 'sync-writeSync') producer.writeSync(payload);
    else producer.claimSync(16);
    parentPort.postMessage({ code: 'returned' });
    break;
  }
  case 'exit-open':
    producerOf();
    parentPort.postMessage({ code: 'attached' });
    break;
  case 'hold-open':
    producerOf();
    setInterval(() => undefined, 1000);
    parentPort.postMessage({ code: 'attached' });
    break;
  case 'hold-readSync': {
    const consumer = consumerOf();
    parentPort.postMessage({ code: 'attached' });
    consumer.readSync();
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
