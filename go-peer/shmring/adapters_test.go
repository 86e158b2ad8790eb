package shmring

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
)

func TestWriterAndReaderCarryAByteStream(t *testing.T) {
	ring := newTestRing(t, 1024, 100)
	producer := mustProducer(t, ring, ProducerOptions{Wait: parkingWait})
	consumer := mustConsumer(t, ring, ConsumerOptions{Wait: parkingWait})
	// Larger than the ring, written in pieces larger than a record: ByteMode splits them.
	stream := make([]byte, 50000)
	FillStreamPayload(stream, 9, 9)

	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		writer := NewWriter(context.Background(), producer, 3, ByteMode)
		for offset := 0; offset < len(stream); offset += 777 {
			piece := stream[offset:min(offset+777, len(stream))]
			if written, err := writer.Write(piece); err != nil || written != len(piece) {
				writeErr = err
				return
			}
		}
		writeErr = producer.Close()
	}()
	received, err := io.ReadAll(NewReader(context.Background(), consumer))
	wg.Wait()
	if err != nil || writeErr != nil {
		t.Fatalf("read: %v; write: %v", err, writeErr)
	}
	if !bytes.Equal(received, stream) {
		t.Fatalf("received %d bytes, differing from the %d written", len(received), len(stream))
	}
}

func TestWriterRecordModeWritesOneRecordPerWrite(t *testing.T) {
	ring := newTestRing(t, 1024, 100)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	writer := NewWriter(context.Background(), producer, 42, RecordMode)
	if written, err := writer.Write([]byte("hello")); err != nil || written != 5 {
		t.Fatalf("Write = %d, %v", written, err)
	}
	if written, err := writer.Write(make([]byte, 101)); written != 0 {
		t.Fatalf("oversized Write = %d, %v", written, err)
	} else {
		expectError(t, err, ErrUsage, "101")
	}
	if record := mustRead(t, consumer); record.Type != 42 || string(record.Data) != "hello" {
		t.Fatalf("record %d %q", record.Type, record.Data)
	}
	if _, ok, _ := consumer.TryRead(); ok {
		t.Fatal("the refused write produced a record")
	}
}
