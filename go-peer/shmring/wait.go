//go:build linux

package shmring

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// Waiting without lost wake-ups, FORMAT.md §6. Both sides use the same two halves:
//
//   - the notifier, after it stores a position (or its final state), loads the peer's waiting flag
//     and, only if it is set, bumps the peer's doorbell and futex-wakes it: a side nobody waits on
//     pays one load of a line the peer rarely writes, and no syscall;
//   - the waiter reads the doorbell, sets its waiting flag, re-reads the position (and the peer's
//     state), and sleeps only while the doorbell still holds the value it read.
//
// The waiter's "store flag, load position" and the notifier's "store position, load flag" are all
// sequentially consistent, so at least one of the two loads sees the other side's store
// (store-buffering / Dekker). Either the waiter sees the new position and does not sleep, or the
// notifier sees the flag and bumps the doorbell, after which futex_wait returns at once (the
// kernel compares the word and enqueues atomically) or the wake reaches the sleeper.

const (
	// DefaultSpin is how many times a blocking call re-reads the peer's position before parking
	// when its options leave Wait nil. (TypeScript's default is 2000 polls; a Go spin iteration
	// also yields the processor every spinYieldEvery polls, so it waits longer per iteration.)
	DefaultSpin = 256
	// DefaultParkTimeout is the longest single futex sleep (the park slice, FORMAT.md §6; Node uses
	// the same 50 ms). Each slice re-stores the waiting flag and re-checks the position, the peer's
	// state and, after a slice nobody rang, the peer's liveness: a cancelled context or a dead peer
	// is noticed within one slice, and a wake-up lost to a planted flag costs at most one.
	DefaultParkTimeout = 50 * time.Millisecond
	// spinYieldEvery: while spinning, let other goroutines (maybe the peer, on a small machine)
	// run every so many iterations.
	spinYieldEvery = 32
)

// WaitOptions tune how a blocking call waits for its peer.
type WaitOptions struct {
	// Spin is how many times to re-read the peer's position before parking: 0 parks at once, as
	// spin: 0 does in TypeScript; negative is a usage error. DefaultSpin is what a nil *WaitOptions
	// gives.
	Spin int
	// ParkTimeout bounds one futex sleep, and so how late a cancelled context is noticed.
	// 0 selects DefaultParkTimeout.
	ParkTimeout time.Duration
	// NeverPark spins (yielding the processor every few iterations) for as long as it waits,
	// instead of parking after Spin iterations: the lowest latency, at the price of a busy core.
	NeverPark bool
	// WaitThroughPeerDeath keeps waiting when the peer died holding its role (its OFD lock is free
	// while its state says attached), for a successor to take over. By default such a wait ends
	// with an error wrapping ErrPeerDead.
	WaitThroughPeerDeath bool
}

// withDefaults resolves a side's options: nil (left out) is DefaultSpin and DefaultParkTimeout;
// a set Spin is kept as is, 0 included.
func (options *WaitOptions) withDefaults() WaitOptions {
	if options == nil {
		return WaitOptions{Spin: DefaultSpin, ParkTimeout: DefaultParkTimeout}
	}
	resolved := *options
	if resolved.ParkTimeout <= 0 {
		resolved.ParkTimeout = DefaultParkTimeout
	}
	return resolved
}

// check refuses what withDefaults cannot resolve, before a role is taken.
func (options *WaitOptions) check(op string) error {
	if options != nil && options.Spin < 0 {
		return usageError(op, "Wait.Spin %d is invalid; expected >= 0 (0 parks at once; a nil Wait spins DefaultSpin times)", options.Spin)
	}
	return nil
}

// waitWords are the words one side waits on: the peer's position and state, its own waiting flag
// and the doorbell the peer rings.
type waitWords struct {
	peerPosition, peerState, waiting, doorbell *uint32
	// peerPid and peerName describe the peer in an ErrPeerDead error; peerAlive asks its OFD lock.
	peerPid   *uint32
	peerName  string
	peerAlive func() (bool, error)
}

// waitStats count how parks ended (for tests and benchmarks; one goroutine owns them).
type waitStats struct {
	parks, parkTimeouts uint64
}

// notifyPeer is the notifier half: call it after every store of a position or of a final state.
// Any non-zero flag means "waiting" (a waiter stores exactly 1; Node agrees): a planted odd value
// costs a needless wake, never a lost one.
func notifyPeer(peerWaiting, peerDoorbell *uint32) error {
	if loadSeqCst32(peerWaiting) != 0 {
		addSeqCst32(peerDoorbell, 1)
		return futexWake(peerDoorbell)
	}
	return nil
}

// awaitPeer is the waiter half: it returns when the peer's position differs from seen
// (peerClosed false), when the peer's state is CLOSED (peerClosed true; the caller re-reads the
// position, which the peer stored before its state), or when ctx is done.
func awaitPeer(ctx context.Context, words waitWords, seen uint32, options WaitOptions, stats *waitStats) (peerClosed bool, err error) {
	done := ctx.Done()
	for i := 0; options.NeverPark || i < options.Spin; i++ {
		if loadAcquire32(words.peerPosition) != seen {
			return false, nil
		}
		if i%spinYieldEvery == spinYieldEvery-1 {
			if loadSeqCst32(words.peerState) == RoleClosed {
				return true, nil
			}
			if done != nil {
				select {
				case <-done:
					return false, ctx.Err()
				default:
				}
			}
			if i >= options.Spin {
				// Past the spin budget (NeverPark): give the CPU to other processes too. Gosched
				// only yields to goroutines; on a small machine the peer may be another process
				// waiting for this core, and a spinning waiter would starve it.
				osYield()
			} else {
				runtime.Gosched()
			}
		}
	}
	quietSlice := false
	for {
		if loadAcquire32(words.peerPosition) != seen {
			return false, nil
		}
		if loadSeqCst32(words.peerState) == RoleClosed {
			return true, nil
		}
		if done != nil {
			select {
			case <-done:
				return false, ctx.Err()
			default:
			}
		}
		if quietSlice && !options.WaitThroughPeerDeath {
			if err := checkPeerAlive(words); err != nil {
				return false, err
			}
		}
		expectedDoorbell := loadSeqCst32(words.doorbell)
		storeSeqCst32(words.waiting, 1)
		if loadSeqCst32(words.peerPosition) != seen || loadSeqCst32(words.peerState) == RoleClosed {
			storeSeqCst32(words.waiting, 0)
			continue
		}
		stats.parks++
		result, err := futexWait(words.doorbell, expectedDoorbell, options.ParkTimeout)
		storeSeqCst32(words.waiting, 0)
		if err != nil {
			return false, err
		}
		quietSlice = result == futexTimedOut
		if quietSlice {
			stats.parkTimeouts++
		}
	}
}

// checkPeerAlive returns an error wrapping ErrPeerDead if the peer's state says attached while no
// live holder has its OFD lock. State, lock, state again (with the pid): a holder that closes
// stores its state before it drops the lock, so only one that died leaves "attached" around a free
// lock.
func checkPeerAlive(words waitWords) error {
	if words.peerAlive == nil || loadSeqCst32(words.peerState) != RoleAttached {
		return nil
	}
	pid := loadRelaxed32(words.peerPid)
	alive, err := words.peerAlive()
	if err != nil || alive {
		return err
	}
	if loadSeqCst32(words.peerState) != RoleAttached || loadRelaxed32(words.peerPid) != pid {
		return nil
	}
	return &Error{
		Op:     "wait",
		Field:  words.peerName + "Pid",
		Value:  uint64(pid),
		Detail: fmt.Sprintf("the %s (last pid %d) died holding its role: its lock is free while %sState says attached", words.peerName, pid, words.peerName),
		Err:    ErrPeerDead,
	}
}
