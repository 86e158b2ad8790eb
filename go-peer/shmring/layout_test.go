package shmring

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/shmring/shmring/go-peer/internal/layoutgen"
)

// headerMirror is the header as a Go struct with natural alignment. If the constants from
// layout.h describe a naturally aligned layout with no field depending on the architecture, the
// compiler puts every field exactly at its constant: unsafe.Offsetof checks that.
type headerMirror struct {
	magicLo, magicHi, version, headerLength, capacity, maxRecordLength, flags, creatorPid, ready uint32
	_                                                                                            [128 - 36]byte
	tail                                                                                         uint32
	_                                                                                            [124]byte
	head                                                                                         uint32
	_                                                                                            [124]byte
	producerState, producerPid, producerHeartbeat, producerWaiting, dataDoorbell                 uint32
	_                                                                                            [128 - 20]byte
	consumerState, consumerPid, consumerHeartbeat, consumerWaiting, spaceDoorbell                uint32
	_                                                                                            [128 - 20]byte
	_                                                                                            [4096 - 640]byte
}

func TestLayoutMatchesANaturallyAlignedStruct(t *testing.T) {
	var mirror headerMirror
	fields := []struct {
		name     string
		offset   uintptr
		constant uint32
	}{
		{"magicLo", unsafe.Offsetof(mirror.magicLo), magicLoOffset},
		{"magicHi", unsafe.Offsetof(mirror.magicHi), magicHiOffset},
		{"version", unsafe.Offsetof(mirror.version), versionOffset},
		{"headerLength", unsafe.Offsetof(mirror.headerLength), headerLengthOffset},
		{"capacity", unsafe.Offsetof(mirror.capacity), capacityOffset},
		{"maxRecordLength", unsafe.Offsetof(mirror.maxRecordLength), maxRecordLengthOffset},
		{"flags", unsafe.Offsetof(mirror.flags), flagsOffset},
		{"creatorPid", unsafe.Offsetof(mirror.creatorPid), creatorPidOffset},
		{"ready", unsafe.Offsetof(mirror.ready), readyOffset},
		{"tail", unsafe.Offsetof(mirror.tail), tailOffset},
		{"head", unsafe.Offsetof(mirror.head), headOffset},
		{"producerState", unsafe.Offsetof(mirror.producerState), producerStateOffset},
		{"producerPid", unsafe.Offsetof(mirror.producerPid), producerPidOffset},
		{"producerHeartbeat", unsafe.Offsetof(mirror.producerHeartbeat), producerHeartbeatOffset},
		{"producerWaiting", unsafe.Offsetof(mirror.producerWaiting), producerWaitingOffset},
		{"dataDoorbell", unsafe.Offsetof(mirror.dataDoorbell), dataDoorbellOffset},
		{"consumerState", unsafe.Offsetof(mirror.consumerState), consumerStateOffset},
		{"consumerPid", unsafe.Offsetof(mirror.consumerPid), consumerPidOffset},
		{"consumerHeartbeat", unsafe.Offsetof(mirror.consumerHeartbeat), consumerHeartbeatOffset},
		{"consumerWaiting", unsafe.Offsetof(mirror.consumerWaiting), consumerWaitingOffset},
		{"spaceDoorbell", unsafe.Offsetof(mirror.spaceDoorbell), spaceDoorbellOffset},
	}
	for _, field := range fields {
		if field.offset != uintptr(field.constant) {
			t.Errorf("%s: layout.h says offset %d, a naturally aligned struct puts it at %d", field.name, field.constant, field.offset)
		}
		if field.constant%4 != 0 || field.constant+4 > headerLength {
			t.Errorf("%s at %d is not an aligned word inside the header", field.name, field.constant)
		}
	}
	if size := unsafe.Sizeof(mirror); size != uintptr(headerLength) {
		t.Errorf("header mirror is %d bytes; headerLength is %d", size, headerLength)
	}
}

func TestLayoutBlocksSeparateWritersAndRates(t *testing.T) {
	blockOf := func(offset uint32) uint32 { return offset / blockLength }
	// 128 bytes: two cache lines, against adjacent-line prefetch; the data area starts on a page.
	if blockLength != 128 || headerLength != 4096 {
		t.Fatalf("blockLength %d, headerLength %d", blockLength, headerLength)
	}
	// Metadata, tail, head, producer control, consumer control: consecutive 128-byte blocks, each
	// starting on its block boundary.
	starts := []uint32{magicLoOffset, tailOffset, headOffset, producerStateOffset, consumerStateOffset}
	for i, start := range starts {
		if start != uint32(i)*blockLength {
			t.Errorf("block %d starts at %d; want %d", i, start, uint32(i)*blockLength)
		}
	}
	for _, offset := range []uint32{magicHiOffset, versionOffset, headerLengthOffset, capacityOffset, maxRecordLengthOffset, flagsOffset, creatorPidOffset, readyOffset} {
		if blockOf(offset) != 0 {
			t.Errorf("metadata word at %d is outside block 0", offset)
		}
	}
	for _, offset := range []uint32{producerPidOffset, producerHeartbeatOffset, producerWaitingOffset, dataDoorbellOffset} {
		if blockOf(offset) != blockOf(producerStateOffset) {
			t.Errorf("producer control word at %d is outside the producer block", offset)
		}
	}
	for _, offset := range []uint32{consumerPidOffset, consumerHeartbeatOffset, consumerWaitingOffset, spaceDoorbellOffset} {
		if blockOf(offset) != blockOf(consumerStateOffset) {
			t.Errorf("consumer control word at %d is outside the consumer block", offset)
		}
	}
	if producerLockOffset != producerStateOffset || consumerLockOffset != consumerStateOffset {
		t.Errorf("lock offsets %d/%d are not the control blocks %d/%d", producerLockOffset, consumerLockOffset, producerStateOffset, consumerStateOffset)
	}
	if blockOf(consumerStateOffset)*blockLength+blockLength > headerLength {
		t.Error("control blocks overflow the header")
	}
}

func TestLayoutConstants(t *testing.T) {
	var magic [8]byte
	binary.LittleEndian.PutUint32(magic[0:], magicLo)
	binary.LittleEndian.PutUint32(magic[4:], magicHi)
	if string(magic[:]) != "SHMRING\x00" {
		t.Errorf("magic spells %q", magic)
	}
	var ready [4]byte
	binary.LittleEndian.PutUint32(ready[:], readyValue)
	if string(ready[:]) != "REDY" {
		t.Errorf("ready spells %q", ready)
	}
	if version != 1 {
		t.Errorf("version %d", version)
	}
	isPowerOfTwo := func(value uint32) bool { return value != 0 && value&(value-1) == 0 }
	if !isPowerOfTwo(MinCapacity) || !isPowerOfTwo(MaxCapacity) || MinCapacity > MaxCapacity {
		t.Errorf("capacity range [%d, %d]", MinCapacity, MaxCapacity)
	}
	// tail-head must stay unambiguous in 32-bit wrapping arithmetic, and every offset a positive int32.
	if MaxCapacity > 1<<30 {
		t.Errorf("MaxCapacity %d exceeds 2^30", MaxCapacity)
	}
	if recordAlignment != 8 || recordHeaderLength != 8 || headerLength%recordAlignment != 0 {
		t.Errorf("record alignment %d, header %d", recordAlignment, recordHeaderLength)
	}
	if MaxType != 0xFFFF || paddingType != 0xFFFFFFFF {
		t.Errorf("MaxType %#x, paddingType %#x", MaxType, paddingType)
	}
	if RoleDetached != 0 || RoleAttached != 1 || RoleClosed != 2 {
		t.Errorf("role states %d %d %d", RoleDetached, RoleAttached, RoleClosed)
	}
	if !hostIsLittleEndian {
		t.Error("this peer needs a little-endian host")
	}
}

func TestRecordSlotLength(t *testing.T) {
	for _, test := range []struct {
		payload uint32
		slot    uint64
	}{{0, 8}, {1, 16}, {7, 16}, {8, 16}, {9, 24}, {56, 64}, {0xFFFFFFFF, 0x100000008}} {
		if got := recordSlotLength(test.payload); got != test.slot {
			t.Errorf("recordSlotLength(%d) = %d; want %d", test.payload, got, test.slot)
		}
	}
}

// LayoutConstants must list every #define of layout.h with its value: parsing the header here
// catches a constant added there but forgotten in the Go peer. With cgo the values come from the C
// compiler, without it from layout_purego.go: either way they are checked against the header.
func TestLayoutConstantsCoverTheWholeHeader(t *testing.T) {
	lines, err := layoutgen.Parse(layoutHeader)
	if err != nil {
		t.Fatal(err)
	}
	defines := layoutgen.Constants(lines)
	constants := LayoutConstants()
	if len(defines) < 38 || len(defines) != len(constants) {
		t.Fatalf("layout.h has %d numeric defines, LayoutConstants %d", len(defines), len(constants))
	}
	for _, define := range defines {
		if got, ok := constants[define.Name]; !ok || got != define.Value {
			t.Errorf("%s: header %d, Go %d (present %v)", define.Name, define.Value, got, ok)
		}
	}
}
