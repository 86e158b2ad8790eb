package shmring

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newTestRing creates a ring file in t.TempDir() and closes it when the test ends.
func newTestRing(t testing.TB, capacity, maxRecordLength uint32) *Ring {
	t.Helper()
	ring, err := Create(filepath.Join(t.TempDir(), "ring"), CreateOptions{Capacity: capacity, MaxRecordLength: maxRecordLength})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ring.Close() })
	return ring
}

// shmTestPath returns a unique /dev/shm path that is removed when the test ends.
func shmTestPath(t testing.TB) string {
	t.Helper()
	var random [6]byte
	if _, err := rand.Read(random[:]); err != nil {
		t.Fatal(err)
	}
	name := "shmring-go-test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + hex.EncodeToString(random[:])
	path, err := ShmPath(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return path
}

// plantPositions sets head and tail directly, as a previous producer and consumer would have left
// them, so that a test reaches wrap, padding and full states without writing laps of records.
// Call it before taking the roles (they adopt the positions on attach).
func plantPositions(ring *Ring, head, tail uint32) {
	storeSeqCst32(ring.words.head, head)
	storeSeqCst32(ring.words.tail, tail)
}

// plantRecordHeader writes a record header at offset in the data area.
func plantRecordHeader(ring *Ring, offset, length, recordType uint32) {
	binary.LittleEndian.PutUint32(ring.data[offset:], length)
	binary.LittleEndian.PutUint32(ring.data[offset+4:], recordType)
}

func mustProducer(t testing.TB, ring *Ring, options ProducerOptions) *Producer {
	t.Helper()
	producer, err := ring.Producer(options)
	if err != nil {
		t.Fatal(err)
	}
	return producer
}

func mustConsumer(t testing.TB, ring *Ring, options ConsumerOptions) *Consumer {
	t.Helper()
	consumer, err := ring.Consumer(options)
	if err != nil {
		t.Fatal(err)
	}
	return consumer
}

func mustWrite(t testing.TB, producer *Producer, recordType uint16, payload []byte) {
	t.Helper()
	written, err := producer.TryWrite(payload, recordType)
	if err != nil || !written {
		t.Fatalf("TryWrite(%d bytes) = %v, %v; want true, nil", len(payload), written, err)
	}
}

func mustRead(t testing.TB, consumer *Consumer) Record {
	t.Helper()
	record, ok, err := consumer.TryRead()
	if err != nil || !ok {
		t.Fatalf("TryRead = %v, %v; want a record", ok, err)
	}
	return record
}

func expectError(t testing.TB, err, sentinel error, messageParts ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v; want one wrapping %v", err, sentinel)
	}
	for _, part := range messageParts {
		if !strings.Contains(err.Error(), part) {
			t.Fatalf("error %q does not mention %q", err.Error(), part)
		}
	}
}

func patterned(length int, seed byte) []byte {
	payload := make([]byte, length)
	for i := range payload {
		payload[i] = seed + byte(i)
	}
	return payload
}
