//go:build linux

package shmring

import (
	"time"

	"golang.org/x/sys/unix"
)

// Stats is a snapshot of a ring's shared state, for monitoring. The words are read one at a time
// while the peers run, so the snapshot is not atomic as a whole.
type Stats struct {
	Path            string `json:"path"`
	Capacity        uint32 `json:"capacity"`
	MaxRecordLength uint32 `json:"maxRecordLength"`
	CreatorPid      uint32 `json:"creatorPid"`
	Head            uint32 `json:"head"`
	Tail            uint32 `json:"tail"`
	// BytesInFlight is tail-head (wrapping): published bytes the consumer has not released. More
	// than Capacity means the positions are corrupt.
	BytesInFlight uint32 `json:"bytesInFlight"`
	// Seals are the file's memfd seals (F_GET_SEALS): 0x1 SEAL, 0x2 SHRINK, 0x4 GROW, 0x8 WRITE.
	// An anonymous sealed ring has SEAL|SHRINK|GROW (7): nobody can truncate it under a mapping.
	// An ordinary tmpfs file reports SEAL (1, never sealable), a disk file 0.
	Seals uint32 `json:"seals"`
	// Sealed: SHRINK and GROW are both set, so the file's size can never change under a mapping.
	Sealed   bool      `json:"sealed"`
	Producer RoleStats `json:"producer"`
	Consumer RoleStats `json:"consumer"`
}

// RoleStats describes one side.
type RoleStats struct {
	State     uint32 `json:"state"`
	StateName string `json:"stateName"`
	Pid       uint32 `json:"pid"`
	Heartbeat uint32 `json:"heartbeat"`
	// HeartbeatAgeSeconds is now - heartbeat in seconds, or -1 if no heartbeat was ever written.
	HeartbeatAgeSeconds int64  `json:"heartbeatAgeSeconds"`
	Waiting             bool   `json:"waiting"`
	Doorbell            uint32 `json:"doorbell"` // the doorbell this side waits on
	// Alive: some process holds this side's OFD lock. Unlike State, it is right after kill -9.
	Alive bool `json:"alive"`
}

// StateName names a role state value.
func StateName(state uint32) string {
	switch state {
	case RoleDetached:
		return "detached"
	case RoleAttached:
		return "attached"
	case RoleClosed:
		return "closed"
	default:
		return "invalid"
	}
}

// Stats reads the ring's shared state.
func (r *Ring) Stats() (_ Stats, err error) {
	producerAlive, err := r.roleAlive(producerRole)
	if err != nil {
		return Stats{}, err
	}
	consumerAlive, err := r.roleAlive(consumerRole)
	if err != nil {
		return Stats{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Stats{}, closedError("stats", "the ring is closed")
	}
	defer r.recoverFault(guardMapping(), "stats", &err)
	seals := r.seals()
	head := loadAcquire32(r.words.head)
	tail := loadAcquire32(r.words.tail)
	now := uint32(time.Now().Unix())
	side := func(words roleWords, waiting, doorbell *uint32, alive bool) RoleStats {
		state := loadSeqCst32(words.state)
		heartbeat := loadRelaxed32(words.heartbeat)
		age := int64(-1)
		if heartbeat != 0 {
			age = int64(int32(now - heartbeat)) // wrapping difference of low 32 bits
		}
		return RoleStats{
			State: state, StateName: StateName(state), Pid: loadRelaxed32(words.pid),
			Heartbeat: heartbeat, HeartbeatAgeSeconds: age,
			Waiting: loadSeqCst32(waiting) == 1, Doorbell: loadSeqCst32(doorbell), Alive: alive,
		}
	}
	return Stats{
		Path:            r.path,
		Capacity:        r.capacity,
		MaxRecordLength: r.maxRecordLength,
		CreatorPid:      r.creatorPid,
		Head:            head,
		Tail:            tail,
		BytesInFlight:   tail - head,
		Seals:           seals,
		Sealed:          seals&(unix.F_SEAL_SHRINK|unix.F_SEAL_GROW) == unix.F_SEAL_SHRINK|unix.F_SEAL_GROW,
		Producer:        side(r.roleWords(producerRole), r.words.producerWaiting, r.words.spaceDoorbell, producerAlive),
		Consumer:        side(r.roleWords(consumerRole), r.words.consumerWaiting, r.words.dataDoorbell, consumerAlive),
	}, nil
}

// seals reads the file's memfd seals (0 where the file system has none).
func (r *Ring) seals() uint32 {
	seals, err := unix.FcntlInt(r.file.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return 0
	}
	return uint32(seals)
}
