// Every atomic access of the C++ side to shared memory, named for the ordering the protocol needs
// (docs/FORMAT.md §6, §7). No other file touches the mapping's control words with std::atomic or
// __atomic builtins, so this header, src/atomics.ts and go-peer/shmring/atomics.go are the whole ordering
// story of the project.
//
// Why builtins and not std::atomic<uint32_t>: the words live in memory we did not construct (an
// mmap of a file another process created, or a SharedArrayBuffer), so there is no std::atomic
// object to call. C++20's std::atomic_ref is the standard answer; the addon is C++17, so we use the
// GCC/Clang __atomic builtins on plain uint32_t, which are what atomic_ref compiles to.
//
// Why this works across processes: a lock-free atomic on a naturally aligned 4-byte word is
// "address-free" (C++ [atomics.lockfree]): the hardware instruction does not care which virtual
// address, or which process, names the physical memory. The static_assert below refuses a target
// where 4-byte atomics would need a lock (a lock in one process cannot protect another).
//
// Every pointer passed here must be 4-aligned and inside a live mapping; callers get them from
// shmring::header_word(), which checks the offset at compile time.
#ifndef SHMRING_ATOMICS_H
#define SHMRING_ATOMICS_H

#include <cstdint>

namespace shmring::atomics {

static_assert(__atomic_always_lock_free(sizeof(uint32_t), 0),
              "shmring needs lock-free (address-free) 4-byte atomics to share words across processes");

// Load-acquire of a position (tail, head) or of `ready`: every write its writer made before the
// matching store_release is visible to this thread after the load (FORMAT.md §7 steps 2, 4, 5).
inline uint32_t load_acquire(const uint32_t* word) {
  return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}

// Store-release of a position or of `ready`: publishes every earlier plain write (record bytes,
// metadata) to a load_acquire that reads this value.
// Hazard: a position store that the notifier of FORMAT.md §6 follows with its load of the peer's
// waiting flag must be store_seq_cst instead. Release-then-seq_cst-load may be reordered
// (StoreLoad), and then the waiter and the notifier can both miss each other's store: a lost
// wake-up, which native/test/futex_test.cc (Doorbell.*) reproduces with store_release.
inline void store_release(uint32_t* word, uint32_t value) {
  __atomic_store_n(word, value, __ATOMIC_RELEASE);
}

// Sequentially consistent load: one half of the waiting protocol's store-then-load (FORMAT.md §6).
// Acquire/release would let the waiter's "store flag; load tail" and the notifier's "store tail;
// load flag" both miss the other's store (store buffering); only a single total order forbids it.
inline uint32_t load_seq_cst(const uint32_t* word) {
  return __atomic_load_n(word, __ATOMIC_SEQ_CST);
}

// Sequentially consistent store: the other half of that store-then-load pair (waiting flags,
// role state words).
inline void store_seq_cst(uint32_t* word, uint32_t value) {
  __atomic_store_n(word, value, __ATOMIC_SEQ_CST);
}

// Sequentially consistent fetch-add, returning the previous value. Doorbell bumps: the bump must be
// ordered after the notifier's load of the waiting flag and before its futex_wake.
inline uint32_t fetch_add_seq_cst(uint32_t* word, uint32_t delta) {
  return __atomic_fetch_add(word, delta, __ATOMIC_SEQ_CST);
}

// Sequentially consistent compare-and-swap. Returns the value found (== expected when it swapped),
// like JS Atomics.compareExchange, so callers on both sides read the same way.
inline uint32_t compare_exchange_seq_cst(uint32_t* word, uint32_t expected, uint32_t desired) {
  __atomic_compare_exchange_n(word, &expected, desired, /*weak=*/false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return expected;  // on failure the builtin wrote the value found into `expected`
}

// Relaxed load: informational words (pids, heartbeats) and metadata read after ready was acquired.
// No ordering is needed, only the absence of tearing and of a C++ data race: another process may
// write these words at any time, and a plain load of racing memory is undefined behaviour.
inline uint32_t load_relaxed(const uint32_t* word) {
  return __atomic_load_n(word, __ATOMIC_RELAXED);
}

// Relaxed store: informational words, and metadata the creator writes before its store_release of
// `ready` (which orders them).
inline void store_relaxed(uint32_t* word, uint32_t value) {
  __atomic_store_n(word, value, __ATOMIC_RELAXED);
}

}  // namespace shmring::atomics

#endif  // SHMRING_ATOMICS_H
