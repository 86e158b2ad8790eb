// Passes each record on and keeps a total; at the end of the stream, writes it as a record of type 1.
export default {
  init: () => ({ total: 0 }),
  record(data, type, context) {
    context.state.total += new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
    return data;
  },
  end(context) {
    const at = context.claim(4, 1);
    new DataView(context.output.buffer, context.output.byteOffset + at, 4).setUint32(0, context.state.total, true);
    context.commit();
  },
};
