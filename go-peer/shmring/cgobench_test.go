//go:build cgo

package shmring

import "testing"

// The case for keeping cgo off the per-record path: one trivial cgo call (an atomic load done in
// C) against the same load in Go. The per-record paths of bench_test.go cost about as much as, or less than,
// one cgo call alone would add to each record.
func BenchmarkCgoCallPerRecord(b *testing.B) {
	ring := newTestRing(b, 64, 16)
	var sum uint32
	for i := 0; i < b.N; i++ {
		sum += cgoLoadAcquire32(ring.words.tail)
	}
	_ = sum
}
