//go:build !linux

package shmring

// Ring files rely on Linux facilities: futex(2) on a shared mapping for cross-process wake-ups and
// open file description (F_OFD_SETLK) locks for the producer and consumer roles.
var _ = shmring_requires_linux_futex_and_OFD_locks
