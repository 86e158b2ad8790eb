package shmring

import (
	"context"
	"errors"
	"io"
	"testing"
)

func TestConsumerRefusesCorruptPositionsAndRecords(t *testing.T) {
	tests := []struct {
		name       string
		capacity   uint32
		maxLength  uint32
		head, tail uint32
		plant      func(ring *Ring)
		mentions   []string
	}{
		{"tail not 8-aligned", 256, 248, 0, 12, nil, []string{"tail 12", "multiple of 8"}},
		{"tail more than capacity ahead", 256, 248, 0, 264, nil, []string{"tail 264", "capacity 256"}},
		{"tail behind head", 256, 248, 64, 32, nil, []string{"tail 32"}},
		{
			"record length beyond maxRecordLength", 4096, 1024, 128, 128 + 1032,
			func(ring *Ring) { plantRecordHeader(ring, 128, 4000000, 1) },
			[]string{"shmring: corrupt ring: record.length 4000000 at offset 128 exceeds maxRecordLength 1024"},
		},
		{
			"record length near 2^32", 256, 248, 0, 256,
			func(ring *Ring) { plantRecordHeader(ring, 0, 0xFFFFFFF9, 1) },
			[]string{"record.length 4294967289"},
		},
		{
			"record type neither user nor padding", 256, 248, 0, 16,
			func(ring *Ring) { plantRecordHeader(ring, 0, 8, 0x10000) },
			[]string{"record.type 65536 at offset 0"},
		},
		{
			"record extends past tail", 256, 248, 0, 16,
			func(ring *Ring) { plantRecordHeader(ring, 0, 100, 1) },
			[]string{"record.length 100 at offset 0 extends past tail 16"},
		},
		{
			"record crosses the end of the data area", 256, 248, 248, 264,
			func(ring *Ring) { plantRecordHeader(ring, 248, 8, 1) },
			[]string{"record.length 8 at offset 248 crosses the end"},
		},
		{
			"padding of the wrong length", 256, 248, 128, 256,
			func(ring *Ring) { plantRecordHeader(ring, 128, 8, paddingType) },
			[]string{"record.length 8 of padding at offset 128", "120"},
		},
		{
			"padding beyond tail", 256, 248, 128, 136,
			func(ring *Ring) { plantRecordHeader(ring, 128, 120, paddingType) },
			[]string{"tail 136 ends inside the padding at offset 128"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			ring := newTestRing(t, test.capacity, test.maxLength)
			plantPositions(ring, test.head, test.tail)
			if test.plant != nil {
				test.plant(ring)
			}
			consumer := mustConsumer(t, ring, ConsumerOptions{})
			for attempt := 0; attempt < 2; attempt++ { // refused the same way every time: no state was consumed
				_, ok, err := consumer.TryRead()
				if ok {
					t.Fatal("read a record")
				}
				expectError(t, err, ErrCorrupt, test.mentions...)
			}
			_, err := consumer.Poll(func(uint16, []byte) error { return nil }, 0)
			expectError(t, err, ErrCorrupt)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err = consumer.Read(ctx)
			expectError(t, err, ErrCorrupt)
			if head := loadAcquire32(ring.words.head); head != test.head {
				t.Fatalf("head moved to %d", head)
			}
		})
	}
}

func TestConsumerRefusesAMisalignedHeadOnAttach(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	plantPositions(ring, 4, 4)
	_, err := ring.Consumer(ConsumerOptions{})
	expectError(t, err, ErrCorrupt, "head 4")
	if alive, _ := ring.ConsumerAlive(); alive {
		t.Fatal("a refused attach kept the lock")
	}
}

func TestPollReleasesOncePerBatchAndRespectsLimit(t *testing.T) {
	ring := newTestRing(t, 1024, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	for i := 0; i < 10; i++ {
		mustWrite(t, producer, uint16(i), patterned(i, byte(i)))
	}
	var seen []uint16
	collect := func(recordType uint16, data []byte) error {
		if len(data) != int(recordType) {
			t.Fatalf("record %d has length %d", recordType, len(data))
		}
		if head := loadAcquire32(ring.words.head); head != 0 && len(seen) < 4 {
			t.Fatalf("head %d stored during the first batch", head)
		}
		seen = append(seen, recordType)
		return nil
	}
	if handled, err := consumer.Poll(collect, 4); handled != 4 || err != nil {
		t.Fatalf("Poll(limit 4) = %d, %v", handled, err)
	}
	if head := loadAcquire32(ring.words.head); head != consumer.readPosition {
		t.Fatalf("head %d not released to %d after the batch", head, consumer.readPosition)
	}
	if handled, err := consumer.Poll(collect, 0); handled != 6 || err != nil {
		t.Fatalf("Poll(all) = %d, %v", handled, err)
	}
	for i, recordType := range seen {
		if recordType != uint16(i) {
			t.Fatalf("order %v", seen)
		}
	}
}

// A failing handler's record is consumed with the ones before it, as when a TypeScript poll
// handler throws: redelivering it would hand a poison record to every retry, forever.
func TestPollHandlerErrorConsumesTheRecord(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	plantPositions(ring, 200, 200) // so that the second record wraps behind padding
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, make([]byte, 8))
	mustWrite(t, producer, 2, make([]byte, 40)) // padding at 216, record at 0
	mustWrite(t, producer, 3, make([]byte, 8))
	refuse := errors.New("poison")
	var seen []uint16
	handled, err := consumer.Poll(func(recordType uint16, data []byte) error {
		seen = append(seen, recordType)
		if recordType == 2 {
			return refuse
		}
		return nil
	}, 0)
	if handled != 1 || err != refuse || len(seen) != 2 {
		t.Fatalf("Poll = %d, %v (handler saw types %v); want 1 handled before the error, the error as is", handled, err, seen)
	}
	// Record 1 (200..216), the padding (216..256) and record 2 (256..304) are released.
	if head := loadAcquire32(ring.words.head); head != 304 {
		t.Fatalf("head %d; want 304, past the failed record", head)
	}
	if record := mustRead(t, consumer); record.Type != 3 {
		t.Fatalf("after the failed record: type %d; want 3 (the failed record is not redelivered)", record.Type)
	}
}

func TestTryReadKeepsViewsUntilRelease(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, []byte("first"))
	mustWrite(t, producer, 2, []byte("second"))
	first := mustRead(t, consumer)
	second := mustRead(t, consumer)
	if head := loadAcquire32(ring.words.head); head != 0 {
		t.Fatalf("head %d before Release", head)
	}
	if string(first.Data) != "first" || string(second.Data) != "second" {
		t.Fatalf("views %q %q", first.Data, second.Data)
	}
	if cap(first.Data) != len(first.Data) {
		t.Fatal("a view's capacity reaches past its record")
	}
	if err := consumer.Release(); err != nil {
		t.Fatal(err)
	}
	if head := loadAcquire32(ring.words.head); head != 32 {
		t.Fatalf("head %d after Release; want 32", head)
	}
}

func TestReadReturnsEndOfStreamAfterDraining(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishManual})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, []byte("a"))
	mustWrite(t, producer, 2, []byte("b"))
	if err := producer.Close(); err != nil { // publishes, then CLOSED
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, want := range []string{"a", "b"} {
		record, err := consumer.Read(ctx)
		if err != nil || string(record.Data) != want {
			t.Fatalf("Read = %q, %v; want %q", record.Data, err, want)
		}
		consumer.Release()
	}
	_, err := consumer.Read(ctx)
	if !errors.Is(err, ErrEndOfStream) || !errors.Is(err, io.EOF) {
		t.Fatalf("Read at the end = %v; want ErrEndOfStream (io.EOF)", err)
	}
	if err := consumer.Wait(ctx); !errors.Is(err, ErrEndOfStream) {
		t.Fatalf("Wait at the end = %v", err)
	}
}

func TestBlockingCallsObserveCancellation(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	consumer := mustConsumer(t, ring, ConsumerOptions{Wait: &WaitOptions{Spin: 0}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := consumer.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with a cancelled context = %v", err)
	}
	if err := consumer.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %v", err)
	}

	producer := mustProducer(t, ring, ProducerOptions{Wait: &WaitOptions{Spin: 0}})
	mustWrite(t, producer, 1, make([]byte, 248))
	if err := producer.Write(ctx, nil, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write to a full ring with a cancelled context = %v", err)
	}
	// A deadline that passes while parked (several park slices long).
	deadline, cancelDeadline := context.WithTimeout(context.Background(), 3*DefaultParkTimeout)
	defer cancelDeadline()
	if err := producer.Write(deadline, nil, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write past the deadline = %v", err)
	}
}

func TestWriteFailsOnceTheConsumerHasClosed(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, make([]byte, 248))
	if err := consumer.Close(); err != nil {
		t.Fatal(err)
	}
	err := producer.Write(context.Background(), nil, 2)
	expectError(t, err, ErrClosed, "consumer")
}
