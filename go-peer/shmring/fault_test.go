//go:build linux

package shmring

import (
	"context"
	"os"
	"testing"
)

// A peer truncates the ring file under our mapping: every guarded call reports ErrCorrupt naming
// the mapping instead of killing the process with SIGBUS (issue 10, finding 6).
func TestTruncatedFileBecomesErrCorrupt(t *testing.T) {
	for _, where := range []string{"tmpfs", "disk"} {
		t.Run(where, func(t *testing.T) {
			var ring *Ring
			if where == "tmpfs" {
				var err error
				if ring, err = Create(shmTestPath(t), CreateOptions{Capacity: 1 << 16}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ring.Close() })
			} else {
				ring = newTestRing(t, 1<<16, 1024)
			}
			producer := mustProducer(t, ring, ProducerOptions{})
			consumer := mustConsumer(t, ring, ConsumerOptions{})
			mustWrite(t, producer, 1, patterned(100, 1))
			if err := producer.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(ring.Path(), 0); err != nil {
				t.Fatal(err)
			}
			handled := 0
			_, err := consumer.Poll(func(uint16, []byte) error { handled++; return nil }, 0)
			expectError(t, err, ErrCorrupt, "mapping", "truncated")
			_, _, err = consumer.TryRead()
			expectError(t, err, ErrCorrupt, "mapping")
			_, err = consumer.Read(context.Background())
			expectError(t, err, ErrCorrupt, "mapping")
			expectError(t, consumer.Wait(context.Background()), ErrCorrupt, "mapping")
			_, err = producer.TryWrite(patterned(10, 2), 1)
			expectError(t, err, ErrCorrupt, "mapping")
			expectError(t, producer.Write(context.Background(), patterned(10, 2), 1), ErrCorrupt, "mapping")
			// A claim may succeed from cached positions without touching the file; its commit cannot.
			if _, err = producer.TryClaim(10, 1); err == nil {
				expectError(t, producer.Commit(), ErrCorrupt, "mapping")
			} else {
				expectError(t, err, ErrCorrupt, "mapping")
			}
			_, err = ring.Stats()
			expectError(t, err, ErrCorrupt, "mapping")
			// Leaving still completes: roles are released and the ring closes (munmap, close).
			expectError(t, producer.Close(), ErrCorrupt, "mapping")
			expectError(t, consumer.Close(), ErrCorrupt, "mapping")
			if err := ring.Close(); err != nil {
				t.Fatal(err)
			}
			if handled != 0 {
				t.Fatalf("handler called %d times on a truncated ring", handled)
			}
		})
	}
}

// A panic that is not a fault in the mapping (the handler's own) is not swallowed by the guard.
func TestFaultGuardKeepsOtherPanics(t *testing.T) {
	ring := newTestRing(t, 1<<12, 256)
	producer := mustProducer(t, ring, ProducerOptions{})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, patterned(10, 1))
	if err := producer.Flush(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recovered := recover(); recovered != "handler bug" {
			t.Fatalf("recovered %v, want the handler's own panic", recovered)
		}
	}()
	consumer.Poll(func(uint16, []byte) error { panic("handler bug") }, 0)
	t.Fatal("Poll returned after its handler panicked")
}
