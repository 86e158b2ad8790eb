package shmring

import "sync/atomic"

// Every atomic access of the Go peer to shared memory, named for the ordering the protocol needs
// (docs/FORMAT.md §6, §7). No other file calls sync/atomic on the mapping, so this file together
// with src/atomics.ts and native/include/shmring/atomics.h is the whole ordering story.
//
// Go's sync/atomic operations are sequentially consistent (the Go memory model: "all the atomic
// operations executed in a program behave as though executed in some sequentially consistent
// order"). Sequential consistency is at least as strong as acquire, release and relaxed, so each
// wrapper below satisfies the ordering in its name; the names record which ordering the protocol
// actually relies on, so that a reader can map this file onto the C++ one. One exception to that
// promise: race-detector builds run atomic.Store as a release store, so storeSeqCst32 is an
// exchange (see there). Plain (non-atomic) accesses are used only for record bytes, which the
// tail/head release-acquire pairs order.
//
// Every *uint32 passed here points into the mapping at a naturally aligned (4-byte) offset: the
// data area and the header are page-aligned and every field offset is a multiple of 4 (checked by
// TestLayoutSelfConsistent).

// loadAcquire32 reads a position (tail, head) or ready: everything its writer did before the
// matching storeRelease32 is visible after this load.
func loadAcquire32(word *uint32) uint32 { return atomic.LoadUint32(word) }

// storeRelease32 publishes ready: every earlier write (metadata) becomes visible to a loadAcquire32
// that reads this value. Positions (tail, head) are stored with storeSeqCst32: the notifier of
// FORMAT.md §6 loads the peer's waiting flag right after its position store, and a release store
// followed by a load may be reordered (StoreLoad), losing a wake-up. seq-cst is also a release.
func storeRelease32(word *uint32, value uint32) { atomic.StoreUint32(word, value) }

// loadSeqCst32 is one half of the waiting protocol's store-then-load (flag / position / state
// words), where acquire/release alone would allow both sides to miss each other's store.
func loadSeqCst32(word *uint32) uint32 { return atomic.LoadUint32(word) }

// storeSeqCst32 is the other half of the waiting protocol's store-then-load: positions (tail,
// head, which also publish or release record bytes), waiting flags, role state words.
//
// It is an exchange, not atomic.StoreUint32: under `go test -race` the race runtime performs
// atomic.StoreUint32 as a release store (__tsan_go_atomic32_store uses mo_release), a plain MOV on
// amd64, which a later load may pass; that lost a wake-up in TestStressGoroutinesOverARingFile
// and fails TestStoreSeqCstThenLoadIsNotReordered. An exchange is a read-modify-write (a locked
// XCHG on amd64, like the compiler's own StoreUint32 outside race builds), so the store-then-load
// order holds in every build.
func storeSeqCst32(word *uint32, value uint32) { atomic.SwapUint32(word, value) }

// addSeqCst32 bumps a doorbell; it returns the new value.
func addSeqCst32(word *uint32, delta uint32) uint32 { return atomic.AddUint32(word, delta) }

// casSeqCst32 is a sequentially consistent compare-and-swap; it reports whether it swapped.
func casSeqCst32(word *uint32, expected, value uint32) bool {
	return atomic.CompareAndSwapUint32(word, expected, value)
}

// loadRelaxed32 reads an informational word (pid, heartbeat): no ordering, only no tearing.
func loadRelaxed32(word *uint32) uint32 { return atomic.LoadUint32(word) }

// storeRelaxed32 writes an informational word (pid, heartbeat).
func storeRelaxed32(word *uint32, value uint32) { atomic.StoreUint32(word, value) }

// touchForWrite32 adds zero to a word: a write access that changes nothing and cannot lose a
// concurrent store to the same word (a read-modify-write), used only to pre-fault a page for
// writing where madvise(MADV_POPULATE_WRITE) is not available. Relaxed would do; Go offers seq-cst.
func touchForWrite32(word *uint32) { atomic.AddUint32(word, 0) }
