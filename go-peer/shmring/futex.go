//go:build linux

package shmring

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futex(2) operations. FUTEX_PRIVATE_FLAG (128) is deliberately absent: a private futex is keyed
// by (mm, virtual address) and only wakes waiters of the same process, while a shared futex on a
// MAP_SHARED file mapping is keyed by (inode, page offset), so a wake from this process reaches a
// waiter in the Node addon, a C++ peer or another Go process mapping the same ring file.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

// futexWaitResult says why futexWait returned. None of them is an error: the caller always
// rechecks the condition it waits for.
type futexWaitResult int

const (
	futexWoken        futexWaitResult = iota // a wake, or a spurious return
	futexValueChanged                        // EAGAIN: the word no longer held expected when the kernel looked
	futexTimedOut                            // ETIMEDOUT
	futexInterrupted                         // EINTR: a signal arrived (Go's preemption signals do this)
)

// futexWait sleeps while *word == expected, for at most timeout (timeout <= 0: no limit). The
// kernel compares the word and enqueues the waiter atomically with respect to futexWake, which is
// what makes the doorbell protocol of FORMAT.md §6 free of lost wake-ups.
func futexWait(word *uint32, expected uint32, timeout time.Duration) (futexWaitResult, error) {
	var timeoutPointer unsafe.Pointer
	var relativeTimeout unix.Timespec
	if timeout > 0 {
		relativeTimeout = unix.NsecToTimespec(int64(timeout))
		timeoutPointer = unsafe.Pointer(&relativeTimeout)
	}
	// unix.Syscall6 (not RawSyscall) tells the scheduler this thread is blocked, so other
	// goroutines keep running while we sleep in the kernel.
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWaitOp,
		uintptr(expected), uintptr(timeoutPointer), 0, 0)
	switch errno {
	case 0:
		return futexWoken, nil
	case unix.EAGAIN:
		return futexValueChanged, nil
	case unix.ETIMEDOUT:
		return futexTimedOut, nil
	case unix.EINTR:
		return futexInterrupted, nil
	default:
		return futexWoken, fmt.Errorf("shmring: futex wait: %w", errno)
	}
}

// futexWake wakes every waiter sleeping on word, in any process that maps the same file.
func futexWake(word *uint32) error {
	const wakeAll = 1<<31 - 1
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWakeOp,
		wakeAll, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("shmring: futex wake: %w", errno)
	}
	return nil
}

// osYield gives up the processor to any runnable thread of any process (sched_yield(2)); a
// spinning waiter calls it so that a peer process on the same core can run.
func osYield() {
	unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
}
