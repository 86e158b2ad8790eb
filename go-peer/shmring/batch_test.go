//go:build linux

package shmring

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestWriteBatchPublishesOnceAcrossThe32BitWrap(t *testing.T) {
	ring := newTestRing(t, 1024, 256)
	start := uint32(0xFFFFFF00)
	plantPositions(ring, start, start)
	producer := mustProducer(t, ring, ProducerOptions{})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	const records = 20
	written, err := producer.WriteBatch(func(batch *BatchWriter) error {
		for n := 0; n < records; n++ {
			payload, err := batch.Claim(24, uint16(n))
			if err != nil || payload == nil {
				return fmt.Errorf("claim %d: %v (nil: %v)", n, err, payload == nil)
			}
			copy(payload, patterned(24, byte(n)))
			if tail := loadAcquire32(producer.tail); tail != start {
				return fmt.Errorf("tail moved to %d before the batch was published", tail)
			}
		}
		return nil
	})
	if err != nil || written != records {
		t.Fatalf("WriteBatch = %d, %v", written, err)
	}
	if tail := loadAcquire32(producer.tail); tail != start+records*32 {
		t.Fatalf("tail %d, want %d", tail, start+records*32)
	}
	read, err := consumer.ReadBatch(0, func(batch *BatchReader) error {
		for n := 0; batch.Next(); n++ {
			if batch.Type() != uint16(n) || !bytes.Equal(batch.Data(), patterned(24, byte(n))) {
				return fmt.Errorf("record %d: type %d data %v", n, batch.Type(), batch.Data())
			}
			if head := loadAcquire32(consumer.head); head != start {
				return fmt.Errorf("head moved to %d inside the batch", head)
			}
		}
		return nil
	})
	if err != nil || read != records {
		t.Fatalf("ReadBatch = %d, %v", read, err)
	}
	if head := loadAcquire32(consumer.head); head != start+records*32 {
		t.Fatalf("head %d, want %d", head, start+records*32)
	}
}

// A record that does not fit is nil; the wrap padding it needed stays in the batch (agrona #239).
func TestWriteBatchFullAndPadding(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 0, patterned(100, 0)) // [0, 112)
	mustWrite(t, producer, 1, patterned(100, 1)) // [112, 224)
	if _, err := consumer.ReadBatch(1, func(batch *BatchReader) error { batch.Next(); return nil }); err != nil {
		t.Fatal(err)
	}
	written, err := producer.WriteBatch(func(batch *BatchWriter) error {
		if payload, err := batch.Claim(8, 2); err != nil || payload == nil {
			return fmt.Errorf("first claim: %v", err)
		}
		if payload, err := batch.Claim(150, 3); err != nil || payload != nil {
			return fmt.Errorf("a record larger than the free start was claimed (%v)", err)
		}
		return nil
	})
	if err != nil || written != 1 {
		t.Fatalf("WriteBatch = %d, %v", written, err)
	}
	if tail := loadAcquire32(producer.tail); tail != 256 {
		t.Fatalf("tail %d: the padding was not published", tail)
	}
	var types []uint16
	if _, err := consumer.ReadBatch(0, func(batch *BatchReader) error {
		for batch.Next() {
			types = append(types, batch.Type())
		}
		return nil
	}); err != nil || fmt.Sprint(types) != "[1 2]" {
		t.Fatalf("read %v, %v; want [1 2]", types, err)
	}
}

func TestWriteBatchErrorPublishesNothingAndRefusesOtherWrites(t *testing.T) {
	ring := newTestRing(t, 256, 64)
	producer := mustProducer(t, ring, ProducerOptions{})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	failure := errors.New("stop")
	_, err := producer.WriteBatch(func(batch *BatchWriter) error {
		batch.Claim(8, 1)
		if _, err := producer.TryWrite([]byte{1}, 1); !errors.Is(err, ErrUsage) {
			t.Errorf("TryWrite inside a batch = %v, want ErrUsage", err)
		}
		if _, err := producer.WriteBatch(func(*BatchWriter) error { return nil }); !errors.Is(err, ErrUsage) {
			t.Errorf("nested WriteBatch = %v, want ErrUsage", err)
		}
		return failure
	})
	if !errors.Is(err, failure) || loadAcquire32(producer.tail) != 0 || producer.writePosition != 0 {
		t.Fatalf("err %v, tail %d, writePosition %d", err, loadAcquire32(producer.tail), producer.writePosition)
	}
	var kept *BatchWriter
	producer.WriteBatch(func(batch *BatchWriter) error { kept = batch; return nil })
	if _, err := kept.Claim(8, 1); !errors.Is(err, ErrUsage) {
		t.Fatalf("a BatchWriter used after WriteBatch returned: %v, want ErrUsage", err)
	}
	if ok, err := producer.WriteBatch(func(batch *BatchWriter) error {
		_, err := batch.Write([]byte("after"), 7)
		return err
	}); ok != 1 || err != nil {
		t.Fatalf("WriteBatch after an aborted one = %d, %v", ok, err)
	}
	record, ok, err := consumer.TryRead()
	if err != nil || !ok || record.Type != 7 || string(record.Data) != "after" {
		t.Fatalf("read %+v %v %v", record, ok, err)
	}
}

func TestReadBatchValidatesEveryRecord(t *testing.T) {
	ring := newTestRing(t, 256, 64)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, patterned(8, 1))
	mustWrite(t, producer, 2, patterned(8, 2))
	// Plant a length beyond maxRecordLength in the second record's header.
	ring.data[16] = 200
	read, err := consumer.ReadBatch(0, func(batch *BatchReader) error {
		for batch.Next() {
		}
		return nil
	})
	if read != 1 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadBatch over a corrupt record = %d, %v; want 1, ErrCorrupt", read, err)
	}
}
