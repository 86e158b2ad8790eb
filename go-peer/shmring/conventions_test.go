package shmring

import (
	"errors"
	"testing"
)

// The conventions shared with the TypeScript API (README table "TypeScript -> Go"): defaults of a
// zero ProducerOptions, and what Spin 0 means.

// writeUntilPublished writes records of length bytes with a zero ProducerOptions until tail moves,
// and returns how many records that took.
func writeUntilPublished(t *testing.T, capacity uint32, length int) int {
	t.Helper()
	ring := newTestRing(t, capacity, capacity/4)
	producer := mustProducer(t, ring, ProducerOptions{})
	payload := make([]byte, length)
	for written := 1; written <= DefaultBatchRecords+1; written++ {
		mustWrite(t, producer, 1, payload)
		if tail := loadAcquire32(ring.words.tail); tail != 0 {
			if records, bytes := producer.Pending(); records != 0 || bytes != 0 {
				t.Fatalf("published tail %d but %d records (%d bytes) still pending", tail, records, bytes)
			}
			if want := uint32(written) * uint32(recordSlotLength(uint32(length))); tail != want {
				t.Fatalf("tail %d after %d records; want %d (all of them)", tail, written, want)
			}
			return written
		}
	}
	t.Fatalf("nothing published after %d records", DefaultBatchRecords+1)
	return 0
}

func TestZeroProducerOptionsPublishEvery256Records(t *testing.T) {
	// 16-byte slots in 1 MiB: the byte limit (64 KiB = 4096 slots) is far away.
	if got := writeUntilPublished(t, 1<<20, 8); got != 256 {
		t.Fatalf("first publication after %d records; want 256 (TypeScript's batchRecords default)", got)
	}
}

func TestZeroProducerOptionsPublishEvery64KiBOnALargeRing(t *testing.T) {
	// 1008-byte slots in 1 MiB: capacity/4 is 256 KiB, so 64 KiB decides: 66 slots are 66528 bytes.
	if got := writeUntilPublished(t, 1<<20, 1000); got != 66 {
		t.Fatalf("first publication after %d records; want 66 (64 KiB pending, not capacity/4)", got)
	}
}

func TestZeroProducerOptionsPublishEveryQuarterOfASmallRing(t *testing.T) {
	// 112-byte slots in 4 KiB: capacity/4 = 1024 bytes decides: 10 slots are 1120 bytes.
	if got := writeUntilPublished(t, 4096, 100); got != 10 {
		t.Fatalf("first publication after %d records; want 10 (capacity/4 pending)", got)
	}
}

func TestWaitOptionsSpinZeroParksAtOnce(t *testing.T) {
	if got := (*WaitOptions)(nil).withDefaults(); got.Spin != DefaultSpin || got.ParkTimeout != DefaultParkTimeout || got.NeverPark {
		t.Errorf("nil WaitOptions resolve to %+v; want DefaultSpin, DefaultParkTimeout", got)
	}
	// awaitPeer spins Spin times before its park loop: 0 means none, as spin: 0 in TypeScript.
	if got := (&WaitOptions{}).withDefaults(); got.Spin != 0 || got.ParkTimeout != DefaultParkTimeout {
		t.Errorf("WaitOptions{} resolves to %+v; want Spin 0 (park at once), DefaultParkTimeout", got)
	}
	if got := (&WaitOptions{Spin: 5, ParkTimeout: 7}).withDefaults(); got.Spin != 5 || got.ParkTimeout != 7 {
		t.Errorf("WaitOptions{Spin: 5, ParkTimeout: 7} resolves to %+v", got)
	}
}

func TestNegativeSpinIsRefusedBeforeTheRoleIsTaken(t *testing.T) {
	ring := newTestRing(t, 4096, 1024)
	_, err := ring.Producer(ProducerOptions{Wait: &WaitOptions{Spin: -1}})
	var detail *Error
	if !errors.Is(err, ErrUsage) || !errors.As(err, &detail) || detail.Op != "attach producer" {
		t.Fatalf("Producer(Spin -1) = %v; want ErrUsage from attach producer", err)
	}
	if _, err := ring.Consumer(ConsumerOptions{Wait: &WaitOptions{Spin: -1}}); !errors.Is(err, ErrUsage) {
		t.Fatalf("Consumer(Spin -1) = %v; want ErrUsage", err)
	}
	mustProducer(t, ring, ProducerOptions{}) // the role was not taken
	mustConsumer(t, ring, ConsumerOptions{})
}
