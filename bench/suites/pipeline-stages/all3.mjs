import parse from './parse.mjs';
import transform from './transform.mjs';
import verify from './verify.mjs';
export default function all3(data, type, context) { return verify(transform(parse(data, type, context), type, context), type, context); }
