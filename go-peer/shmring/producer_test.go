package shmring

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Planted-position tests: each plants head and tail where a scenario happens (wrap, padding,
// full, exactly-fits) instead of writing laps of records to get there. Positions are planted near
// 2^32 where it matters, so the wrapping arithmetic is exercised too.

// nearWrap is a lap boundary 256 bytes before positions wrap to 0 (a variable: sums past 2^32 must wrap).
var nearWrap = uint32(0xFFFFFF00)

func fillData(ring *Ring, value byte) {
	for i := range ring.data {
		ring.data[i] = value
	}
}

func TestEmptyRingReadsNothing(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	if _, ok, err := consumer.TryRead(); ok || err != nil {
		t.Fatalf("TryRead on an empty ring = %v, %v", ok, err)
	}
	handled, err := consumer.Poll(func(uint16, []byte) error { t.Fatal("handler called"); return nil }, 0)
	if handled != 0 || err != nil {
		t.Fatalf("Poll on an empty ring = %d, %v", handled, err)
	}
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	mustWrite(t, producer, 7, []byte("one"))
	if record := mustRead(t, consumer); record.Type != 7 || string(record.Data) != "one" {
		t.Fatalf("read %d %q", record.Type, record.Data)
	}
	if _, ok, _ := consumer.TryRead(); ok {
		t.Fatal("a second record appeared")
	}
}

func TestFullRingReportsFullAndKeepsEveryRecord(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	for i := 0; i < 8; i++ { // 8 slots of 32 bytes: exactly the capacity
		mustWrite(t, producer, uint16(i), patterned(24, byte(i)))
	}
	if written, err := producer.TryWrite(nil, 99); written || err != nil {
		t.Fatalf("TryWrite on a full ring = %v, %v; want false, nil", written, err)
	}
	if buffer, err := producer.TryClaim(0, 99); buffer != nil || err != nil {
		t.Fatalf("TryClaim on a full ring = %v, %v; want nil, nil", buffer, err)
	}
	if tail := loadAcquire32(ring.words.tail); tail != 256 {
		t.Fatalf("tail %d; want 256", tail)
	}
	for i := 0; i < 8; i++ {
		if record := mustRead(t, consumer); record.Type != uint16(i) || !bytes.Equal(record.Data, patterned(24, byte(i))) {
			t.Fatalf("record %d: type %d data %x", i, record.Type, record.Data)
		}
	}
	if err := consumer.Release(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, producer, 99, nil) // room again
}

func TestRecordThatExactlyFitsAtTheEndNeedsNoPadding(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	plantPositions(ring, nearWrap+224, nearWrap+224) // offset 224: 32 bytes to the end
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, patterned(24, 1)) // slot 32: exactly to the end
	if length, recordType := binary.LittleEndian.Uint32(ring.data[224:]), binary.LittleEndian.Uint32(ring.data[228:]); length != 24 || recordType != 1 {
		t.Fatalf("record header at 224: length %d type %d", length, recordType)
	}
	mustWrite(t, producer, 2, nil) // continues at offset 0 of the next lap
	if tail := loadAcquire32(ring.words.tail); tail != nearWrap+256+8 {
		t.Fatalf("tail %#x; want %#x", tail, nearWrap+256+8)
	}
	if record := mustRead(t, consumer); record.Type != 1 || !bytes.Equal(record.Data, patterned(24, 1)) {
		t.Fatalf("first record %d %x", record.Type, record.Data)
	}
	if record := mustRead(t, consumer); record.Type != 2 || len(record.Data) != 0 {
		t.Fatalf("second record %d %x", record.Type, record.Data)
	}
}

func TestWrapWritesPaddingAndTheConsumerSkipsIt(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	plantPositions(ring, nearWrap+232, nearWrap+232) // offset 232: 24 bytes to the end
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 5, patterned(24, 5)) // slot 32 > 24: padding, then offset 0
	if length, recordType := binary.LittleEndian.Uint32(ring.data[232:]), binary.LittleEndian.Uint32(ring.data[236:]); length != 16 || recordType != paddingType {
		t.Fatalf("padding header at 232: length %d type %#x; want 16, padding", length, recordType)
	}
	if length := binary.LittleEndian.Uint32(ring.data[0:]); length != 24 {
		t.Fatalf("record at offset 0 has length %d", length)
	}
	if tail := loadAcquire32(ring.words.tail); tail != nearWrap+232+24+32 {
		t.Fatalf("tail %#x", tail)
	}
	if record := mustRead(t, consumer); record.Type != 5 || !bytes.Equal(record.Data, patterned(24, 5)) {
		t.Fatalf("record %d %x", record.Type, record.Data)
	}
	if err := consumer.Release(); err != nil {
		t.Fatal(err)
	}
	if head := loadAcquire32(ring.words.head); head != nearWrap+232+24+32 {
		t.Fatalf("head %#x", head)
	}
}

// agrona PR #239: when the record does not fit at the end and the start is still occupied, the
// padding must be written anyway, or the record can never be placed once the start drains.
func TestPaddingIsWrittenWhileTheStartIsStillOccupied(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	fillData(ring, 0xAA)
	// Unread: one record covering [32, 224). Free: [224, 256) and [0, 32).
	plantPositions(ring, nearWrap+32, nearWrap+224)
	plantRecordHeader(ring, 32, 184, 3)
	unread := append([]byte(nil), ring.data[32:224]...)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})

	if written, err := producer.TryWrite(patterned(40, 9), 9); written || err != nil { // slot 48
		t.Fatalf("TryWrite = %v, %v; want full", written, err)
	}
	if length, recordType := binary.LittleEndian.Uint32(ring.data[224:]), binary.LittleEndian.Uint32(ring.data[228:]); length != 24 || recordType != paddingType {
		t.Fatalf("padding at 224: length %d type %#x", length, recordType)
	}
	if tail := loadAcquire32(ring.words.tail); tail != nearWrap+256 {
		t.Fatalf("the padding was not published: tail %#x", tail)
	}
	if !bytes.Equal(ring.data[32:224], unread) {
		t.Fatal("unread data was overwritten")
	}
	if !bytes.Equal(ring.data[0:32], bytes.Repeat([]byte{0xAA}, 32)) {
		t.Fatal("the start was written although the record does not fit there")
	}

	if record := mustRead(t, consumer); record.Type != 3 || len(record.Data) != 184 {
		t.Fatalf("planted record: type %d length %d", record.Type, len(record.Data))
	}
	if _, ok, err := consumer.TryRead(); ok || err != nil { // skips the padding
		t.Fatalf("TryRead after the padding = %v, %v", ok, err)
	}
	if err := consumer.Release(); err != nil {
		t.Fatal(err)
	}
	if head := loadAcquire32(ring.words.head); head != 0 { // nearWrap+256 wraps to 0
		t.Fatalf("head %#x; want 0", head)
	}
	mustWrite(t, producer, 9, patterned(40, 9))
	if record := mustRead(t, consumer); record.Type != 9 || !bytes.Equal(record.Data, patterned(40, 9)) {
		t.Fatalf("record %d %x", record.Type, record.Data)
	}
}

// aeron PR #2015: when neither the end nor the start has room, the claim must fail without
// touching unread data.
func TestNeitherEndHasRoomOverwritesNothing(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	fillData(ring, 0xAA)
	// Unread: [128, 256) then [0, 64) of the next lap. Free: [64, 128), 64 bytes, and the end
	// (192 bytes from offset 64) is mostly unread.
	plantPositions(ring, nearWrap+128, nearWrap+256+64)
	plantRecordHeader(ring, 128, 120, 1)
	plantRecordHeader(ring, 0, 56, 2)
	before := append([]byte(nil), ring.data...)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})

	for _, length := range []int{200, 64, 120} { // needs padding of 192 > 64 free; slot 72 > 64; slot 128 > 64
		if written, err := producer.TryWrite(patterned(length, 9), 9); written || err != nil {
			t.Fatalf("TryWrite(%d) = %v, %v; want full", length, written, err)
		}
		if !bytes.Equal(ring.data, before) {
			t.Fatalf("TryWrite(%d) that reported full changed the data area", length)
		}
		if tail := loadAcquire32(ring.words.tail); tail != nearWrap+256+64 {
			t.Fatalf("tail moved to %#x", tail)
		}
	}
	mustWrite(t, producer, 3, patterned(56, 3)) // slot 64: exactly the free space
	if !bytes.Equal(ring.data[128:256], before[128:256]) || !bytes.Equal(ring.data[0:64], before[0:64]) {
		t.Fatal("a record that fit overwrote unread data")
	}
	for _, want := range []struct {
		recordType uint16
		length     int
	}{{1, 120}, {2, 56}, {3, 56}} {
		if record := mustRead(t, consumer); record.Type != want.recordType || len(record.Data) != want.length {
			t.Fatalf("record type %d length %d; want %d %d", record.Type, len(record.Data), want.recordType, want.length)
		}
	}
}

func TestMaxSizeAndZeroLengthRecords(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, patterned(248, 1)) // slot 256: the whole data area
	if written, _ := producer.TryWrite(nil, 2); written {
		t.Fatal("a zero-length record fit into a full ring")
	}
	if record := mustRead(t, consumer); !bytes.Equal(record.Data, patterned(248, 1)) {
		t.Fatal("max-size record damaged")
	}
	consumer.Release()
	for i := 0; i < 32; i++ { // 32 zero-length records of 8 bytes fill the ring
		mustWrite(t, producer, uint16(i), []byte{})
	}
	if written, _ := producer.TryWrite(nil, 2); written {
		t.Fatal("33rd zero-length record fit")
	}
	for i := 0; i < 32; i++ {
		if record := mustRead(t, consumer); record.Type != uint16(i) || len(record.Data) != 0 {
			t.Fatalf("zero-length record %d: type %d length %d", i, record.Type, len(record.Data))
		}
	}
	consumer.Release()

	_, err := producer.TryWrite(make([]byte, 249), 1)
	expectError(t, err, ErrUsage, "249")
	_, err = producer.TryClaim(-1, 1)
	expectError(t, err, ErrUsage)
}

func TestMaxSizeRecordAfterAnEmptyRingWithAnOffsetWrapsThroughPadding(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	plantPositions(ring, 8, 8)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	// Slot 256 needs offset 0: padding of 248 bytes first, then the ring is full until the consumer
	// skips that padding.
	if written, err := producer.TryWrite(patterned(248, 1), 1); written || err != nil {
		t.Fatalf("TryWrite = %v, %v; want full", written, err)
	}
	if _, ok, err := consumer.TryRead(); ok || err != nil {
		t.Fatalf("TryRead = %v, %v", ok, err)
	}
	// Only padding was read, so the consumer released it at once (no view can point into it).
	if head := loadAcquire32(ring.words.head); head != 256 {
		t.Fatalf("head %d after skipping padding; want 256", head)
	}
	mustWrite(t, producer, 1, patterned(248, 1))
	if record := mustRead(t, consumer); !bytes.Equal(record.Data, patterned(248, 1)) {
		t.Fatal("record damaged")
	}
}

func TestAbortWritesNothingAndMovesNothing(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	fillData(ring, 0xAA)
	plantPositions(ring, 232, 232)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})

	// A claim that needs padding: aborting it must not leave the padding behind.
	buffer, err := producer.TryClaim(24, 1)
	if err != nil || buffer == nil {
		t.Fatalf("TryClaim = %v, %v", buffer, err)
	}
	copy(buffer, "scribbled in the claim")
	if err := producer.Abort(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ring.data[232:240], bytes.Repeat([]byte{0xAA}, 8)) {
		t.Fatal("aborted claim left a padding header")
	}
	if producer.writePosition != 232 || loadAcquire32(ring.words.tail) != 232 {
		t.Fatalf("aborted claim moved writePosition %d / tail %d", producer.writePosition, loadAcquire32(ring.words.tail))
	}
	if records, pendingBytes := producer.Pending(); records != 0 || pendingBytes != 0 {
		t.Fatalf("pending %d records %d bytes after abort", records, pendingBytes)
	}

	again, err := producer.TryClaim(24, 2)
	if err != nil || &again[0] != &buffer[0] {
		t.Fatal("the claim after an abort got a different slot")
	}
	copy(again, patterned(24, 2))
	if err := producer.Commit(); err != nil {
		t.Fatal(err)
	}
	if record := mustRead(t, consumer); record.Type != 2 || !bytes.Equal(record.Data, patterned(24, 2)) {
		t.Fatalf("record %d %x", record.Type, record.Data)
	}
}

func TestClaimCommitAbortMisuse(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	expectError(t, producer.Commit(), ErrUsage, "no claimed record")
	expectError(t, producer.Abort(), ErrUsage, "no claimed record")
	if _, err := producer.TryClaim(8, 1); err != nil {
		t.Fatal(err)
	}
	_, err := producer.TryClaim(8, 1)
	expectError(t, err, ErrUsage, "still pending")
	_, err = producer.TryWrite(nil, 1)
	expectError(t, err, ErrUsage, "still pending")
	if err := producer.Commit(); err != nil {
		t.Fatal(err)
	}
	expectError(t, producer.Commit(), ErrUsage, "no claimed record")
}

func TestPublishPolicies(t *testing.T) {
	t.Run("batched by records", func(t *testing.T) {
		ring := newTestRing(t, 1024, 248)
		producer := mustProducer(t, ring, ProducerOptions{Publish: PublishBatched, BatchRecords: 3})
		mustWrite(t, producer, 1, nil)
		mustWrite(t, producer, 2, nil)
		if tail := loadAcquire32(ring.words.tail); tail != 0 {
			t.Fatalf("published early: tail %d", tail)
		}
		if records, pendingBytes := producer.Pending(); records != 2 || pendingBytes != 16 {
			t.Fatalf("pending %d %d", records, pendingBytes)
		}
		mustWrite(t, producer, 3, nil)
		if tail := loadAcquire32(ring.words.tail); tail != 24 {
			t.Fatalf("tail %d after the batch; want 24", tail)
		}
	})
	t.Run("batched by bytes", func(t *testing.T) {
		ring := newTestRing(t, 1024, 248)
		producer := mustProducer(t, ring, ProducerOptions{Publish: PublishBatched, BatchRecords: 100, BatchBytes: 64})
		mustWrite(t, producer, 1, make([]byte, 24))
		if tail := loadAcquire32(ring.words.tail); tail != 0 {
			t.Fatalf("published early: tail %d", tail)
		}
		mustWrite(t, producer, 2, make([]byte, 24))
		if tail := loadAcquire32(ring.words.tail); tail != 64 {
			t.Fatalf("tail %d; want 64", tail)
		}
	})
	t.Run("manual, and full publishes", func(t *testing.T) {
		ring := newTestRing(t, 256, 248)
		producer := mustProducer(t, ring, ProducerOptions{Publish: PublishManual})
		consumer := mustConsumer(t, ring, ConsumerOptions{})
		mustWrite(t, producer, 1, make([]byte, 100))
		if _, ok, _ := consumer.TryRead(); ok {
			t.Fatal("the consumer saw an unpublished record")
		}
		if err := producer.Flush(); err != nil {
			t.Fatal(err)
		}
		mustRead(t, consumer)
		mustWrite(t, producer, 2, make([]byte, 100))
		if written, _ := producer.TryWrite(make([]byte, 100), 3); written {
			t.Fatal("third record fit")
		}
		// Reporting full published the pending record: the consumer can make room.
		if tail := loadAcquire32(ring.words.tail); tail != producer.writePosition {
			t.Fatalf("tail %d, writePosition %d: full did not publish", tail, producer.writePosition)
		}
		mustRead(t, consumer)
	})
	t.Run("close publishes", func(t *testing.T) {
		ring := newTestRing(t, 256, 248)
		producer := mustProducer(t, ring, ProducerOptions{Publish: PublishManual})
		mustWrite(t, producer, 1, nil)
		if err := producer.Close(); err != nil {
			t.Fatal(err)
		}
		if tail := loadAcquire32(ring.words.tail); tail != 8 {
			t.Fatalf("tail %d after Close", tail)
		}
	})
}

func TestProducerContinuesFromThePublishedTail(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishManual})
	mustWrite(t, producer, 1, []byte("published"))
	producer.Flush()
	mustWrite(t, producer, 2, []byte("never published"))
	// A producer that dies with an unpublished batch: the next one continues from tail.
	producer.ring.mu.Lock()
	producer.held.stopAndPublish(RoleDetached)
	producer.ring.unlockRole(producerRole)
	producer.ring.producer = nil
	producer.left = true
	producer.ring.mu.Unlock()

	next := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	mustWrite(t, next, 3, []byte("next"))
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	if record := mustRead(t, consumer); string(record.Data) != "published" {
		t.Fatalf("first %q", record.Data)
	}
	if record := mustRead(t, consumer); record.Type != 3 || string(record.Data) != "next" {
		t.Fatalf("second %d %q", record.Type, record.Data)
	}
}

func TestProducerRefusesACorruptHead(t *testing.T) {
	ring := newTestRing(t, 256, 248)
	plantPositions(ring, 512, 64) // head ahead of tail
	_, err := ring.Producer(ProducerOptions{})
	expectError(t, err, ErrCorrupt, "head 512")

	plantPositions(ring, 0, 0)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	for written := true; written; {
		var err error
		if written, err = producer.TryWrite(make([]byte, 40), 1); err != nil {
			t.Fatal(err)
		}
	}
	storeSeqCst32(ring.words.head, 4) // not 8-aligned
	_, err = producer.TryWrite(make([]byte, 40), 1)
	expectError(t, err, ErrCorrupt, "head 4")
	storeSeqCst32(ring.words.head, producer.writePosition+8) // ahead of the producer
	_, err = producer.TryWrite(make([]byte, 40), 1)
	expectError(t, err, ErrCorrupt, "head")
}

// The largest ring: offsets near 2^30 and positions near 2^32 must not overflow any index
// arithmetic (rigtorp #49, aeron PR #2017). The file is sparse; only the touched pages exist.
func TestLargestCapacityWrapsCorrectly(t *testing.T) {
	ring := newTestRing(t, MaxCapacity, MaxCapacity-8)
	start := ^uint32(63) // 2^32-64: offset 2^30-64, 64 bytes before positions wrap to 0
	plantPositions(ring, start, start)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	mustWrite(t, producer, 1, patterned(40, 1))  // slot 48: fits before the end
	mustWrite(t, producer, 2, patterned(100, 2)) // 16 bytes left: padding, then offset 0
	if tail := loadAcquire32(ring.words.tail); tail != 112 {
		t.Fatalf("tail %d; want 112 (wrapped through 2^32)", tail)
	}
	for _, want := range []struct {
		recordType uint16
		payload    []byte
	}{{1, patterned(40, 1)}, {2, patterned(100, 2)}} {
		if record := mustRead(t, consumer); record.Type != want.recordType || !bytes.Equal(record.Data, want.payload) {
			t.Fatalf("record type %d length %d", record.Type, len(record.Data))
		}
	}
	_, err := producer.TryClaim(int(MaxCapacity), 1)
	expectError(t, err, ErrUsage)
}
