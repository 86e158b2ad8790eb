// Stage 2: flips the touched bytes in place and passes the record on. In the ring pipeline `data`
// is a view of the input ring that this worker owns until the call returns (the result is copied
// into the next ring); in a piscina task it is the worker's structured clone.
import { mask } from './record.mjs';

export default function transform(data) {
  mask(data);
  return data;
}
