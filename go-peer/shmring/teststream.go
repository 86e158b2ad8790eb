package shmring

import (
	"encoding/binary"
	"fmt"
)

// The test stream: a deterministic sequence of records shared with the TypeScript and C++ tests,
// so that any peer can verify what any other peer produced. For seed S, sequence number n and
// maximum length M:
//
//	h       = fmix32(S ^ (n * 0x9E3779B9))
//	length  = h % (M + 1)
//	type    = n & 0xFFFF
//	byte k  = byte (k & 3), little-endian, of the word h + (k >> 2) * 0x9E3779B9
//
// All arithmetic is uint32 and wraps.

const streamGolden = 0x9E3779B9

// fmix32 is MurmurHash3's 32-bit finalizer.
func fmix32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x85ebca6b
	x ^= x >> 13
	x *= 0xc2b2ae35
	x ^= x >> 16
	return x
}

func streamHash(seed, n uint32) uint32 { return fmix32(seed ^ (n * streamGolden)) }

// StreamRecord returns the type and payload length of record n of the stream.
func StreamRecord(seed, n, maxLength uint32) (recordType uint16, length uint32) {
	return uint16(n & 0xFFFF), uint32(uint64(streamHash(seed, n)) % (uint64(maxLength) + 1))
}

// FillStreamPayload writes the payload of record n into dst (len(dst) bytes of it).
func FillStreamPayload(dst []byte, seed, n uint32) {
	word := streamHash(seed, n)
	for len(dst) >= 4 {
		binary.LittleEndian.PutUint32(dst, word)
		dst = dst[4:]
		word += streamGolden
	}
	for k := range dst {
		dst[k] = byte(word >> (8 * k))
	}
}

// VerifyStreamRecord checks that (recordType, data) is record n of the stream. The error names
// the sequence number and the first difference.
func VerifyStreamRecord(seed, n, maxLength uint32, recordType uint16, data []byte) error {
	expectedType, expectedLength := StreamRecord(seed, n, maxLength)
	if recordType != expectedType {
		return fmt.Errorf("record seq %d: type %d, expected %d", n, recordType, expectedType)
	}
	if uint64(len(data)) != uint64(expectedLength) {
		return fmt.Errorf("record seq %d: length %d, expected %d", n, len(data), expectedLength)
	}
	word := streamHash(seed, n)
	k := 0
	for ; k+4 <= len(data); k += 4 {
		if binary.LittleEndian.Uint32(data[k:]) != word {
			break // find the exact byte below
		}
		word += streamGolden
	}
	for ; k < len(data); k++ {
		expected := byte((streamHash(seed, n) + uint32(k>>2)*streamGolden) >> (8 * (k & 3)))
		if data[k] != expected {
			return fmt.Errorf("record seq %d: payload byte %d is %#02x, expected %#02x", n, k, data[k], expected)
		}
	}
	return nil
}
