package shmring

// The ring format's numbers come from the one C header that the C++ addon also includes
// (native/include/shmring/layout.h); cgo evaluates the macros at build time, so the Go peer cannot
// drift from the other two implementations. cgo is used for nothing else: no C function is called
// at run time, and never per record (see BenchmarkCgoCall for why).

// #cgo CFLAGS: -I${SRCDIR}/../../native/include
// #include "shmring/layout.h"
import "C"

// Identity.
const (
	magicLo    uint32 = C.SHMRING_MAGIC_LO    // "SHMR": low word of the 8-byte magic "SHMRING\0"
	magicHi    uint32 = C.SHMRING_MAGIC_HI    // "ING\0": high word of the magic
	version    uint32 = C.SHMRING_VERSION     // format version this peer speaks
	readyValue uint32 = C.SHMRING_READY_VALUE // "REDY": store-released by the creator last
)

// Geometry.
const (
	blockLength        uint32 = C.SHMRING_BLOCK_LENGTH         // one writer, one write rate per block
	headerLength       uint32 = C.SHMRING_HEADER_LENGTH        // offset of the data area: one page
	MinCapacity        uint32 = C.SHMRING_MIN_CAPACITY         // smallest data area
	MaxCapacity        uint32 = C.SHMRING_MAX_CAPACITY         // 2^30: keeps tail-head unambiguous
	recordAlignment    uint32 = C.SHMRING_RECORD_ALIGNMENT     // every record starts 8-aligned
	recordHeaderLength uint32 = C.SHMRING_RECORD_HEADER_LENGTH // length u32 + type u32
	MaxType            uint32 = C.SHMRING_MAX_TYPE             // user types are 0..MaxType
	paddingType        uint32 = C.SHMRING_PADDING_TYPE         // type of a padding record
)

// Metadata block [0, 128): written by the creator before ready, immutable after.
const (
	magicLoOffset         uint32 = C.SHMRING_MAGIC_LO_OFFSET
	magicHiOffset         uint32 = C.SHMRING_MAGIC_HI_OFFSET
	versionOffset         uint32 = C.SHMRING_VERSION_OFFSET
	headerLengthOffset    uint32 = C.SHMRING_HEADER_LENGTH_OFFSET
	capacityOffset        uint32 = C.SHMRING_CAPACITY_OFFSET
	maxRecordLengthOffset uint32 = C.SHMRING_MAX_RECORD_LENGTH_OFFSET
	flagsOffset           uint32 = C.SHMRING_FLAGS_OFFSET // no flags in version 1: must be 0
	creatorPidOffset      uint32 = C.SHMRING_CREATOR_PID_OFFSET
	readyOffset           uint32 = C.SHMRING_READY_OFFSET // store-release last; load-acquire first
)

// Hot blocks: one position each, written once per batch by its owner.
const (
	tailOffset uint32 = C.SHMRING_TAIL_OFFSET // producer store-release, consumer load-acquire
	headOffset uint32 = C.SHMRING_HEAD_OFFSET // consumer store-release, producer load-acquire
)

// Producer control block [384, 512): written by the producer, rarely.
const (
	producerStateOffset     uint32 = C.SHMRING_PRODUCER_STATE_OFFSET
	producerPidOffset       uint32 = C.SHMRING_PRODUCER_PID_OFFSET
	producerHeartbeatOffset uint32 = C.SHMRING_PRODUCER_HEARTBEAT_OFFSET // unix seconds, low 32 bits
	producerWaitingOffset   uint32 = C.SHMRING_PRODUCER_WAITING_OFFSET   // 1 while parked for space
	dataDoorbellOffset      uint32 = C.SHMRING_DATA_DOORBELL_OFFSET      // producer bumps, consumer waits
)

// Consumer control block [512, 640): written by the consumer, rarely.
const (
	consumerStateOffset     uint32 = C.SHMRING_CONSUMER_STATE_OFFSET
	consumerPidOffset       uint32 = C.SHMRING_CONSUMER_PID_OFFSET
	consumerHeartbeatOffset uint32 = C.SHMRING_CONSUMER_HEARTBEAT_OFFSET
	consumerWaitingOffset   uint32 = C.SHMRING_CONSUMER_WAITING_OFFSET // 1 while parked for data
	spaceDoorbellOffset     uint32 = C.SHMRING_SPACE_DOORBELL_OFFSET   // consumer bumps, producer waits
)

// Role states, the value of producerState / consumerState.
const (
	RoleDetached uint32 = C.SHMRING_ROLE_DETACHED // nobody attached; one may attach and continue
	RoleAttached uint32 = C.SHMRING_ROLE_ATTACHED
	RoleClosed   uint32 = C.SHMRING_ROLE_CLOSED // left for good: producer = end of stream, consumer = no reader
)

// Role locks (ring files only): OFD byte-range write locks on one byte at these file offsets.
const (
	producerLockOffset uint32 = C.SHMRING_PRODUCER_LOCK_OFFSET
	consumerLockOffset uint32 = C.SHMRING_CONSUMER_LOCK_OFFSET
)

// HeaderLength is the size of the ring header; a ring file is HeaderLength+capacity bytes.
const HeaderLength = headerLength

// recordSlotLength is the number of data-area bytes a record of payloadLength bytes occupies:
// header plus payload rounded up to the record alignment. Computed in 64 bits so that a hostile
// length near 2^32 cannot wrap to a small slot.
func recordSlotLength(payloadLength uint32) uint64 {
	return (uint64(payloadLength) + uint64(recordHeaderLength) + uint64(recordAlignment) - 1) &^ (uint64(recordAlignment) - 1)
}

// LayoutConstants returns every constant of layout.h, named as there without the SHMRING_
// prefix, with the values this package was compiled with. `shmring layout --json` prints it so
// that test/layout-agreement.test.ts can prove the Go peer agrees with the header.
func LayoutConstants() map[string]uint32 {
	return map[string]uint32{
		"MAGIC_LO":                  magicLo,
		"MAGIC_HI":                  magicHi,
		"VERSION":                   version,
		"READY_VALUE":               readyValue,
		"BLOCK_LENGTH":              blockLength,
		"HEADER_LENGTH":             headerLength,
		"MIN_CAPACITY":              MinCapacity,
		"MAX_CAPACITY":              MaxCapacity,
		"RECORD_ALIGNMENT":          recordAlignment,
		"RECORD_HEADER_LENGTH":      recordHeaderLength,
		"MAX_TYPE":                  MaxType,
		"PADDING_TYPE":              paddingType,
		"MAGIC_LO_OFFSET":           magicLoOffset,
		"MAGIC_HI_OFFSET":           magicHiOffset,
		"VERSION_OFFSET":            versionOffset,
		"HEADER_LENGTH_OFFSET":      headerLengthOffset,
		"CAPACITY_OFFSET":           capacityOffset,
		"MAX_RECORD_LENGTH_OFFSET":  maxRecordLengthOffset,
		"FLAGS_OFFSET":              flagsOffset,
		"CREATOR_PID_OFFSET":        creatorPidOffset,
		"READY_OFFSET":              readyOffset,
		"TAIL_OFFSET":               tailOffset,
		"HEAD_OFFSET":               headOffset,
		"PRODUCER_STATE_OFFSET":     producerStateOffset,
		"PRODUCER_PID_OFFSET":       producerPidOffset,
		"PRODUCER_HEARTBEAT_OFFSET": producerHeartbeatOffset,
		"PRODUCER_WAITING_OFFSET":   producerWaitingOffset,
		"DATA_DOORBELL_OFFSET":      dataDoorbellOffset,
		"CONSUMER_STATE_OFFSET":     consumerStateOffset,
		"CONSUMER_PID_OFFSET":       consumerPidOffset,
		"CONSUMER_HEARTBEAT_OFFSET": consumerHeartbeatOffset,
		"CONSUMER_WAITING_OFFSET":   consumerWaitingOffset,
		"SPACE_DOORBELL_OFFSET":     spaceDoorbellOffset,
		"ROLE_DETACHED":             RoleDetached,
		"ROLE_ATTACHED":             RoleAttached,
		"ROLE_CLOSED":               RoleClosed,
		"PRODUCER_LOCK_OFFSET":      producerLockOffset,
		"CONSUMER_LOCK_OFFSET":      consumerLockOffset,
	}
}
