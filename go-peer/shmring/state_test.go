//go:build linux

package shmring

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Impossible role state words (issue 11.8): refused with ErrCorrupt naming the field and value,
// at attach and before a blocking call waits, instead of waiting for an end that never comes.

func wantCorruptState(t *testing.T, err error, field string, value uint64) {
	t.Helper()
	var shmringError *Error
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &shmringError) || shmringError.Field != field || shmringError.Value != value {
		t.Fatalf("err = %v; want ErrCorrupt naming %s %d", err, field, value)
	}
}

func TestReadRefusesAnImpossibleProducerState(t *testing.T) {
	ring := newTestRing(t, 1024, 64)
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	storeSeqCst32(ring.words.producerState, 7)
	// The deadline is only a backstop: the refusal must come before any wait.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := consumer.Read(ctx)
	wantCorruptState(t, err, "producerState", 7)
	wantCorruptState(t, consumer.Wait(ctx), "producerState", 7)
}

func TestWriteRefusesAnImpossibleConsumerState(t *testing.T) {
	ring := newTestRing(t, 64, 48)
	producer := mustProducer(t, ring, ProducerOptions{})
	mustWrite(t, producer, 1, make([]byte, 48))
	storeSeqCst32(ring.words.consumerState, 0xFFFFFFFF)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wantCorruptState(t, producer.Write(ctx, make([]byte, 48), 1), "consumerState", 0xFFFFFFFF)
}

func TestAttachRefusesAnImpossiblePeerState(t *testing.T) {
	ring := newTestRing(t, 1024, 64)
	storeSeqCst32(ring.words.producerState, 3)
	_, err := ring.Consumer(ConsumerOptions{})
	wantCorruptState(t, err, "producerState", 3)
	storeSeqCst32(ring.words.producerState, RoleDetached)
	storeSeqCst32(ring.words.consumerState, 9)
	_, err = ring.Producer(ProducerOptions{})
	wantCorruptState(t, err, "consumerState", 9)
	if loadSeqCst32(ring.words.producerState) != RoleDetached {
		t.Fatalf("refused attach left producerState %d", loadSeqCst32(ring.words.producerState))
	}
	// The refusal released the role lock: a valid state lets the same Ring attach.
	storeSeqCst32(ring.words.consumerState, RoleDetached)
	mustProducer(t, ring, ProducerOptions{})
	mustConsumer(t, ring, ConsumerOptions{})
}

// FORMAT.md §3: the final state of each way of leaving, with the pid zeroed, and a producer facing
// consumerState CLOSED (non-blocking writes go on until full, a blocking write fails with ErrClosed).
func TestLeavingStoresTheDocumentedStateAndZeroesThePid(t *testing.T) {
	ring := newTestRing(t, 64, 16)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	if err := errors.Join(producer.Detach(), consumer.Detach()); err != nil {
		t.Fatal(err)
	}
	for _, words := range [][2]*uint32{{ring.words.producerState, ring.words.producerPid}, {ring.words.consumerState, ring.words.consumerPid}} {
		if state, pid := loadSeqCst32(words[0]), loadRelaxed32(words[1]); state != RoleDetached || pid != 0 {
			t.Fatalf("after Detach: state %d pid %d; want %d, 0", state, pid, RoleDetached)
		}
	}
	consumer = mustConsumer(t, ring, ConsumerOptions{})
	if err := consumer.Close(); err != nil {
		t.Fatal(err)
	}
	if state, pid := loadSeqCst32(ring.words.consumerState), loadRelaxed32(ring.words.consumerPid); state != RoleClosed || pid != 0 {
		t.Fatalf("after Close: consumerState %d pid %d; want %d, 0", state, pid, RoleClosed)
	}
	producer = mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	written := 0
	for {
		ok, err := producer.TryWrite(make([]byte, 8), 1)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		written++
	}
	if written != 4 {
		t.Fatalf("wrote %d records of 8 bytes into 64 with the consumer closed; want 4", written)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := producer.Write(ctx, make([]byte, 8), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write to a full ring whose consumer closed = %v; want ErrClosed", err)
	}
	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}
	if state, pid := loadSeqCst32(ring.words.producerState), loadRelaxed32(ring.words.producerPid); state != RoleClosed || pid != 0 {
		t.Fatalf("after Close: producerState %d pid %d; want %d, 0", state, pid, RoleClosed)
	}
}
