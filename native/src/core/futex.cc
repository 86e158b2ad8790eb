#include "shmring/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>

#include "shmring/atomics.h"

// futex_waitv(2) arrived in Linux 5.16 (and its uapi header then); the syscall number is 449 in the
// unified table every architecture uses since 5.1. Declared here so that the core still compiles
// against older kernel headers, and then simply finds ENOSYS at run time.
#ifndef __NR_futex_waitv
#define __NR_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
#endif

namespace shmring {

namespace {

// Same layout as the uapi `struct futex_waitv` (not taken from the header, which may be too old).
struct FutexWaiter {
  uint64_t value;    // sleep only while the word equals this
  uint64_t address;  // user address of the 32-bit word
  uint32_t flags;    // FUTEX_32, optionally FUTEX_PRIVATE_FLAG
  uint32_t reserved;
};
static_assert(sizeof(FutexWaiter) == 24, "struct futex_waitv is 24 bytes");

// Waits longer than this are "forever": a timespec would overflow long before 2^63 ns, and nobody
// means 31 years.
constexpr double kForeverMs = 1e12;

// A CLOCK_MONOTONIC deadline: immune to wall-clock changes, and what futex_waitv takes.
struct Deadline {
  bool infinite = true;
  int64_t at_ns = 0;
};

int64_t monotonic_now_ns() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
}

Deadline deadline_after(double timeout_ms) {
  Deadline deadline;
  if (std::isnan(timeout_ms) || timeout_ms >= kForeverMs) return deadline;
  deadline.infinite = false;
  const int64_t timeout_ns = timeout_ms <= 0 ? 0 : static_cast<int64_t>(timeout_ms * 1e6);
  deadline.at_ns = monotonic_now_ns() + timeout_ns;
  return deadline;
}

struct timespec to_timespec(int64_t ns) {
  struct timespec spec;
  spec.tv_sec = static_cast<time_t>(ns / 1000000000);
  spec.tv_nsec = static_cast<long>(ns % 1000000000);  // NOLINT(runtime/int): timespec's type
  return spec;
}

// Time left until the deadline, never negative.
int64_t remaining_ns(const Deadline& deadline) {
  const int64_t left = deadline.at_ns - monotonic_now_ns();
  return left > 0 ? left : 0;
}

long futex_call(uint32_t* word, int op, uint32_t value, const struct timespec* timeout) {  // NOLINT
  return ::syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

// futex_waitv availability: probed by the first call, then remembered.
enum class Availability : int { kUnknown, kYes, kNo };
std::atomic<Availability> waitv_availability{Availability::kUnknown};
std::atomic<bool> waitv_forced_off{false};

bool cancelled(const uint32_t* cancel_word) { return atomics::load_seq_cst(cancel_word) != 0; }

}  // namespace

const char* wait_result_name(WaitResult result) {
  switch (result) {
    case WaitResult::kOk:
      return "ok";
    case WaitResult::kNotEqual:
      return "not-equal";
    case WaitResult::kTimedOut:
      return "timed-out";
    case WaitResult::kCancelled:
      return "cancelled";
  }
  return "ok";
}

Result<WaitResult> futex_wait(uint32_t* word, uint32_t expected, double timeout_ms) {
  const Deadline deadline = deadline_after(timeout_ms);
  for (;;) {
    struct timespec relative;
    const struct timespec* timeout = nullptr;
    if (!deadline.infinite) {
      // FUTEX_WAIT takes a relative timeout: recomputed on every pass so that an EINTR retry
      // waits only for what is left, never the whole timeout again.
      relative = to_timespec(remaining_ns(deadline));
      timeout = &relative;
    }
    // No FUTEX_PRIVATE_FLAG: see futex.h (cross-process doorbells).
    if (futex_call(word, FUTEX_WAIT, expected, timeout) == 0) return WaitResult::kOk;
    switch (errno) {
      case EAGAIN:
        return WaitResult::kNotEqual;
      case ETIMEDOUT:
        return WaitResult::kTimedOut;
      case EINTR:
        continue;  // a signal: sleep again for the time remaining (a zero remainder times out)
      default:
        return Error::system(errno, "futex(FUTEX_WAIT)", std::string());
    }
  }
}

Result<int> futex_wake(uint32_t* word, int count) {
  if (count <= 0) return 0;
  const long woken = futex_call(word, FUTEX_WAKE, static_cast<uint32_t>(count), nullptr);  // NOLINT
  if (woken < 0) return Error::system(errno, "futex(FUTEX_WAKE)", std::string());
  return static_cast<int>(woken);
}

Result<WaitResult> futex_wait_cancellable(uint32_t* word, uint32_t expected, uint32_t* cancel_word,
                                          double timeout_ms) {
  const Deadline deadline = deadline_after(timeout_ms);
  if (cancelled(cancel_word)) return WaitResult::kCancelled;

  if (futex_waitv_available()) {
    FutexWaiter waiters[2];
    waiters[0] = {expected, reinterpret_cast<uintptr_t>(word), FUTEX_32, 0};  // shared: ring word
    waiters[1] = {0, reinterpret_cast<uintptr_t>(cancel_word), FUTEX_32 | FUTEX_PRIVATE_FLAG, 0};
    const struct timespec absolute = to_timespec(deadline.at_ns);
    for (;;) {
      // Absolute CLOCK_MONOTONIC deadline: an EINTR retry needs no recomputation.
      const long woken = ::syscall(__NR_futex_waitv, waiters, 2, 0,  // NOLINT(runtime/int)
                                   deadline.infinite ? nullptr : &absolute, CLOCK_MONOTONIC);
      if (woken >= 0) return cancelled(cancel_word) ? WaitResult::kCancelled : WaitResult::kOk;
      const int errnum = errno;
      if (errnum == EINTR) continue;
      if (errnum == ENOSYS || errnum == EPERM) {
        // Kernel older than 5.16, or a seccomp filter that does not know the syscall (the probe
        // said yes, so only a filter installed since can get here).
        waitv_availability.store(Availability::kNo, std::memory_order_relaxed);
        break;
      }
      if (cancelled(cancel_word)) return WaitResult::kCancelled;
      if (errnum == EAGAIN) return WaitResult::kNotEqual;  // one of the two words differed
      if (errnum == ETIMEDOUT) return WaitResult::kTimedOut;
      return Error::system(errnum, "futex_waitv", std::string());
    }
  }

  // Fallback: slices of plain FUTEX_WAIT, rechecking the cancel word between them. futex_cancel
  // wakes `word` too in this mode, so a cancel is normally seen at once; one that lands between
  // our check and the kernel's enqueue is seen at the end of the slice.
  for (;;) {
    if (cancelled(cancel_word)) return WaitResult::kCancelled;
    double slice_ms = kCancelSliceMs;
    if (!deadline.infinite) {
      const double left_ms = static_cast<double>(remaining_ns(deadline)) / 1e6;
      if (left_ms < slice_ms) slice_ms = left_ms;
    }
    Result<WaitResult> slice = futex_wait(word, expected, slice_ms);
    if (!slice.ok()) return slice;
    if (cancelled(cancel_word)) return WaitResult::kCancelled;
    if (slice.value() != WaitResult::kTimedOut) return slice;
    if (!deadline.infinite && remaining_ns(deadline) == 0) return WaitResult::kTimedOut;
  }
}

void futex_cancel(uint32_t* cancel_word, uint32_t* word) {
  // Store before wake: the waiter's kernel compare of the cancel word (futex_waitv) or its recheck
  // (fallback) then either sees 1 or is already queued and gets the wake.
  atomics::store_seq_cst(cancel_word, 1);
  futex_call(cancel_word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, nullptr);
  if (!futex_waitv_available()) {
    // Fallback mode: the waiter sleeps on `word` alone. A spurious wake of the
    // other waiters of this doorbell is harmless: every waiter rechecks its condition (FORMAT.md §6).
    futex_call(word, FUTEX_WAKE, INT_MAX, nullptr);
  }
}

bool futex_waitv_available() {
  if (waitv_forced_off.load(std::memory_order_relaxed)) return false;
  Availability known = waitv_availability.load(std::memory_order_relaxed);
  if (known == Availability::kUnknown) {
    // Probe with a wait that cannot sleep: the word does not hold the expected value.
    uint32_t word = 1;
    FutexWaiter waiter = {0, reinterpret_cast<uintptr_t>(&word), FUTEX_32 | FUTEX_PRIVATE_FLAG, 0};
    const long result = ::syscall(__NR_futex_waitv, &waiter, 1, 0, nullptr, 0);  // NOLINT
    known = (result < 0 && (errno == ENOSYS || errno == EPERM)) ? Availability::kNo
                                                                  : Availability::kYes;
    waitv_availability.store(known, std::memory_order_relaxed);
  }
  return known == Availability::kYes;
}

void futex_force_waitv_fallback_for_testing(bool force) {
  waitv_forced_off.store(force, std::memory_order_relaxed);
}

}  // namespace shmring
