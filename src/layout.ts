/**
 * Ring format version 1: the TypeScript descriptor. Mirrors native/include/shmring/layout.h field
 * for field (test/layout-agreement.test.ts parses that header and proves the values agree with these
 * and with the addon's and the Go peer's). docs/FORMAT.md explains each field and the protocol.
 *
 * Offsets are in bytes from the start of the region; `*_INDEX` values are the same offsets in Int32
 * units, for the header Int32Array that starts at byte 0.
 */

/** "SHMR" — the low word of the 8-byte magic "SHMRING\0". */
export const MAGIC_LO = 0x524d4853;
/** "ING\0" — the high word of the magic. */
export const MAGIC_HI = 0x00474e49;
export const VERSION = 1;
/** Value of the ready word once the creator has written every metadata field ("REDY"). */
export const READY_VALUE = 0x59444552;

export const BLOCK_LENGTH = 128;
/** Offset of the data area: one page, so the data area is page-aligned in a file mapping. */
export const HEADER_LENGTH = 4096;
export const MIN_CAPACITY = 64;
/** 2^30: keeps `tail - head` unambiguous in 32-bit wrapping arithmetic and every offset a positive int32. */
export const MAX_CAPACITY = 0x40000000;
export const RECORD_ALIGNMENT = 8;
export const RECORD_HEADER_LENGTH = 8;
/** Largest user record type; 0..MAX_TYPE are user types. */
export const MAX_TYPE = 0xffff;
/** Type of a padding record (0xFFFFFFFF, read as -1 through an Int32Array). */
export const PADDING_TYPE = 0xffffffff;
export const PADDING_TYPE_I32 = -1;

// Metadata block [0, 128): written by the creator before READY, immutable after.
export const MAGIC_LO_OFFSET = 0;
export const MAGIC_HI_OFFSET = 4;
export const VERSION_OFFSET = 8;
export const HEADER_LENGTH_OFFSET = 12;
export const CAPACITY_OFFSET = 16;
export const MAX_RECORD_LENGTH_OFFSET = 20;
/** No flags are defined in version 1: must be 0. */
export const FLAGS_OFFSET = 24;
export const CREATOR_PID_OFFSET = 28;
/** Store-release READY_VALUE last; load-acquire it first. */
export const READY_OFFSET = 32;

// Producer hot block [128, 256).
/** Producer position: producer store-release, consumer load-acquire. */
export const TAIL_OFFSET = 128;

// Consumer hot block [256, 384).
/** Consumer position: consumer store-release, producer load-acquire. */
export const HEAD_OFFSET = 256;

// Producer control block [384, 512): written by the producer, rarely.
export const PRODUCER_STATE_OFFSET = 384;
export const PRODUCER_PID_OFFSET = 388;
/** Unix seconds, low 32 bits. */
export const PRODUCER_HEARTBEAT_OFFSET = 392;
/** 1 while the producer is parked waiting for space. */
export const PRODUCER_WAITING_OFFSET = 396;
/** Futex word: the producer bumps it to wake the consumer. */
export const DATA_DOORBELL_OFFSET = 400;

// Consumer control block [512, 640): written by the consumer, rarely.
export const CONSUMER_STATE_OFFSET = 512;
export const CONSUMER_PID_OFFSET = 516;
export const CONSUMER_HEARTBEAT_OFFSET = 520;
/** 1 while the consumer is parked waiting for data. */
export const CONSUMER_WAITING_OFFSET = 524;
/** Futex word: the consumer bumps it to wake the producer. */
export const SPACE_DOORBELL_OFFSET = 528;

// Role states.
export const ROLE_DETACHED = 0;
export const ROLE_ATTACHED = 1;
/** Left for good: for the producer, end of stream; for the consumer, nobody will read. */
export const ROLE_CLOSED = 2;

// Role locks (ring files only): OFD byte-range write locks on these file offsets.
export const PRODUCER_LOCK_OFFSET = 384;
export const CONSUMER_LOCK_OFFSET = 512;

// Int32 indexes into the header Int32Array (which starts at byte 0 of the region).
export const READY_INDEX = READY_OFFSET >> 2;
export const TAIL_INDEX = TAIL_OFFSET >> 2;
export const HEAD_INDEX = HEAD_OFFSET >> 2;
export const PRODUCER_STATE_INDEX = PRODUCER_STATE_OFFSET >> 2;
export const PRODUCER_PID_INDEX = PRODUCER_PID_OFFSET >> 2;
export const PRODUCER_HEARTBEAT_INDEX = PRODUCER_HEARTBEAT_OFFSET >> 2;
export const PRODUCER_WAITING_INDEX = PRODUCER_WAITING_OFFSET >> 2;
export const DATA_DOORBELL_INDEX = DATA_DOORBELL_OFFSET >> 2;
export const CONSUMER_STATE_INDEX = CONSUMER_STATE_OFFSET >> 2;
export const CONSUMER_PID_INDEX = CONSUMER_PID_OFFSET >> 2;
export const CONSUMER_HEARTBEAT_INDEX = CONSUMER_HEARTBEAT_OFFSET >> 2;
export const CONSUMER_WAITING_INDEX = CONSUMER_WAITING_OFFSET >> 2;
export const SPACE_DOORBELL_INDEX = SPACE_DOORBELL_OFFSET >> 2;

/** Bytes a record of `length` payload bytes occupies in the data area. */
export function recordSlotLength(length: number): number {
  return (length + RECORD_HEADER_LENGTH + RECORD_ALIGNMENT - 1) & ~(RECORD_ALIGNMENT - 1);
}
