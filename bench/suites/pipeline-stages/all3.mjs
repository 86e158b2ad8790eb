// The three stages of the 0.1 configuration fused by hand into one stage function: what chaining
// (pipeline option chain) would reach if handing a record to the next stage cost nothing.
import parse from './parse.mjs';
import transform from './transform.mjs';
import verify from './verify.mjs';

export default function all3(data, type, context) {
  return verify(transform(parse(data, type, context), type, context), type, context);
}
