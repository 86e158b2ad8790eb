package shmring

import (
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

// TestStoreSeqCstThenLoadIsNotReordered is the store-buffering litmus test behind the waiting
// protocol (FORMAT.md §6): in each round two goroutines each store to their own word with
// storeSeqCst32 and then load the other's word with loadSeqCst32. Under sequential consistency at
// least one of them sees the other's store; neither seeing it is exactly how a notifier and a
// waiter miss each other and a wake-up is lost. (Under `go test -race` atomic.StoreUint32 is a
// release store and failed this in 628 of 100000 rounds; see storeSeqCst32.)
func TestStoreSeqCstThenLoadIsNotReordered(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two threads running at once")
	}
	ring := newTestRing(t, 4096, 1024)
	rounds := 100000
	if testing.Short() {
		rounds = 10000
	}
	// The two words of a round live in the data area of a real ring file mapping, 128 bytes apart
	// as the protocol's words are. Round r stores r, so a slot reused every `slots` rounds needs no
	// reset: a value below r is "not seen this round".
	const slots = 8
	word := func(id, r int) *uint32 {
		return (*uint32)(unsafe.Pointer(&ring.data[(r%slots)*256+id*128]))
	}
	var arrived [2]uint32
	sawOther := [2][]bool{make([]bool, rounds), make([]bool, rounds)}
	side := func(id int) {
		for r := 1; r <= rounds; r++ {
			// Two-party barrier, so that both sides run the round at about the same time.
			storeSeqCst32(&arrived[id], uint32(r))
			for spins := 1; loadSeqCst32(&arrived[1-id]) < uint32(r); spins++ {
				if spins%1024 == 0 {
					osYield() // the peer's thread may be waiting for this core
				}
			}
			storeSeqCst32(word(id, r), uint32(r))
			sawOther[id][r-1] = loadSeqCst32(word(1-id, r)) == uint32(r)
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); side(0) }()
	go func() { defer wg.Done(); side(1) }()
	wg.Wait()
	both := 0
	for r := range sawOther[0] {
		if !sawOther[0][r] && !sawOther[1][r] {
			both++
		}
	}
	if both != 0 {
		t.Fatalf("in %d of %d rounds neither side saw the other's store: storeSeqCst32 followed by loadSeqCst32 was reordered", both, rounds)
	}
}
