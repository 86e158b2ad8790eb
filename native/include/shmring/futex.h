// Linux futex(2) on a 32-bit word, for the doorbells of FORMAT.md §6.
//
// Never FUTEX_PRIVATE_FLAG on ring words: a private futex is keyed by (mm, address) and only wakes
// threads of the same process, while a shared futex on a MAP_SHARED file mapping is keyed by
// (inode, offset), so a wake from here reaches a waiter in another Node process, a C++ peer or the
// Go peer (go-peer/shmring/futex.go uses the same operations), and theirs reach ours.
//
// The kernel compares the word with `expected` and enqueues the waiter atomically with respect to
// FUTEX_WAKE; that atomicity is what makes the doorbell protocol free of lost wake-ups.
#ifndef SHMRING_FUTEX_H
#define SHMRING_FUTEX_H

#include <cstdint>

#include "shmring/error.h"

namespace shmring {

enum class WaitResult {
  kOk,         // woken (or a spurious return: callers always recheck their condition)
  kNotEqual,   // the word did not hold `expected` when the kernel looked
  kTimedOut,   // the timeout passed
  kCancelled,  // futex_wait_cancellable only: the cancel word was set
};

// "ok", "not-equal", "timed-out", "cancelled": the strings of JS Atomics.wait (and ours).
const char* wait_result_name(WaitResult result);

// Sleeps while *word == expected, for at most timeout_ms milliseconds (fractions allowed; NaN,
// +Infinity or 1e12 ms (31 years) and more: no limit; <= 0: only compare). EINTR is retried with the
// time remaining, so a signal never shortens or lengthens the wait. `word` must be 4-aligned
// (EINVAL otherwise, reported as an Error).
Result<WaitResult> futex_wait(uint32_t* word, uint32_t expected, double timeout_ms);

// Wakes at most `count` waiters (count <= 0 wakes none) sleeping on `word`, in any process mapping
// the same memory. Returns how many were woken.
Result<int> futex_wake(uint32_t* word, int count);

// Like futex_wait, but also returns kCancelled as soon as *cancel_word becomes non-zero through
// futex_cancel(). The cancel word is private to this process (e.g. inside a heap object).
//
// Uses futex_waitv(2) (Linux >= 5.16) on {word == expected, *cancel_word == 0}: the kernel checks
// both and enqueues atomically, so a cancel can never slip in between our check and the sleep.
// Where futex_waitv is missing (ENOSYS, or EPERM from a seccomp filter that predates it) it falls
// back to FUTEX_WAIT in slices of at most kCancelSliceMs, checking the cancel word between them;
// futex_cancel then also wakes `word` (a spurious wake for other waiters, harmless by protocol),
// and a cancel that races the start of a slice costs at most one slice.
Result<WaitResult> futex_wait_cancellable(uint32_t* word, uint32_t expected, uint32_t* cancel_word,
                                          double timeout_ms);

// Sets *cancel_word and wakes the futex_wait_cancellable sleeping on it (`word` is the word it
// waits on, woken too in the fallback mode).
void futex_cancel(uint32_t* cancel_word, uint32_t* word);

constexpr double kCancelSliceMs = 50;

// Whether futex_waitv is used (probed on first use). For tests: force the fallback.
bool futex_waitv_available();
void futex_force_waitv_fallback_for_testing(bool force);

}  // namespace shmring

#endif  // SHMRING_FUTEX_H
