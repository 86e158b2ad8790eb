/**
 * Type tests of the public API (vitest typecheck, test/tsconfig.json): what users see in their
 * editor. Each `@ts-expect-error` is an invalid use that must stay a compile error; if one starts to
 * compile, tsc reports the unused directive and this file fails.
 */
import { expectTypeOf, test } from 'vitest';
import {
  RecordView,
  RingClosedError,
  RingConsumer,
  RingCorruptError,
  RingError,
  RingFormatError,
  RingProducer,
  RingTimeoutError,
  RingUsageError,
  atomicsParker,
  createRing,
  initializeRing,
  layout,
  ringGeometry,
  validateRing,
  type ConsumerStats,
  type Parker,
  type ProducerOptions,
  type ProducerStats,
  type PublishPolicy,
  type RecordHandler,
  type RingErrorCode,
  type RingGeometry,
  type RingOptions,
  type SideOptions,
  type WaitOptions,
  type WaitResult,
} from '../src/index.js';

declare const buffer: SharedArrayBuffer;
declare const producer: RingProducer;
declare const consumer: RingConsumer;
declare const record: RecordView;
const payload = new Uint8Array(8);

test('creating and validating rings', () => {
  expectTypeOf(createRing).parameters.toEqualTypeOf<[RingOptions]>();
  expectTypeOf(createRing({ capacity: 1024 })).toEqualTypeOf<SharedArrayBuffer>();
  expectTypeOf(createRing({ capacity: 1024, maxRecordLength: 100 })).toEqualTypeOf<SharedArrayBuffer>();
  expectTypeOf(validateRing(buffer)).toEqualTypeOf<RingGeometry>();
  expectTypeOf(ringGeometry({ capacity: 64 })).toEqualTypeOf<RingGeometry>();
  expectTypeOf(initializeRing(buffer, { capacity: 64 })).toEqualTypeOf<RingGeometry>();
  expectTypeOf<RingGeometry>().toEqualTypeOf<{ capacity: number; maxRecordLength: number; byteLength: number }>();
  expectTypeOf<RingOptions>().toEqualTypeOf<{ capacity: number; maxRecordLength?: number }>();
  expectTypeOf<typeof layout.HEADER_LENGTH>().toEqualTypeOf<4096>();
  expectTypeOf(layout.recordSlotLength).toEqualTypeOf<(length: number) => number>();

  // @ts-expect-error capacity is required
  createRing({});
  // @ts-expect-error capacity is a number
  createRing({ capacity: '1024' });
  // @ts-expect-error unknown option
  createRing({ capacity: 1024, size: 1024 });
  // @ts-expect-error a ring lives in a SharedArrayBuffer
  validateRing(new ArrayBuffer(8));
});

test('producer construction and options', () => {
  expectTypeOf(new RingProducer(buffer)).toEqualTypeOf<RingProducer>();
  expectTypeOf<ConstructorParameters<typeof RingProducer>>().toEqualTypeOf<[buffer: SharedArrayBuffer, options?: ProducerOptions]>();
  expectTypeOf<PublishPolicy>().toEqualTypeOf<'auto' | 'eager' | 'manual'>();
  expectTypeOf<ProducerOptions['publish']>().toEqualTypeOf<PublishPolicy | undefined>();
  expectTypeOf<ProducerOptions['batchRecords']>().toEqualTypeOf<number | undefined>();
  expectTypeOf<ProducerOptions['batchBytes']>().toEqualTypeOf<number | undefined>();
  expectTypeOf<ProducerOptions>().toExtend<SideOptions>();
  expectTypeOf<SideOptions['spin']>().toEqualTypeOf<number | undefined>();
  expectTypeOf<SideOptions['parker']>().toEqualTypeOf<Parker | undefined>();
  expectTypeOf<SideOptions['roleLock']>().toEqualTypeOf<'claim' | 'external' | undefined>();
  new RingProducer(buffer, { publish: 'manual', batchRecords: 64, batchBytes: 4096, spin: 0, parker: atomicsParker });

  // @ts-expect-error not a publish policy
  new RingProducer(buffer, { publish: 'sometimes' });
  // @ts-expect-error spin is a number
  new RingProducer(buffer, { spin: true });
  // @ts-expect-error not a role lock mode
  new RingProducer(buffer, { roleLock: 'shared' });
  // @ts-expect-error a ring is a SharedArrayBuffer, not a view of one
  new RingProducer(new Uint8Array(buffer));
  // @ts-expect-error producer options are not consumer options
  new RingConsumer(buffer, { publish: 'eager' });
});

test('producer methods', () => {
  expectTypeOf(producer.tryWrite(payload)).toEqualTypeOf<boolean>();
  expectTypeOf(producer.tryWrite(payload, 7)).toEqualTypeOf<boolean>();
  expectTypeOf(producer.tryClaim(8)).toEqualTypeOf<number>();
  expectTypeOf(producer.claim(8, 1)).toEqualTypeOf<Uint8Array | null>();
  expectTypeOf(producer.commit()).toEqualTypeOf<void>();
  expectTypeOf(producer.abort()).toEqualTypeOf<void>();
  expectTypeOf(producer.flush()).toEqualTypeOf<void>();
  expectTypeOf(producer.claiming).toEqualTypeOf<boolean>();
  expectTypeOf(producer.writeSync(payload, 0, 100)).toEqualTypeOf<boolean>();
  expectTypeOf(producer.write(payload)).toEqualTypeOf<Promise<void>>();
  expectTypeOf(producer.write(payload, 0, { timeout: 10, signal: AbortSignal.timeout(10) })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(producer.claimSync(8)).toEqualTypeOf<number>();
  expectTypeOf(producer.claimAsync(8, 0, { timeout: 5 })).toEqualTypeOf<Promise<number>>();
  expectTypeOf(producer.close).parameters.toEqualTypeOf<[options?: { end?: boolean }]>();
  expectTypeOf(producer.stats()).toEqualTypeOf<ProducerStats>();
  expectTypeOf<ProducerStats>().toEqualTypeOf<{
    capacity: number;
    maxRecordLength: number;
    head: number;
    tail: number;
    writePosition: number;
    bytesInFlight: number;
    pendingRecords: number;
    recordsWritten: number;
    consumerState: number;
  }>();
  expectTypeOf(producer.data).toEqualTypeOf<Uint8Array>();
  expectTypeOf(producer.buffer).toEqualTypeOf<SharedArrayBuffer>();
  expectTypeOf(producer.capacity).toEqualTypeOf<number>();
  expectTypeOf(producer.isClosed).toEqualTypeOf<boolean>();
  expectTypeOf<WaitOptions>().toEqualTypeOf<{ signal?: AbortSignal; timeout?: number }>();

  // @ts-expect-error a payload is bytes, not a string
  producer.tryWrite('hello');
  // @ts-expect-error a type is a number
  producer.tryWrite(payload, '1');
  // @ts-expect-error a claim takes a length
  producer.tryClaim();
  // @ts-expect-error the timeout is milliseconds
  void producer.write(payload, 0, { timeout: '1s' });
  // @ts-expect-error close options: end is a boolean
  producer.close({ end: 'yes' });
  // @ts-expect-error writePosition is internal
  void producer.writePosition;
  // @ts-expect-error the view is read-only
  producer.data = new Uint8Array(1);
});

test('consumer methods', () => {
  expectTypeOf(new RingConsumer(buffer, { spin: 0 })).toEqualTypeOf<RingConsumer>();
  expectTypeOf<ConstructorParameters<typeof RingConsumer>>().toEqualTypeOf<[buffer: SharedArrayBuffer, options?: SideOptions]>();
  expectTypeOf(consumer.poll).parameters.toEqualTypeOf<[handler: RecordHandler, limit?: number]>();
  expectTypeOf(consumer.poll(() => {})).toEqualTypeOf<number>();
  expectTypeOf<RecordHandler>().toEqualTypeOf<(type: number, data: Uint8Array, offset: number, length: number) => void>();
  consumer.poll((type, data, offset, length) => {
    expectTypeOf(type).toEqualTypeOf<number>();
    expectTypeOf(data).toEqualTypeOf<Uint8Array>();
    expectTypeOf(offset).toEqualTypeOf<number>();
    expectTypeOf(length).toEqualTypeOf<number>();
  });
  expectTypeOf(consumer.pollSync(() => {}, 10, 100)).toEqualTypeOf<number>();
  expectTypeOf(consumer.pollAsync(() => {}, 10, { timeout: 100 })).toEqualTypeOf<Promise<number>>();
  expectTypeOf(consumer.tryRead()).toEqualTypeOf<RecordView | null>();
  expectTypeOf(consumer.readSync(100)).toEqualTypeOf<RecordView | null>();
  expectTypeOf(consumer.read()).toEqualTypeOf<Promise<RecordView | null>>();
  expectTypeOf(consumer.read({ signal: new AbortController().signal })).toEqualTypeOf<Promise<RecordView | null>>();
  expectTypeOf(consumer.release()).toEqualTypeOf<void>();
  expectTypeOf(consumer.ended).toEqualTypeOf<boolean>();
  expectTypeOf(consumer.close).parameters.toEqualTypeOf<[options?: { detach?: boolean }]>();
  expectTypeOf(consumer[Symbol.asyncIterator]()).toEqualTypeOf<AsyncGenerator<RecordView, void, undefined>>();
  expectTypeOf(consumer.stats()).toEqualTypeOf<ConsumerStats>();
  expectTypeOf<ConsumerStats['ended']>().toEqualTypeOf<boolean>();
  expectTypeOf<ConsumerStats['recordsInFlight']>().toEqualTypeOf<number>();
  expectTypeOf<ConsumerStats['bytesInFlight']>().toEqualTypeOf<number>();

  // @ts-expect-error the handler returns nothing useful, but it must accept a record's parameters in order
  consumer.poll((type: string) => type);
  // @ts-expect-error a limit is a number
  consumer.poll(() => {}, 'all');
  // @ts-expect-error read options are an object
  void consumer.read(100);
  // @ts-expect-error consumers cannot write
  consumer.tryWrite(payload);
});

test('async iteration and record views', async () => {
  for await (const item of consumer) {
    expectTypeOf(item).toEqualTypeOf<RecordView>();
  }
  expectTypeOf(record.type).toEqualTypeOf<number>();
  expectTypeOf(record.length).toEqualTypeOf<number>();
  expectTypeOf(record.offset).toEqualTypeOf<number>();
  expectTypeOf(record.data).toEqualTypeOf<Uint8Array>();
  expectTypeOf(record.buffer).toEqualTypeOf<Uint8Array>();
  expectTypeOf(record.copy()).toEqualTypeOf<Uint8Array>();
  expectTypeOf(record.release()).toEqualTypeOf<void>();
  expectTypeOf(record.released).toEqualTypeOf<boolean>();

  // @ts-expect-error a record's fields are read-only
  record.type = 1;
  // @ts-expect-error data is a getter only
  record.data = new Uint8Array(1);
  const maybe = await consumer.read();
  // @ts-expect-error read() may resolve null at the end of the stream
  void maybe.data;
});

test('typed errors', () => {
  expectTypeOf<RingError>().toExtend<Error>();
  for (const ErrorClass of [RingFormatError, RingCorruptError, RingUsageError, RingClosedError, RingTimeoutError]) {
    expectTypeOf(new ErrorClass('ERR_CORRUPT', 'message')).toExtend<RingError>();
  }
  expectTypeOf<RingError['code']>().toEqualTypeOf<RingErrorCode>();
  expectTypeOf<RingError['field']>().toEqualTypeOf<string | undefined>();
  expectTypeOf<RingError['value']>().toEqualTypeOf<number | string | undefined>();
  expectTypeOf<RingError['expected']>().toEqualTypeOf<string | undefined>();
  expectTypeOf<'ERR_CORRUPT'>().toExtend<RingErrorCode>();
  expectTypeOf<'ERR_ROLE_TAKEN'>().toExtend<RingErrorCode>();
  expectTypeOf<'ERR_TIMEOUT'>().toExtend<RingErrorCode>();
  expectTypeOf<'ERR_CLOSED'>().toExtend<RingErrorCode>();
  expectTypeOf<'ERR_RELEASED'>().toExtend<RingErrorCode>();
  expectTypeOf<'ERR_NOT_A_CODE'>().not.toExtend<RingErrorCode>();
  expectTypeOf<string>().not.toExtend<RingErrorCode>();

  const caught: unknown = undefined;
  if (caught instanceof RingError) {
    expectTypeOf(caught.code).toEqualTypeOf<RingErrorCode>();
    if (caught.code === 'ERR_CORRUPT') expectTypeOf(caught.code).toEqualTypeOf<'ERR_CORRUPT'>();
  }
  if (caught instanceof RingCorruptError) expectTypeOf(caught).toExtend<RingError>();

  // @ts-expect-error codes are a closed set
  new RingUsageError('ERR_WHATEVER', 'message');
  // @ts-expect-error the code is read-only
  new RingUsageError('ERR_BUSY', 'm').code = 'ERR_CLOSED';
});

test('parkers', () => {
  expectTypeOf(atomicsParker).toEqualTypeOf<Parker>();
  expectTypeOf<WaitResult>().toEqualTypeOf<'ok' | 'not-equal' | 'timed-out'>();
  expectTypeOf<Parker['waitSync']>().returns.toEqualTypeOf<WaitResult>();
  expectTypeOf<Parker['waitAsync']>().returns.toEqualTypeOf<Promise<WaitResult>>();
  expectTypeOf<Parker['wake']>().returns.toEqualTypeOf<void>();
  const custom: Parker = {
    waitSync: () => 'timed-out',
    waitAsync: async () => 'ok',
    wake: () => {},
  };
  new RingConsumer(buffer, { parker: custom });

  const wrong = {
    waitSync: () => 'slept',
    waitAsync: async () => 'ok' as const,
    wake: () => {},
  };
  // @ts-expect-error a parker's wait reports one of the three Atomics.wait results
  new RingConsumer(buffer, { parker: wrong });
});
