//go:build linux

package shmring

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Creation that is atomic at the name (FORMAT.md §3), as in the C++ core (ring_file.cc).

// buildLockOffset is the byte a creator write-locks (OFD) from the moment its file exists until it
// has its final name. No role uses it, so attaching never waits on it; a cleaner that can read-lock
// it knows the creator is gone (kill -9 included), whatever its pid was.
const buildLockOffset = 0

const temporaryPrefix = ".shmring-tmp-"

var temporaryCounter atomic.Uint32

// unnamedFile is a ring file under construction: unnamed (O_TMPFILE), or under a temporary name.
type unnamedFile struct {
	file          *os.File
	temporaryPath string // "" while the file has no name
}

func setByteLock(fd uintptr, lockType int16, offset int64) error {
	lock := unix.Flock_t{Type: lockType, Whence: 0, Start: offset, Len: 1}
	return unix.FcntlFlock(fd, unix.F_OFD_SETLK, &lock)
}

// newUnnamedFile makes the file a ring is built in, next to path, with exactly this mode.
func newUnnamedFile(path string, mode uint32) (*unnamedFile, error) {
	directory := filepath.Dir(path)
	removeAbandonedTemporaries(directory)
	built := &unnamedFile{}
	fd, err := unix.Open(directory, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, mode)
	switch {
	case err == nil:
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		// No O_TMPFILE on this file system: a temporary name, under the build lock.
		for attempt := 0; ; attempt++ {
			candidate := filepath.Join(directory, temporaryPrefix+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(uint64(temporaryCounter.Add(1)), 10))
			fd, err = unix.Open(candidate, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
			if err == nil {
				built.temporaryPath = candidate
				break
			}
			if !errors.Is(err, unix.EEXIST) || attempt == 16 {
				return nil, fmt.Errorf("shmring: create %s: %w", path, &os.PathError{Op: "open", Path: candidate, Err: err})
			}
		}
	default:
		return nil, fmt.Errorf("shmring: create %s: %w", path, &os.PathError{Op: "open O_TMPFILE", Path: directory, Err: err})
	}
	built.file = os.NewFile(uintptr(fd), path)
	if err := setByteLock(built.file.Fd(), unix.F_WRLCK, buildLockOffset); err != nil {
		built.discard()
		return nil, fmt.Errorf("shmring: create %s: build lock: %w", path, err)
	}
	if built.temporaryPath != "" {
		// A cleaner may have removed the name before the lock was taken (it saw no build lock).
		var opened, named unix.Stat_t
		if unix.Fstat(fd, &opened) != nil || unix.Lstat(built.temporaryPath, &named) != nil ||
			opened.Dev != named.Dev || opened.Ino != named.Ino {
			built.file.Close()
			return nil, fmt.Errorf("shmring: create %s: temporary %s was removed while being created: %w", path, built.temporaryPath, unix.EAGAIN)
		}
	}
	// Exactly the mode asked for: a umask of 0277 would otherwise leave a file its own creator
	// cannot reopen read-write.
	if err := unix.Fchmod(fd, mode); err != nil {
		built.discard()
		return nil, fmt.Errorf("shmring: create %s: fchmod: %w", path, err)
	}
	return built, nil
}

// publish gives the ready ring its name: link(2), which fails with EEXIST if path exists.
func (built *unnamedFile) publish(path string) error {
	var err error
	if built.temporaryPath == "" {
		procPath := "/proc/self/fd/" + strconv.Itoa(int(built.file.Fd()))
		err = unix.Linkat(unix.AT_FDCWD, procPath, unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
		if errors.Is(err, unix.ENOENT) { // no /proc: AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH
			err = unix.Linkat(int(built.file.Fd()), "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
		}
	} else {
		err = unix.Link(built.temporaryPath, path)
		if err == nil {
			unix.Unlink(built.temporaryPath)
			built.temporaryPath = ""
		}
	}
	if err != nil {
		return openError("create", path, &os.PathError{Op: "link", Path: path, Err: err})
	}
	// Named: the build lock has done its job.
	setByteLock(built.file.Fd(), unix.F_UNLCK, buildLockOffset)
	return nil
}

// discard closes a file that never got its name (and removes its temporary name, ours by O_EXCL).
func (built *unnamedFile) discard() {
	if built.temporaryPath != "" {
		unix.Unlink(built.temporaryPath)
	}
	built.file.Close()
}

// removeAbandonedTemporaries removes ".shmring-tmp-*" files of directory whose build lock is free:
// their creator died (temporaries of shmring versions before the build lock are removed too).
// Best effort: anything that cannot be opened or locked is left alone.
func removeAbandonedTemporaries(directory string) {
	entries, err := os.ReadDir(directory)
	if err != nil {
		return
	}
	for _, entry := range entries {
		if !strings.HasPrefix(entry.Name(), temporaryPrefix) || !entry.Type().IsRegular() {
			continue
		}
		name := filepath.Join(directory, entry.Name())
		fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err != nil {
			continue
		}
		var opened, named unix.Stat_t
		if unix.Fstat(fd, &opened) == nil && setByteLock(uintptr(fd), unix.F_RDLCK, buildLockOffset) == nil &&
			unix.Lstat(name, &named) == nil && opened.Dev == named.Dev && opened.Ino == named.Ino {
			unix.Unlink(name)
		}
		unix.Close(fd)
	}
}

// CreateAnonymous makes a ring in an anonymous sealed memfd: no name, so nobody can plant, replace
// or remove it, and sealed against shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW, then
// F_SEAL_SEAL), so no process can truncate it and fault its peers' mappings. Share it by
// descriptor (Fd: an exec.Cmd's ExtraFiles, or a Unix socket; the receiver calls OpenFd) or by its
// Path, /proc/<pid>/fd/<fd>, which a process of the same user may Open.
func CreateAnonymous(options CreateOptions) (*Ring, error) {
	capacity, maxRecordLength, err := checkGeometry(options)
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("shmring", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("shmring: create anonymous ring: memfd_create: %w", err)
	}
	path := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd)
	file := os.NewFile(uintptr(fd), path)
	ring, err := initializeRing(path, file, capacity, maxRecordLength)
	if err != nil {
		file.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(file.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		ring.Close()
		return nil, fmt.Errorf("shmring: create anonymous ring: F_ADD_SEALS: %w", err)
	}
	if options.Prefault {
		if err := ring.Prefault(); err != nil {
			ring.Close()
			return nil, err
		}
	}
	return ring, nil
}

// Fd is the ring's descriptor, for handing an anonymous ring to another process. It stays owned by
// the Ring (closed by Close).
func (r *Ring) Fd() uintptr { return r.file.Fd() }
