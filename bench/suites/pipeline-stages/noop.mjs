// A stage that does nothing but pass the record on (returns the input view: one copy into the next ring).
export default function noop(data) {
  return data;
}
