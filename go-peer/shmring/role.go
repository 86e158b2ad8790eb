//go:build linux

package shmring

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A role is one side of the ring. For ring files a role is held through an OFD write lock on one
// byte of the file (FORMAT.md §3): the kernel drops the lock when its holder's last descriptor of
// the open file description closes, including when the process dies to kill -9, so a crashed
// holder never leaves a stuck role, and "is the lock held" is the liveness test.
type role int

const (
	producerRole role = iota
	consumerRole
)

func (side role) String() string {
	if side == producerRole {
		return "producer"
	}
	return "consumer"
}

func (side role) lockOffset() int64 {
	if side == producerRole {
		return int64(producerLockOffset)
	}
	return int64(consumerLockOffset)
}

func (side role) other() role { return 1 - side }

// roleWords are one side's control words.
type roleWords struct {
	state, pid, heartbeat *uint32
}

func (r *Ring) roleWords(side role) roleWords {
	if side == producerRole {
		return roleWords{r.words.producerState, r.words.producerPid, r.words.producerHeartbeat}
	}
	return roleWords{r.words.consumerState, r.words.consumerPid, r.words.consumerHeartbeat}
}

func (r *Ring) holdsRoleLocked(side role) bool {
	if side == producerRole {
		return r.producer != nil
	}
	return r.consumer != nil
}

// lockRole takes side's OFD write lock without blocking. Called with r.mu held.
//
// OFD locks of one open file description never conflict with each other, so two roles taken
// through the same Ring would not be refused by the kernel: holdsRoleLocked refuses those.
// Another Ring opened on the same file (even in this process) has its own description and is
// refused by the kernel as it should be.
func (r *Ring) lockRole(side role) error {
	if r.closed {
		return closedError("attach "+side.String(), "the ring is closed")
	}
	if r.holdsRoleLocked(side) {
		return &Error{Op: "attach " + side.String(), Path: r.path, Field: side.String() + "Pid", Value: uint64(os.Getpid()),
			Detail: "(this process, through this Ring) already holds the " + side.String() + " role", Err: ErrLocked}
	}
	lock := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: side.lockOffset(), Len: 1}
	err := unix.FcntlFlock(r.file.Fd(), unix.F_OFD_SETLK, &lock)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		holderPid := loadRelaxed32(r.roleWords(side).pid)
		return &Error{Op: "attach " + side.String(), Path: r.path, Field: side.String() + "Pid", Value: uint64(holderPid),
			Detail: "holds the " + side.String() + " role", Err: ErrLocked}
	}
	if err != nil {
		return fmt.Errorf("shmring: attach %s %s: F_OFD_SETLK: %w", side, r.path, err)
	}
	return nil
}

func (r *Ring) unlockRole(side role) error {
	lock := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: side.lockOffset(), Len: 1}
	if err := unix.FcntlFlock(r.file.Fd(), unix.F_OFD_SETLK, &lock); err != nil {
		return fmt.Errorf("shmring: release %s role %s: %w", side, r.path, err)
	}
	return nil
}

// roleAlive reports whether some process holds side's lock.
func (r *Ring) roleAlive(side role) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, closedError("peer alive", "the ring is closed")
	}
	if r.holdsRoleLocked(side) {
		return true, nil // our own lock: F_OFD_GETLK would not report it as a conflict
	}
	lock := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: side.lockOffset(), Len: 1}
	if err := unix.FcntlFlock(r.file.Fd(), unix.F_OFD_GETLK, &lock); err != nil {
		return false, fmt.Errorf("shmring: peer alive %s: F_OFD_GETLK: %w", r.path, err)
	}
	return lock.Type != unix.F_UNLCK, nil
}

// ProducerAlive reports whether a live process (possibly this one) holds the producer role.
func (r *Ring) ProducerAlive() (bool, error) { return r.roleAlive(producerRole) }

// ConsumerAlive reports whether a live process (possibly this one) holds the consumer role.
func (r *Ring) ConsumerAlive() (bool, error) { return r.roleAlive(consumerRole) }

// attachment is what holding a role costs at run time: the published state, pid and a heartbeat
// refreshed about once a second by a goroutine, until detach.
type attachment struct {
	ring  *Ring
	side  role
	words roleWords

	stopHeartbeat chan struct{}
	heartbeatDone chan struct{}
	detachOnce    sync.Once
}

const heartbeatInterval = time.Second

func heartbeatNow() uint32 { return uint32(time.Now().Unix()) } // low 32 bits, as FORMAT.md says

// attachRole publishes side as attached. Called with r.mu held and the lock taken.
func (r *Ring) attachRole(side role) *attachment {
	held := &attachment{
		ring:          r,
		side:          side,
		words:         r.roleWords(side),
		stopHeartbeat: make(chan struct{}),
		heartbeatDone: make(chan struct{}),
	}
	storeRelaxed32(held.words.pid, uint32(os.Getpid()))
	storeRelaxed32(held.words.heartbeat, heartbeatNow())
	storeSeqCst32(held.words.state, RoleAttached)
	go held.refreshHeartbeat()
	return held
}

func (held *attachment) refreshHeartbeat() {
	defer close(held.heartbeatDone)
	ticker := time.NewTicker(heartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-held.stopHeartbeat:
			return
		case <-ticker.C:
			if held.beat() != nil {
				// The file was truncated: no heartbeat can be written any more, and the side's
				// next call reports ErrCorrupt. Stop beating rather than kill the process.
				<-held.stopHeartbeat
				return
			}
		}
	}
}

// beat publishes one heartbeat, guarded: this goroutine is the one access to the mapping that no
// caller of the package runs, so a fault here must not end the process (fault.go).
func (held *attachment) beat() (err error) {
	defer held.ring.recoverFault(guardMapping(), "heartbeat", &err)
	storeRelaxed32(held.words.heartbeat, heartbeatNow())
	return nil
}

// detach publishes finalState (DETACHED or CLOSED), clears the pid and releases the lock; the
// caller wakes the peer between setState and unlock. The heartbeat goroutine is stopped first:
// it writes into the mapping, which Ring.Close unmaps right after.
func (held *attachment) stopAndPublish(finalState uint32) {
	held.detachOnce.Do(func() {
		close(held.stopHeartbeat)
		<-held.heartbeatDone
	})
	storeRelaxed32(held.words.pid, 0)
	// Seq-cst: the peer's waiter stores its waiting flag and then loads this state (§6).
	storeSeqCst32(held.words.state, finalState)
}
