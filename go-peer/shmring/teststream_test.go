package shmring

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// Fixed vectors of the test stream, shared with src/teststream.ts (computed there independently).
var streamVectors = []struct {
	seed, n, maxLength uint32
	length             uint32
	recordType         uint16
	payloadPrefix      string // hex of the first min(16, length) payload bytes
}{
	{1, 0, 1000, 13, 0, "b7284e5170a285ef291cbd8de2"},
	{1, 1, 1000, 350, 1, "03b5de36bc2e16d5"},
	{1, 2, 1000, 306, 2, "9083bc1249fdf3b0"},
	{1, 3, 1000, 856, 3, "b5c194296e3bccc7"},
	{1, 4, 1000, 647, 4, "e7c7ad79a041e517"},
	{0xdeadbeef, 70000, 7, 4, 4464, "1cc2963b"},
	{42, 0xffffffff, 0xffffffff, 2313832073, 0xffff, "8946ea8942c02128fb3959c6b4b39064"},
}

func TestStreamVectors(t *testing.T) {
	for _, vector := range streamVectors {
		recordType, length := StreamRecord(vector.seed, vector.n, vector.maxLength)
		if recordType != vector.recordType || length != vector.length {
			t.Fatalf("StreamRecord(%d, %d, %d) = type %d length %d; want type %d length %d",
				vector.seed, vector.n, vector.maxLength, recordType, length, vector.recordType, vector.length)
		}
		prefix := make([]byte, len(vector.payloadPrefix)/2)
		FillStreamPayload(prefix, vector.seed, vector.n)
		if got := hex.EncodeToString(prefix); got != vector.payloadPrefix {
			t.Fatalf("payload of seed %d n %d starts %s; want %s", vector.seed, vector.n, got, vector.payloadPrefix)
		}
		if length < 4096 {
			payload := make([]byte, length)
			FillStreamPayload(payload, vector.seed, vector.n)
			if err := VerifyStreamRecord(vector.seed, vector.n, vector.maxLength, recordType, payload); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("seed=%d n=%d M=%d: length=%d type=%d payload starts %s", vector.seed, vector.n, vector.maxLength, length, recordType, vector.payloadPrefix)
	}
}

func TestVerifyStreamRecordNamesTheFirstDifference(t *testing.T) {
	const seed, n, maxLength = 7, 12345, 500
	recordType, length := StreamRecord(seed, n, maxLength)
	payload := make([]byte, length)
	FillStreamPayload(payload, seed, n)
	for _, k := range []int{0, 3, 4, int(length) - 1} {
		damaged := append([]byte(nil), payload...)
		damaged[k] ^= 0x40
		err := VerifyStreamRecord(seed, n, maxLength, recordType, damaged)
		if err == nil || !strings.Contains(err.Error(), "seq 12345") || !strings.Contains(err.Error(), "byte "+strconv.Itoa(k)+" ") {
			t.Fatalf("damaged byte %d: error %v", k, err)
		}
	}
	if err := VerifyStreamRecord(seed, n, maxLength, recordType+1, payload); err == nil || !strings.Contains(err.Error(), "type") {
		t.Fatalf("wrong type: error %v", err)
	}
	if err := VerifyStreamRecord(seed, n, maxLength, recordType, payload[:len(payload)-1]); err == nil || !strings.Contains(err.Error(), "length") {
		t.Fatalf("short payload: error %v", err)
	}
	if err := VerifyStreamRecord(seed, n+1, maxLength, recordType, payload); err == nil {
		t.Fatal("record n accepted as record n+1")
	}
}

func TestStreamZeroMaxLengthGivesEmptyRecords(t *testing.T) {
	for n := uint32(0); n < 100; n++ {
		if _, length := StreamRecord(3, n, 0); length != 0 {
			t.Fatalf("n %d: length %d with maxLength 0", n, length)
		}
		if err := VerifyStreamRecord(3, n, 0, uint16(n), nil); err != nil {
			t.Fatal(err)
		}
	}
}
