// Child process: creates and removes a ring file in a loop until killed, so that a SIGKILL lands at
// a random point inside create. Prints "looping" once the first create has returned.
// argv[2]: JSON {path, seed, capacity}
import { RingFile } from '../../dist/index.js';

const { path, seed, capacity } = JSON.parse(process.argv[2]);
let state = seed >>> 0 || 1;
const nextBit = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) & 1;
};
for (let round = 0; ; round++) {
  const exclusive = nextBit() === 1;
  try {
    RingFile.create(path, { capacity, exclusive }).close();
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
  }
  if (round === 0) process.stdout.write('looping\n');
  if (nextBit() === 1) RingFile.unlink(path);
}
