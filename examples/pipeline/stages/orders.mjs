// The example's data: order lines as CSV text, and the binary records the stages pass on.
// Shared by run.mjs, compare.mjs and the stage modules (each worker imports it).

/** Source line n: "id,sku,quantity,unitCents\n", deterministic. */
export function orderLine(n) {
  const quantity = (n * 7) % 13; // 0 for every 13th order: transform drops those
  const unitCents = 100 + ((n * 7919) % 9900);
  return `${n},SKU-${(n * 31) % 1000},${quantity},${unitCents}\n`;
}

/** Parsed order: [u32 id][u32 quantity][u32 unitCents][sku bytes], little-endian. */
export const PARSED_HEADER = 12;
/** Priced order: [u32 id][u32 quantity][f64 total with tax]. */
export const PRICED_LENGTH = 16;
export const TAX_RATE = 0.2;
