/*
 * shmring ring format, version 1: the single source of truth for offsets and constants.
 *
 * Plain C so that the C++ addon includes it directly and the Go peer imports it through cgo.
 * The TypeScript descriptor (src/layout.ts) mirrors it; test/layout-agreement.test.ts parses this
 * file and proves the TypeScript, C++ (addon export) and Go (cgo) values are identical.
 * docs/FORMAT.md explains every field and the protocol in prose.
 *
 * All multi-byte fields are little-endian, naturally aligned, and at the same offset on every
 * architecture (no field depends on pointer size or compiler padding). Positions are unsigned
 * 32-bit byte counters that wrap modulo 2^32; capacity <= 2^30 keeps (tail - head) unambiguous.
 *
 * File / SharedArrayBuffer layout:
 *
 *   0      128     256     384     512     640            4096 (HEADER_LENGTH)
 *   +-------+-------+-------+-------+-------+---- ... ----+------------------------------+
 *   | meta  | tail  | head  | prod  | cons  |  reserved   | data area: CAPACITY bytes     |
 *   | (RO)  | (P)   | (C)   | ctrl  | ctrl  |  (zero)     | 8-aligned records             |
 *   +-------+-------+-------+-------+-------+---- ... ----+------------------------------+
 *
 * Each block is 128 bytes: two cache lines, so that adjacent-line prefetch never puts a word the
 * producer writes per batch next to one the consumer writes per batch.
 *
 * Record header (8 bytes, at an 8-aligned offset of the data area):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 length: payload bytes (uint32)                |  +0
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |   type: 0..0xFFFF user type, 0xFFFFFFFF padding (uint32)      |  +4
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 payload (length bytes) ...                    |  +8
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | zero to 7 bytes of alignment slack up to the next 8-aligned offset
 *
 * Commit rule: a record is visible only once the producer has release-stored a tail position
 * beyond it; the consumer acquire-loads the tail and then reads everything below it with plain
 * loads. Space is returned by the consumer release-storing the head; the producer acquire-loads it
 * before overwriting. Nothing below the tail is ever torn; nothing above it is ever read.
 */
#ifndef SHMRING_LAYOUT_H
#define SHMRING_LAYOUT_H

/* ---- identity ---------------------------------------------------------------------------- */
/* The 8 bytes "SHMRING\0" at offset 0, read as two little-endian uint32 words. */
#define SHMRING_MAGIC_LO 0x524D4853u /* "SHMR" */
#define SHMRING_MAGIC_HI 0x00474E49u /* "ING\0" */
#define SHMRING_VERSION 1u
/* Value of the ready word once the creator has written every metadata field. */
#define SHMRING_READY_VALUE 0x59444552u /* "REDY" */

/* ---- geometry ---------------------------------------------------------------------------- */
#define SHMRING_BLOCK_LENGTH 128u
#define SHMRING_HEADER_LENGTH 4096u /* offset of the data area: one page */
#define SHMRING_MIN_CAPACITY 64u
#define SHMRING_MAX_CAPACITY 1073741824u /* 2^30 */
#define SHMRING_RECORD_ALIGNMENT 8u
#define SHMRING_RECORD_HEADER_LENGTH 8u
#define SHMRING_MAX_TYPE 0xFFFFu
#define SHMRING_PADDING_TYPE 0xFFFFFFFFu

/* ---- metadata block [0, 128): written by the creator before READY, immutable after --------- */
#define SHMRING_MAGIC_LO_OFFSET 0u
#define SHMRING_MAGIC_HI_OFFSET 4u
#define SHMRING_VERSION_OFFSET 8u
#define SHMRING_HEADER_LENGTH_OFFSET 12u
#define SHMRING_CAPACITY_OFFSET 16u
#define SHMRING_MAX_RECORD_LENGTH_OFFSET 20u
#define SHMRING_FLAGS_OFFSET 24u /* no flags are defined in version 1: must be 0 */
#define SHMRING_CREATOR_PID_OFFSET 28u
#define SHMRING_READY_OFFSET 32u /* store-release READY_VALUE last; load-acquire first */

/* ---- producer hot block [128, 256) ------------------------------------------------------- */
#define SHMRING_TAIL_OFFSET 128u /* producer: store-release; consumer: load-acquire */

/* ---- consumer hot block [256, 384) ------------------------------------------------------- */
#define SHMRING_HEAD_OFFSET 256u /* consumer: store-release; producer: load-acquire */

/* ---- producer control block [384, 512): written by the producer, rarely ------------------ */
#define SHMRING_PRODUCER_STATE_OFFSET 384u
#define SHMRING_PRODUCER_PID_OFFSET 388u
#define SHMRING_PRODUCER_HEARTBEAT_OFFSET 392u /* unix seconds, low 32 bits */
#define SHMRING_PRODUCER_WAITING_OFFSET 396u   /* 1 while the producer is parked for space */
#define SHMRING_DATA_DOORBELL_OFFSET 400u      /* futex word: producer bumps, consumer waits */

/* ---- consumer control block [512, 640): written by the consumer, rarely ------------------ */
#define SHMRING_CONSUMER_STATE_OFFSET 512u
#define SHMRING_CONSUMER_PID_OFFSET 516u
#define SHMRING_CONSUMER_HEARTBEAT_OFFSET 520u
#define SHMRING_CONSUMER_WAITING_OFFSET 524u /* 1 while the consumer is parked for data */
#define SHMRING_SPACE_DOORBELL_OFFSET 528u   /* futex word: consumer bumps, producer waits */

/* ---- role states (PRODUCER_STATE / CONSUMER_STATE) --------------------------------------- */
#define SHMRING_ROLE_DETACHED 0u /* nobody attached; one may attach and continue */
#define SHMRING_ROLE_ATTACHED 1u
#define SHMRING_ROLE_CLOSED 2u /* left for good: producer = end of stream, consumer = no reader */

/* ---- role locks (ring files only): OFD byte-range write locks on these file offsets ------- */
#define SHMRING_PRODUCER_LOCK_OFFSET 384u
#define SHMRING_CONSUMER_LOCK_OFFSET 512u

#endif /* SHMRING_LAYOUT_H */
