/**
 * The CSV app's two stages as runPipeline stages (the `runPipeline` variant of the csv suite): the
 * same parser, typed trade records and aggregate as the other variants (csv-app.mjs).
 *   parse      a batch handler: each input record is a run of whole lines; every line is parsed
 *              and written to the next ring as a typed trade, claimed in place on the next ring's
 *              batch writer (context.batch(); the stage is unordered, so no framing is owed)
 *   aggregate  { init, batch, end }: folds every trade into an Aggregate; the end hook writes the
 *              result as one JSON record (type 1)
 * A record of type WARM_TYPE ends the warm-up: parse passes it on, aggregate starts over and passes
 * it on, and the sink starts the clock when it arrives (both workers have run the code by then).
 */
import { defineRecord } from '../../dist/index.js';
import { Aggregate, TRADE_SIZE, TRADE_SPEC, parseLine, putTrade } from './csv-app.mjs';

const NEWLINE = 10;
/** The warm-up marker (csv.mjs): parse passes it on, aggregate starts over and passes it on to the sink. */
export const WARM_TYPE = 2;
const EMPTY = new Uint8Array(0);
const trade = defineRecord(TRADE_SPEC);
const fields = new Float64Array(4);
let outputCursor;
let cursorOutput;

export function parse(batch, context) {
  // The next ring's batch writer (the stage is ordered: false, so no framing is owed): a claim per
  // trade, no commit; the pipeline publishes between calls.
  let out = context.batch();
  while (batch.next()) {
    if (batch.type === WARM_TYPE) {
      context.write(EMPTY, WARM_TYPE);
      continue;
    }
    const data = batch.buffer;
    const end = batch.offset + batch.length;
    let lineStart = batch.offset;
    for (let i = lineStart; i < end; i++) {
      if (data[i] !== NEWLINE) continue;
      parseLine(data, lineStart, i, fields);
      lineStart = i + 1;
      let at = out.claim(TRADE_SIZE, 0);
      if (at < 0) {
        out = context.waitForRoom(TRADE_SIZE);
        at = out.claim(TRADE_SIZE, 0);
      }
      // One cursor over the ring's data, made once.
      if (out.data !== cursorOutput) {
        cursorOutput = out.data;
        outputCursor = trade.cursor(cursorOutput);
      }
      outputCursor.at(at);
      putTrade(outputCursor, fields);
    }
  }
}

let inputCursor;
let cursorInput;

export const aggregate = {
  init() {
    return new Aggregate();
  },
  batch(batch, context) {
    let sums = context.state;
    if (batch.buffer !== cursorInput) {
      cursorInput = batch.buffer;
      inputCursor = trade.cursor(cursorInput);
    }
    const cursor = inputCursor;
    while (batch.next()) {
      if (batch.type === WARM_TYPE) {
        // The warm-up is over: start the aggregate over (the result counts the timed lines only).
        sums = context.state = new Aggregate();
        context.write(EMPTY, WARM_TYPE);
        continue;
      }
      cursor.at(batch.offset);
      sums.add(cursor.symbol, cursor.price, cursor.qty, cursor.ts);
    }
  },
  end(context) {
    context.write(new TextEncoder().encode(JSON.stringify(context.state.result())), 1);
  },
};
