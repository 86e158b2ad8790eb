package shmring

import (
	"context"
	"sync"
	"testing"
)

// Benchmarks of the per-record paths. Each reports ns per record; SetBytes adds payload MB/s.

func BenchmarkTryWrite(b *testing.B) {
	for _, policy := range []struct {
		name    string
		options ProducerOptions
	}{
		{"eager", ProducerOptions{Publish: PublishEager}},
		{"batched64", ProducerOptions{Publish: PublishBatched, BatchRecords: 64}},
	} {
		b.Run(policy.name, func(b *testing.B) {
			ring := newTestRing(b, 1<<20, 1024)
			producer := mustProducer(b, ring, policy.options)
			consumer := mustConsumer(b, ring, ConsumerOptions{})
			payload := make([]byte, 64)
			discard := func(uint16, []byte) error { return nil }
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				written, err := producer.TryWrite(payload, 1)
				if err != nil {
					b.Fatal(err)
				}
				if !written {
					// Full: drain outside the measurement (one Poll per ~14k records).
					b.StopTimer()
					consumer.Poll(discard, 0)
					b.StartTimer()
					i--
				}
			}
		})
	}
}

func BenchmarkPoll(b *testing.B) {
	ring := newTestRing(b, 1<<20, 1024)
	producer := mustProducer(b, ring, ProducerOptions{Publish: PublishManual})
	consumer := mustConsumer(b, ring, ConsumerOptions{})
	payload := make([]byte, 64)
	var checksum byte
	handler := func(_ uint16, data []byte) error { checksum += data[0]; return nil }
	fill := func() {
		for written := true; written; {
			written, _ = producer.TryWrite(payload, 1)
		}
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for remaining := b.N; remaining > 0; {
		handled, err := consumer.Poll(handler, remaining)
		if err != nil {
			b.Fatal(err)
		}
		if handled == 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		remaining -= handled
	}
	_ = checksum
}

// BenchmarkTransferGoroutines moves 64-byte records between two goroutines over one ring file:
// copy-in TryWrite, batched publication, Poll; spinning, as a throughput peer would.
func BenchmarkTransferGoroutines(b *testing.B) {
	ring := newTestRing(b, 1<<20, 1024)
	producer := mustProducer(b, ring, ProducerOptions{Publish: PublishBatched, BatchRecords: 64})
	consumer := mustConsumer(b, ring, ConsumerOptions{})
	payload := make([]byte, 64)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			if err := producer.Write(ctx, payload, 1); err != nil {
				panic(err)
			}
		}
		producer.Close()
	}()
	received := 0
	for {
		handled, err := consumer.Poll(func(uint16, []byte) error { return nil }, 0)
		if err != nil {
			b.Fatal(err)
		}
		received += handled
		if handled == 0 {
			if err := consumer.Wait(context.Background()); err != nil {
				break // ErrEndOfStream
			}
		}
	}
	wg.Wait()
	if received != b.N {
		b.Fatalf("received %d of %d", received, b.N)
	}
}

func BenchmarkAtomicLoadPerRecord(b *testing.B) {
	ring := newTestRing(b, 64, 16)
	var sum uint32
	for i := 0; i < b.N; i++ {
		sum += loadAcquire32(ring.words.tail)
	}
	_ = sum
}
