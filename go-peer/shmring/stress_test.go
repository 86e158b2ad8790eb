package shmring

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// Stress tests: a real second goroutine on the other side of a real ring file, a start barrier,
// seeded variable-length records (the shared test stream), many laps, and every record verified
// in order. Nothing here sleeps or times anything: progress is driven by the ring alone.

type streamSpec struct {
	seed, start, count, maxLength uint32
}

// produceStream writes the stream, zero-copy, spinning (runtime.Gosched) or blocking when full;
// with copyIn, through the blocking copy-in Write instead.
func produceStream(ctx context.Context, producer *Producer, spec streamSpec, blocking, copyIn bool) error {
	scratch := make([]byte, spec.maxLength)
	for n := spec.start; n != spec.start+spec.count; n++ {
		recordType, length := StreamRecord(spec.seed, n, spec.maxLength)
		if copyIn {
			FillStreamPayload(scratch[:length], spec.seed, n)
			if err := producer.Write(ctx, scratch[:length], recordType); err != nil {
				return err
			}
			continue
		}
		var buffer []byte
		var err error
		for buffer == nil && err == nil {
			if blocking {
				buffer, err = producer.Claim(ctx, int(length), recordType)
			} else if buffer, err = producer.TryClaim(int(length), recordType); buffer == nil {
				runtime.Gosched()
			}
		}
		if err != nil {
			return err
		}
		FillStreamPayload(buffer, spec.seed, n)
		if err := producer.Commit(); err != nil {
			return err
		}
	}
	return producer.Close()
}

// consumeStream verifies the stream record by record until the producer ends it: with usePoll in
// batches, else one TryRead (or, blocking, Read) and Release per record.
func consumeStream(ctx context.Context, consumer *Consumer, spec streamSpec, blocking, usePoll bool) (uint32, error) {
	n := spec.start
	if blocking && !usePoll {
		for {
			record, err := consumer.Read(ctx)
			if errors.Is(err, ErrEndOfStream) {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			if err := VerifyStreamRecord(spec.seed, n, spec.maxLength, record.Type, record.Data); err != nil {
				return n, err
			}
			n++
			if err := consumer.Release(); err != nil {
				return n, err
			}
		}
	}
	verify := func(recordType uint16, data []byte) error {
		if err := VerifyStreamRecord(spec.seed, n, spec.maxLength, recordType, data); err != nil {
			return err
		}
		n++
		return nil
	}
	for {
		if usePoll {
			handled, err := consumer.Poll(verify, 0)
			if err != nil {
				return n, err
			}
			if handled > 0 {
				continue
			}
		} else {
			record, ok, err := consumer.TryRead()
			if err != nil {
				return n, err
			}
			if ok {
				if err := verify(record.Type, record.Data); err != nil {
					return n, err
				}
				if err := consumer.Release(); err != nil {
					return n, err
				}
				continue
			}
		}
		if blocking {
			if err := consumer.Wait(ctx); errors.Is(err, ErrEndOfStream) {
				return n, nil
			} else if err != nil {
				return n, err
			}
		} else {
			if loadSeqCst32(consumer.waitOn.peerState) == RoleClosed && loadAcquire32(consumer.waitOn.peerPosition) == consumer.readPosition {
				return n, nil
			}
			runtime.Gosched()
		}
	}
}

func stressCount(short, full uint32) uint32 {
	if testing.Short() {
		return short
	}
	return full
}

func TestStressGoroutinesOverARingFile(t *testing.T) {
	// Spin 0 parks at once; a one-minute park slice means a lost wake-up would show up as a park
	// timeout (counted below), not be papered over by a short slice.
	parkAtOnce := &WaitOptions{Spin: 0, ParkTimeout: 60e9}
	variants := []struct {
		name     string
		blocking bool
		usePoll  bool
		publish  PublishPolicy
		wait     *WaitOptions
	}{
		{"spinning, eager, TryClaim/TryRead", false, false, PublishEager, parkAtOnce},
		{"spinning, batched, TryClaim/Poll", false, true, PublishBatched, parkAtOnce},
		{"parked, eager, Write/Read", true, false, PublishEager, parkAtOnce},
		{"parked, batched, Claim/Wait+Poll", true, true, PublishBatched, parkAtOnce},
		{"never parked, batched, Claim/Wait+Poll", true, true, PublishBatched, &WaitOptions{NeverPark: true}},
	}
	for _, variant := range variants {
		variant := variant
		t.Run(variant.name, func(t *testing.T) {
			spec := streamSpec{seed: 0x5EED, start: 0xFFFFFF00, count: stressCount(20000, 300000), maxLength: 700}
			// 4 KiB against records of up to 708 bytes: a lap every ~11 records, thousands of laps,
			// padding at most wraps, and the sequence numbers themselves wrap through 2^32.
			ring := newTestRing(t, 4096, 1024)
			producer := mustProducer(t, ring, ProducerOptions{Publish: variant.publish, BatchRecords: 16, Wait: variant.wait})
			consumer := mustConsumer(t, ring, ConsumerOptions{Wait: variant.wait})

			ctx := context.Background()
			start := make(chan struct{})
			var wg sync.WaitGroup
			var produceErr, consumeErr error
			var next uint32
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				produceErr = produceStream(ctx, producer, spec, variant.blocking, variant.blocking && !variant.usePoll)
			}()
			go func() {
				defer wg.Done()
				<-start
				next, consumeErr = consumeStream(ctx, consumer, spec, variant.blocking, variant.usePoll)
			}()
			close(start)
			wg.Wait()
			if produceErr != nil || consumeErr != nil {
				t.Fatalf("producer: %v; consumer: %v (next expected seq %d)", produceErr, consumeErr, next)
			}
			if next != spec.start+spec.count {
				t.Fatalf("consumer stopped at seq %d; want %d", next, spec.start+spec.count)
			}
			if producer.waitStats.parkTimeouts != 0 || consumer.waitStats.parkTimeouts != 0 {
				t.Fatalf("a park ended by timeout (producer %d, consumer %d): a wake-up was lost",
					producer.waitStats.parkTimeouts, consumer.waitStats.parkTimeouts)
			}
			t.Logf("%d records; parks: producer %d, consumer %d", spec.count,
				producer.waitStats.parks, consumer.waitStats.parks)
		})
	}
}
