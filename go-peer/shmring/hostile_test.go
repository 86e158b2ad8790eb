package shmring

import (
	"errors"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// A hostile or broken peer can write anything into shared memory at any time. These tests scribble
// random positions and record headers while the other side runs, and require every outcome to be
// a record inside the data area, full/empty, or an error wrapping ErrCorrupt: never a panic, never
// a slice outside the ring, never a hang (nothing below blocks).

// checkRecordInBounds fails the test unless data lies inside the data area and within limits.
func checkRecordInBounds(t *testing.T, ring *Ring, record Record) {
	t.Helper()
	if uint32(len(record.Data)) > ring.maxRecordLength || cap(record.Data) != len(record.Data) {
		t.Fatalf("record of length %d (cap %d) exceeds maxRecordLength %d", len(record.Data), cap(record.Data), ring.maxRecordLength)
	}
	if len(record.Data) == 0 {
		return
	}
	start := uintptr(unsafe.Pointer(&record.Data[0])) - uintptr(unsafe.Pointer(&ring.data[0]))
	if start < uintptr(recordHeaderLength) || start+uintptr(len(record.Data)) > uintptr(len(ring.data)) {
		t.Fatalf("record view [%d, %d) is outside the data area of %d bytes", start, start+uintptr(len(record.Data)), len(ring.data))
	}
}

// scribble writes random values into the words and bytes a peer could corrupt: the peer's position
// word, and record headers, half of them just past near (where the victim is reading).
// Plausible positions are near the other position: ahead of it for a tail (ahead = true), behind
// it for a head, so that the victim also walks through garbage records that pass the position
// checks.
func scribble(random *rand.Rand, ring *Ring, position, near *uint32, ahead bool) {
	word := func(offset uint32) *uint32 { return (*uint32)(unsafe.Pointer(&ring.data[offset&^3])) }
	switch random.Intn(6) {
	case 0: // any value at all
		storeSeqCst32(position, random.Uint32())
	case 1: // plausible: 8-aligned, within capacity of the other position
		distance := uint32(random.Intn(int(ring.capacity/8)+1)) * 8
		if !ahead {
			distance = -distance
		}
		storeSeqCst32(position, loadAcquire32(near)+distance)
	case 2: // misaligned
		storeSeqCst32(position, loadAcquire32(position)|uint32(1+random.Intn(7)))
	default: // a record header somewhere: huge, plausible or padding-like lengths; any type
		offset := uint32(random.Intn(len(ring.data)/8)) * 8
		if random.Intn(2) == 0 {
			offset = (loadAcquire32(near) + uint32(random.Intn(8))*8) & ring.mask &^ 7
		}
		lengths := []uint32{random.Uint32(), uint32(random.Intn(int(ring.maxRecordLength) + 16)), ring.capacity - offset - 8, 0xFFFFFFF8}
		types := []uint32{random.Uint32(), uint32(random.Intn(0x10001)), paddingType}
		atomic.StoreUint32(word(offset), lengths[random.Intn(len(lengths))])
		atomic.StoreUint32(word(offset+4), types[random.Intn(len(types))])
	}
}

func TestHostileProducerMemoryYieldsErrCorruptNeverAPanic(t *testing.T) {
	ring := newTestRing(t, 4096, 512)
	producer := mustProducer(t, ring, ProducerOptions{})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	for i := 0; i < 20; i++ { // some honest records first
		mustWrite(t, producer, uint16(i), patterned(i*10, byte(i)))
	}

	var scribblerDone atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		random := rand.New(rand.NewSource(1))
		for i := 0; i < int(stressCount(2000, 20000)); i++ {
			scribble(random, ring, ring.words.tail, ring.words.head, true)
		}
		storeSeqCst32(ring.words.tail, loadAcquire32(ring.words.tail)|4) // end on a certainly corrupt tail
		scribblerDone.Store(true)
	}()

	corrupt, records := 0, 0
	for iteration := 0; ; iteration++ {
		done := scribblerDone.Load()
		var err error
		if iteration%2 == 0 {
			var record Record
			var ok bool
			record, ok, err = consumer.TryRead()
			if ok {
				records++
				checkRecordInBounds(t, ring, record)
			}
		} else {
			_, err = consumer.Poll(func(recordType uint16, data []byte) error {
				records++
				checkRecordInBounds(t, ring, Record{recordType, data})
				return nil
			}, 0)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error not wrapping ErrCorrupt: %v", err)
		}
		if err != nil {
			corrupt++
			if done {
				break // the final, certainly corrupt tail was reached
			}
		}
		consumer.Release()
	}
	wg.Wait()
	if corrupt == 0 {
		t.Fatal("no ErrCorrupt while a peer scribbled")
	}
	t.Logf("%d records in bounds, %d ErrCorrupt", records, corrupt)
}

func TestHostileConsumerMemoryYieldsErrCorruptNeverAPanic(t *testing.T) {
	ring := newTestRing(t, 4096, 512)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishBatched})
	var scribblerDone atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		random := rand.New(rand.NewSource(2))
		for i := 0; i < int(stressCount(2000, 20000)); i++ {
			scribble(random, ring, ring.words.head, ring.words.tail, false)
		}
		storeSeqCst32(ring.words.head, loadAcquire32(ring.words.head)|4)
		scribblerDone.Store(true)
	}()
	payload := patterned(512, 1)
	corrupt := 0
	for length := 0; ; length = (length + 37) % 513 {
		done := scribblerDone.Load()
		_, err := producer.TryWrite(payload[:length], uint16(length))
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error not wrapping ErrCorrupt: %v", err)
		}
		if err != nil {
			corrupt++
			if done {
				break
			}
		}
	}
	wg.Wait()
	if corrupt == 0 {
		t.Fatal("no ErrCorrupt while a peer scribbled")
	}
}
