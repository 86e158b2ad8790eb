package shmring

// The ring format's numbers come from layout.h, a copy of the one C header the C++ addon compiles
// (native/include/shmring/layout.h; a test keeps the copy byte-identical while the repository is
// around). The module carries the copy so that it builds when fetched alone. Two generated files
// define the same unexported constants from it (names as in the header, camel-cased, without the
// SHMRING_ prefix): layout_cgo.go, where the C compiler evaluates the header (the default build),
// and layout_purego.go, with the header's literals, for CGO_ENABLED=0 and cross builds. cgo is used
// for constants only: no C function is called at run time, and never per record (see
// BenchmarkCgoCallPerRecord for why).
//
// After changing the header: `go generate ./...` in go-peer/ copies it and regenerates both files.
//go:generate go run ../internal/cmd/genlayout -sync ../../native/include/shmring/layout.h

// Exported because callers size and validate rings with them.
const (
	MinCapacity  = minCapacity  // smallest data area
	MaxCapacity  = maxCapacity  // 2^30: keeps tail-head unambiguous
	MaxType      = maxType      // user types are 0..MaxType
	RoleDetached = roleDetached // nobody attached; one may attach and continue
	RoleAttached = roleAttached
	RoleClosed   = roleClosed // left for good: producer = end of stream, consumer = no reader
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
