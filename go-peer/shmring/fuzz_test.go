package shmring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// Fuzz tests over the two parsers of untrusted bytes: the file header (Open) and the records
// (the consumer, and the producer's view of head). The seed corpora are built in code.

// ringFileBytes returns a valid ring file's bytes with the given records written through the
// real producer, starting at position start (so that seeds include padding and wraps).
func ringFileBytes(f testing.TB, capacity, maxRecordLength, start uint32, payloadLengths ...int) []byte {
	path := filepath.Join(f.TempDir(), "seed")
	ring, err := Create(path, CreateOptions{Capacity: capacity, MaxRecordLength: maxRecordLength})
	if err != nil {
		f.Fatal(err)
	}
	plantPositions(ring, start, start)
	producer, err := ring.Producer(ProducerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	consumer, err := ring.Consumer(ConsumerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	for i, length := range payloadLengths {
		for written := false; !written; {
			if written, err = producer.TryWrite(patterned(length, byte(i)), uint16(i)); err != nil {
				f.Fatal(err)
			}
			if !written { // make room
				consumer.Poll(func(uint16, []byte) error { return nil }, 1)
			}
		}
	}
	ring.Close()
	contents, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return contents
}

// drainUntrusted reads everything a (possibly corrupt) ring offers, checking every view, and
// returns when it is empty or corrupt. It cannot loop forever: every successful step advances
// readPosition by at least 8 bytes and at most capacity bytes are ever in flight.
func drainUntrusted(t *testing.T, ring *Ring, consumer *Consumer) {
	for step := uint32(0); step <= ring.capacity/8+1; step++ {
		record, ok, err := consumer.TryRead()
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		if !ok {
			return
		}
		checkRecordInBounds(t, ring, record)
	}
	t.Fatalf("read more than capacity/8 records from a ring of %d bytes", ring.capacity)
}

// controlBlocksEnd is where the last header block that holds anything ends; the rest of the
// header up to headerLength is reserved zeros.
const controlBlocksEnd = 5 * 128

// fileFromFuzzInput lays out a file from a fuzzer's (header, data) pair: a header of at least 640
// bytes is padded with zeros to headerLength and followed by data; a shorter one is the whole file
// (truncated files). Keeping the reserved zeros out of the input keeps inputs small, which keeps
// the fuzzer's minimization fast.
func fileFromFuzzInput(header, data []byte) []byte {
	if len(header) < controlBlocksEnd {
		return header
	}
	file := make([]byte, int(headerLength)+len(data))
	copy(file, header[:controlBlocksEnd])
	copy(file[headerLength:], data)
	return file
}

func fuzzInputFromFile(file []byte) (header, data []byte) {
	if len(file) < int(headerLength) {
		return file, nil
	}
	return file[:controlBlocksEnd], file[headerLength:]
}

// fuzzOpenSeeds are valid ring files written by the real producer, and edits of them.
func fuzzOpenSeeds(f testing.TB) [][]byte {
	valid := ringFileBytes(f, 256, 100, 0, 10, 0, 100, 37)
	seeds := [][]byte{
		valid,
		ringFileBytes(f, 256, 248, 200, 40, 248, 3),   // padding and a max-size record
		ringFileBytes(f, 64, 56, 0xFFFFFFF0, 1, 2, 3), // positions wrapping through 2^32
		valid[:4096+128], // data area truncated
		valid[:64],       // header truncated
		{},
	}
	edited := func(offset, value uint32) []byte {
		file := append([]byte(nil), valid...)
		binary.LittleEndian.PutUint32(file[offset:], value)
		return file
	}
	return append(seeds,
		edited(readyOffset, 0), edited(versionOffset, 2), edited(capacityOffset, 128),
		edited(maxRecordLengthOffset, 300), edited(tailOffset, 0x7FFFFFF8), edited(headOffset, 12),
		edited(headerLength, 0xFFFFFFF0), edited(headerLength+4, 0x10000), edited(headerLength+4, paddingType),
	)
}

// openRegion is Open without the file: the same header validation against the region's size,
// then a Ring over an 8-aligned copy of the bytes. The fuzzer runs this rather than Open because
// file I/O per input would make it some hundred times slower; TestOpenAgreesWithOpenRegion runs
// the seed corpus through both and requires the same verdicts.
func openRegion(contents []byte) (*Ring, error) {
	var header []byte
	if len(contents) >= int(blockLength) {
		header = contents[:blockLength]
	}
	ringGeometry, err := validateHeader(header, int64(len(contents)))
	if err != nil {
		return nil, err
	}
	words := make([]uint64, (len(contents)+7)/8)
	region := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(contents))
	copy(region, contents)
	return newRing("fuzz", nil, region, ringGeometry), nil
}

func FuzzOpen(f *testing.F) {
	for _, seed := range fuzzOpenSeeds(f) {
		header, data := fuzzInputFromFile(seed)
		f.Add(header, data)
	}
	f.Fuzz(func(t *testing.T, header, data []byte) {
		if len(data) > 1<<16 {
			return // larger rings add nothing but time
		}
		contents := fileFromFuzzInput(header, data)
		ring, err := openRegion(contents)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrNotReady) {
				t.Fatalf("refusal not wrapping ErrFormat/ErrNotReady: %v", err)
			}
			return
		}
		if int64(ring.capacity)+int64(headerLength) != int64(len(contents)) || ring.maxRecordLength > ring.capacity-8 {
			t.Fatalf("accepted capacity %d maxRecordLength %d for a file of %d bytes", ring.capacity, ring.maxRecordLength, len(contents))
		}
		// The roles' parsing, without their file lock and heartbeat goroutine.
		consumer := newConsumer(ring, ConsumerOptions{})
		if err := consumer.adoptPositions(); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("attach consumer: %v", err)
			}
			return
		}
		drainUntrusted(t, ring, consumer)
		producer := newProducer(ring, ProducerOptions{})
		if err := producer.adoptPositions(); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("attach producer: %v", err)
			}
			return
		}
		for i := 0; i < 4; i++ {
			if _, err := producer.TryWrite(make([]byte, min(i*40, int(ring.maxRecordLength))), 1); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("TryWrite: %v", err)
			}
		}
	})
}

func TestOpenAgreesWithOpenRegion(t *testing.T) {
	directory := t.TempDir()
	for i, seed := range fuzzOpenSeeds(t) {
		// Through the fuzzer's own layout, as FuzzOpen sees it.
		contents := fileFromFuzzInput(fuzzInputFromFile(seed))
		path := filepath.Join(directory, fmt.Sprint(i))
		if err := os.WriteFile(path, contents, 0o600); err != nil {
			t.Fatal(err)
		}
		fromFile, fileErr := Open(path)
		if fileErr == nil {
			fromFile.Close()
		}
		fromRegion, regionErr := openRegion(contents)
		var fileDetail, regionDetail *Error
		errors.As(fileErr, &fileDetail)
		errors.As(regionErr, &regionDetail)
		switch {
		case (fileErr == nil) != (regionErr == nil):
			t.Fatalf("seed %d: Open says %v, openRegion says %v", i, fileErr, regionErr)
		case fileErr != nil && (fileDetail == nil || regionDetail == nil || fileDetail.Field != regionDetail.Field || fileDetail.Err != regionDetail.Err):
			t.Fatalf("seed %d: Open says %v, openRegion says %v", i, fileErr, regionErr)
		case fileErr == nil && (fromFile.capacity != fromRegion.capacity || fromFile.maxRecordLength != fromRegion.maxRecordLength):
			t.Fatalf("seed %d: geometries differ", i)
		}
	}
}

func FuzzConsume(f *testing.F) {
	const capacity, maxRecordLength = 256, 200
	record := func(length, recordType uint32) []byte { // header, then a zero payload (at most the capacity)
		header := make([]byte, 8)
		binary.LittleEndian.PutUint32(header, length)
		binary.LittleEndian.PutUint32(header[4:], recordType)
		return append(header, make([]byte, min(uint64(length+7)&^7, capacity))...)
	}
	concat := func(parts ...[]byte) []byte {
		var all []byte
		for _, part := range parts {
			all = append(all, part...)
		}
		return all
	}
	f.Add(uint32(0), uint32(0), []byte{})
	f.Add(uint32(0), uint32(48), concat(record(5, 1), record(16, 2), record(0, 0xFFFF)))
	f.Add(uint32(0), uint32(256), concat(record(200, 1), record(40, 2)))
	f.Add(uint32(0), uint32(16), record(201, 1))
	f.Add(uint32(0), uint32(16), record(4, 0x10000))
	f.Add(uint32(0), uint32(256), record(248, paddingType))
	f.Add(uint32(0), uint32(16), record(0xFFFFFFF8, 1))
	f.Add(uint32(0), uint32(12), record(0, 1))
	f.Add(uint32(0), uint32(264), []byte{})
	f.Add(uint32(0xFFFFFFF0), uint32(0x10), record(8, 1))

	ring, err := Create(filepath.Join(f.TempDir(), "ring"), CreateOptions{Capacity: capacity, MaxRecordLength: maxRecordLength})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ring.Close() })
	f.Fuzz(func(t *testing.T, head, tail uint32, dataArea []byte) {
		// The fuzzer's bytes are the data area as the consumer's first offset sees it.
		for i := range ring.data {
			ring.data[i] = 0
		}
		offset := head & ring.mask
		for i, value := range dataArea[:min(len(dataArea), capacity)] {
			ring.data[(offset+uint32(i))&ring.mask] = value
		}
		plantPositions(ring, head, tail)
		// Roles without the OFD lock (one ring reused for every input): the parsing is the same.
		consumer := newConsumer(ring, ConsumerOptions{})
		if err := consumer.adoptPositions(); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		drainUntrusted(t, ring, consumer)
		handled, err := consumer.Poll(func(recordType uint16, data []byte) error {
			checkRecordInBounds(t, ring, Record{recordType, data})
			return nil
		}, 0)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Poll: %v", err)
		}
		_ = handled

		producer := newProducer(ring, ProducerOptions{})
		if err := producer.adoptPositions(); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		for length := 0; length <= maxRecordLength; length += 67 {
			buffer, err := producer.TryClaim(length, uint16(length))
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatal(err)
				}
				return
			}
			if buffer != nil {
				checkRecordInBounds(t, ring, Record{0, buffer})
				producer.Commit()
			}
		}
	})
}
