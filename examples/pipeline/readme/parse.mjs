// 'qty,name' -> [u32 qty][name], written straight into the next ring (claim, fill, commit).
export default function parse(line, type, context) {
  const comma = line.indexOf(44);
  let quantity = 0;
  for (let k = 0; k < comma; k++) quantity = quantity * 10 + (line[k] - 48);
  const at = context.claim(4 + line.length - comma - 1);
  const output = context.output;
  new DataView(output.buffer, output.byteOffset + at, 4).setUint32(0, quantity, true);
  output.set(line.subarray(comma + 1), at + 4);
  context.commit();
}
