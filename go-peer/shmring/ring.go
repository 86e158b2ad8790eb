//go:build linux

package shmring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ring is one mapped ring file. It can hold the producer role, the consumer role, or both (each
// through its own Producer / Consumer, which are for use by one goroutine at a time). Ring's own
// methods are safe for concurrent use, except that Close must not race with a Producer or
// Consumer method still running: Close unmaps the memory they read.
type Ring struct {
	path string
	file *os.File

	mapping []byte // the whole file: header then data area
	data    []byte // mapping[HeaderLength:], exactly capacity bytes
	// Where the mapping was, kept after Close: a fault there is this ring's (see fault.go).
	mappingStart, mappingLength uintptr

	// Immutable geometry, read from the header once (validated) and never re-read from shared
	// memory, so a peer that scribbles on the header later cannot change our bounds.
	capacity        uint32
	mask            uint32 // capacity - 1
	maxRecordLength uint32
	creatorPid      uint32

	words ringWords

	mu       sync.Mutex // guards the fields below
	closed   bool
	producer *Producer
	consumer *Consumer
}

// ringWords are the header's atomically accessed words, as pointers into the mapping.
type ringWords struct {
	ready, tail, head *uint32

	producerState, producerPid, producerHeartbeat, producerWaiting, dataDoorbell  *uint32
	consumerState, consumerPid, consumerHeartbeat, consumerWaiting, spaceDoorbell *uint32
}

// CreateOptions configure a new ring file.
type CreateOptions struct {
	// Capacity is the size of the data area in bytes: a power of two in [MinCapacity, MaxCapacity].
	Capacity uint32
	// MaxRecordLength is the largest payload a record may carry, 0 < m <= Capacity-8.
	// Zero selects Capacity/4 (the TypeScript side's default too).
	MaxRecordLength uint32
	// Mode is the file's permission bits, applied exactly (fchmod: the umask does not change them):
	// 0o600 ..= 0o777 with owner read-write set, since every attacher opens the file read-write.
	// Zero selects 0600: a ring is a private channel between cooperating processes of one user
	// unless said otherwise.
	Mode os.FileMode
	// Prefault pre-faults the whole mapping at creation (see Ring.Prefault), so that no write
	// takes a page fault later: the cost moves to Create, as a log opened once and then appended
	// to wants. False (the default) faults pages in on first touch.
	Prefault bool
}

// geometry is what a validated header says about the ring.
type geometry struct {
	capacity, maxRecordLength, creatorPid uint32
}

// Create makes a new ring file at path (it must not exist: an error wrapping fs.ErrExist), maps it
// and publishes its header. A path in /dev/shm (see ShmPath) gives a memory-only ring for IPC.
//
// The name never points at a half-made ring, whenever the creator dies (FORMAT.md §3): the ring
// is built in an unnamed O_TMPFILE file of the target directory (or, where the file system refuses
// O_TMPFILE, under a ".shmring-tmp-<pid>-<n>" name while holding a build lock on byte 0) and linked
// to path only after its ready word is published. Temporaries of dead creators in the directory are
// removed first.
func Create(path string, options CreateOptions) (*Ring, error) {
	capacity, maxRecordLength, err := checkGeometry(options)
	if err != nil {
		return nil, err
	}
	mode := options.Mode
	if mode == 0 {
		mode = 0o600
	}
	if mode&^0o777 != 0 || mode&0o600 != 0o600 {
		return nil, usageError("create", "mode %#o must be permission bits 0o600 ..= 0o777 with owner read-write (0o600) set", uint32(mode))
	}

	built, err := newUnnamedFile(path, uint32(mode))
	if err != nil {
		return nil, err
	}
	ring, err := initializeRing(path, built.file, capacity, maxRecordLength)
	if err == nil && options.Prefault {
		err = ring.Prefault()
		if err != nil {
			unix.Munmap(ring.mapping)
		}
	}
	if err == nil {
		err = built.publish(path)
		if err != nil {
			unix.Munmap(ring.mapping)
		}
	}
	if err != nil {
		built.discard()
		return nil, err
	}
	return ring, nil
}

func checkGeometry(options CreateOptions) (capacity, maxRecordLength uint32, err error) {
	if err := checkHostByteOrder("create"); err != nil {
		return 0, 0, err
	}
	capacity = options.Capacity
	if capacity < MinCapacity || capacity > MaxCapacity || capacity&(capacity-1) != 0 {
		return 0, 0, usageError("create", "capacity %d must be a power of two in [%d, %d]", capacity, MinCapacity, MaxCapacity)
	}
	maxRecordLength = options.MaxRecordLength
	if maxRecordLength == 0 {
		maxRecordLength = capacity / 4
	}
	if maxRecordLength > capacity-recordHeaderLength {
		return 0, 0, usageError("create", "maxRecordLength %d must be at most capacity-8 = %d", maxRecordLength, capacity-recordHeaderLength)
	}
	return capacity, maxRecordLength, nil
}

func initializeRing(path string, file *os.File, capacity, maxRecordLength uint32) (*Ring, error) {
	size := int64(headerLength) + int64(capacity)
	// ftruncate of a new file yields zeros, which is the required state of every reserved byte,
	// both positions and every control word.
	if err := file.Truncate(size); err != nil {
		return nil, fmt.Errorf("shmring: create %s: %w", path, err)
	}
	mapping, err := unix.Mmap(int(file.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shmring: create %s: mmap: %w", path, err)
	}
	creatorPid := uint32(os.Getpid())
	header := mapping[:blockLength]
	// Plain stores: no attacher reads these before it has load-acquired ready (FORMAT.md §3).
	binary.LittleEndian.PutUint32(header[magicLoOffset:], magicLo)
	binary.LittleEndian.PutUint32(header[magicHiOffset:], magicHi)
	binary.LittleEndian.PutUint32(header[versionOffset:], version)
	binary.LittleEndian.PutUint32(header[headerLengthOffset:], headerLength)
	binary.LittleEndian.PutUint32(header[capacityOffset:], capacity)
	binary.LittleEndian.PutUint32(header[maxRecordLengthOffset:], maxRecordLength)
	binary.LittleEndian.PutUint32(header[flagsOffset:], 0)
	binary.LittleEndian.PutUint32(header[creatorPidOffset:], creatorPid)
	ring := newRing(path, file, mapping, geometry{capacity: capacity, maxRecordLength: maxRecordLength, creatorPid: creatorPid})
	// Last: the release store that makes every field above visible to an attacher's load-acquire.
	storeRelease32(ring.words.ready, readyValue)
	return ring, nil
}

// Open maps an existing ring file. The header is read with pread and validated against the real
// file size before anything is mapped, so a truncated or foreign file is refused without ever
// touching memory beyond its end.
func Open(path string) (*Ring, error) {
	if err := checkHostByteOrder("open"); err != nil {
		return nil, err
	}
	// /proc/<pid>/fd/<n> (an anonymous ring shared by path) is a kernel-made magic link nobody can
	// plant, and following it is the point: only it is opened without O_NOFOLLOW.
	noFollow := syscall.O_NOFOLLOW
	if isProcFdPath(path) {
		noFollow = 0
	}
	file, err := os.OpenFile(path, os.O_RDWR|noFollow|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, openError("open", path, err)
	}
	ring, err := openRing(path, file)
	if err != nil {
		file.Close()
		return nil, err
	}
	return ring, nil
}

// OpenFd opens the ring behind a descriptor this process holds, such as an anonymous sealed ring
// (see RingFile.createAnonymous in the Node package) inherited from the parent. The file is reopened
// through /proc/self/fd/<fd>, so this Ring has its own open file description and its role locks
// conflict with those taken through fd, as between processes. fd stays the caller's.
func OpenFd(fd int) (*Ring, error) {
	if fd < 0 {
		return nil, usageError("open", "descriptor %d is not an open descriptor (>= 0)", fd)
	}
	ring, err := Open("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return nil, err
	}
	ring.path = "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd)
	return ring, nil
}

// isProcFdPath: "/proc/self/fd/<n>" or "/proc/<pid>/fd/<n>", nothing else.
func isProcFdPath(path string) bool {
	parts := strings.Split(path, "/")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "proc" || parts[3] != "fd" {
		return false
	}
	digits := func(text string) bool {
		for _, c := range text {
			if c < '0' || c > '9' {
				return false
			}
		}
		return text != ""
	}
	return (parts[2] == "self" || digits(parts[2])) && digits(parts[4])
}

func openRing(path string, file *os.File) (*Ring, error) {
	info, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("shmring: open %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, &Error{Op: "open", Path: path, Detail: "is not a regular file (" + info.Mode().Type().String() + ")", Err: ErrFormat}
	}
	fileSize := info.Size()
	var header [blockLength]byte
	if fileSize >= int64(len(header)) {
		if _, err := file.ReadAt(header[:], 0); err != nil {
			return nil, fmt.Errorf("shmring: open %s: reading the header: %w", path, err)
		}
	}
	ringGeometry, err := validateHeader(header[:], fileSize)
	if err != nil {
		var shmringError *Error
		if errors.As(err, &shmringError) {
			shmringError.Path = path
		}
		return nil, err
	}
	mapping, err := unix.Mmap(int(file.Fd()), 0, int(fileSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shmring: open %s: mmap: %w", path, err)
	}
	ring := newRing(path, file, mapping, ringGeometry)
	// The pread copy decided; the mapping must say the same. Load-acquire ready first (§3) so the
	// plain reads of the metadata below are ordered after the creator's writes.
	if loadAcquire32(ring.words.ready) != readyValue || !headerMatches(mapping[:blockLength], ringGeometry) {
		unix.Munmap(mapping)
		return nil, &Error{Op: "open", Path: path, Field: "header", Detail: "changed between validation and mapping", Err: ErrFormat}
	}
	return ring, nil
}

// validateHeader applies FORMAT.md §3 to a copy of the metadata block of a region of regionSize
// bytes. header must hold at least blockLength bytes if regionSize does. Each refusal names the
// field, the value found and what was expected.
func validateHeader(header []byte, regionSize int64) (geometry, error) {
	refuse := func(field string, value uint64, detailFormat string, args ...any) (geometry, error) {
		return geometry{}, &Error{Op: "open", Field: field, Value: value, Detail: fmt.Sprintf(detailFormat, args...), Err: ErrFormat}
	}
	if regionSize < int64(headerLength+MinCapacity) || len(header) < int(blockLength) {
		return refuse("file size", uint64(max(regionSize, 0)), "is smaller than the smallest ring (%d bytes)", headerLength+MinCapacity)
	}
	word := func(offset uint32) uint32 { return binary.LittleEndian.Uint32(header[offset:]) }
	foundMagicLo, foundMagicHi := word(magicLoOffset), word(magicHiOffset)
	if ready := word(readyOffset); ready != readyValue {
		if foundMagicLo == magicLo && foundMagicHi == magicHi {
			return geometry{}, &Error{Op: "open", Field: "ready", Value: uint64(ready), Detail: fmt.Sprintf("is not %#x: the creator has not finished", readyValue), Err: ErrNotReady}
		}
		return refuse("magic", uint64(foundMagicHi)<<32|uint64(foundMagicLo), "is not \"SHMRING\\0\" (%#x)", uint64(magicHi)<<32|uint64(magicLo))
	}
	if foundMagicLo != magicLo || foundMagicHi != magicHi {
		return refuse("magic", uint64(foundMagicHi)<<32|uint64(foundMagicLo), "is not \"SHMRING\\0\" (%#x)", uint64(magicHi)<<32|uint64(magicLo))
	}
	if found := word(versionOffset); found != version {
		return refuse("version", uint64(found), "is not supported (this peer speaks version %d)", version)
	}
	if found := word(headerLengthOffset); found != headerLength {
		return refuse("headerLength", uint64(found), "is not %d", headerLength)
	}
	capacity := word(capacityOffset)
	if capacity < MinCapacity || capacity > MaxCapacity || capacity&(capacity-1) != 0 {
		return refuse("capacity", uint64(capacity), "is not a power of two in [%d, %d]", MinCapacity, MaxCapacity)
	}
	if int64(headerLength)+int64(capacity) != regionSize {
		return refuse("capacity", uint64(capacity), "plus headerLength %d does not equal the file size %d", headerLength, regionSize)
	}
	maxRecordLength := word(maxRecordLengthOffset)
	if maxRecordLength == 0 || maxRecordLength > capacity-recordHeaderLength {
		return refuse("maxRecordLength", uint64(maxRecordLength), "is not in [1, capacity-8 = %d]", capacity-recordHeaderLength)
	}
	if found := word(flagsOffset); found != 0 {
		return refuse("flags", uint64(found), "must be 0 (no flags are defined in version %d)", version)
	}
	return geometry{capacity: capacity, maxRecordLength: maxRecordLength, creatorPid: word(creatorPidOffset)}, nil
}

func headerMatches(header []byte, expected geometry) bool {
	word := func(offset uint32) uint32 { return binary.LittleEndian.Uint32(header[offset:]) }
	return word(magicLoOffset) == magicLo && word(magicHiOffset) == magicHi && word(versionOffset) == version &&
		word(headerLengthOffset) == headerLength && word(capacityOffset) == expected.capacity &&
		word(maxRecordLengthOffset) == expected.maxRecordLength && word(flagsOffset) == 0
}

func newRing(path string, file *os.File, mapping []byte, ringGeometry geometry) *Ring {
	wordAt := func(offset uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mapping[offset])) }
	mappingStart, mappingLength := mappingBounds(mapping)
	return &Ring{
		mappingStart:    mappingStart,
		mappingLength:   mappingLength,
		path:            path,
		file:            file,
		mapping:         mapping,
		data:            mapping[headerLength : headerLength+ringGeometry.capacity : headerLength+ringGeometry.capacity],
		capacity:        ringGeometry.capacity,
		mask:            ringGeometry.capacity - 1,
		maxRecordLength: ringGeometry.maxRecordLength,
		creatorPid:      ringGeometry.creatorPid,
		words: ringWords{
			ready:             wordAt(readyOffset),
			tail:              wordAt(tailOffset),
			head:              wordAt(headOffset),
			producerState:     wordAt(producerStateOffset),
			producerPid:       wordAt(producerPidOffset),
			producerHeartbeat: wordAt(producerHeartbeatOffset),
			producerWaiting:   wordAt(producerWaitingOffset),
			dataDoorbell:      wordAt(dataDoorbellOffset),
			consumerState:     wordAt(consumerStateOffset),
			consumerPid:       wordAt(consumerPidOffset),
			consumerHeartbeat: wordAt(consumerHeartbeatOffset),
			consumerWaiting:   wordAt(consumerWaitingOffset),
			spaceDoorbell:     wordAt(spaceDoorbellOffset),
		},
	}
}

// openError reports an open(2) failure. A symlink (refused by O_NOFOLLOW) or a directory is
// not a ring file (ErrFormat); anything else stays the OS error, for errors.Is(err, fs.ErrNotExist)
// and the like.
func openError(op, path string, err error) error {
	switch {
	case errors.Is(err, syscall.ELOOP):
		return &Error{Op: op, Path: path, Detail: "is a symbolic link (refused, O_NOFOLLOW)", Err: ErrFormat}
	case errors.Is(err, syscall.EISDIR):
		return &Error{Op: op, Path: path, Detail: "is a directory", Err: ErrFormat}
	default:
		return fmt.Errorf("shmring: %s: %w", op, err)
	}
}

// Path is the file the ring was created or opened at.
func (r *Ring) Path() string { return r.path }

// Capacity is the size of the data area in bytes.
func (r *Ring) Capacity() uint32 { return r.capacity }

// MaxRecordLength is the largest payload a record may carry.
func (r *Ring) MaxRecordLength() uint32 { return r.maxRecordLength }

// Prefault pre-faults the whole mapping for writing: madvise(MADV_POPULATE_WRITE) (Linux 5.14+)
// allocates the file's pages and maps them writable, so later writes take no page fault; on an
// older kernel, an atomic add of zero to the first word of each page does the same. No byte
// changes, so it is safe on a live ring. A failure (ENOSPC, ENOMEM, a file truncated under the
// mapping: ErrCorrupt) is returned here rather than met as SIGBUS by a later write.
func (r *Ring) Prefault() (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return closedError("prefault", "the ring is closed")
	}
	for {
		err = unix.Madvise(r.mapping, unix.MADV_POPULATE_WRITE)
		if err != unix.EINTR {
			break
		}
	}
	if err == nil {
		return nil
	}
	if err != unix.EINVAL {
		return fmt.Errorf("shmring: prefault %s: madvise(MADV_POPULATE_WRITE): %w", r.path, err)
	}
	defer r.recoverFault(guardMapping(), "prefault", &err)
	err = nil
	page := os.Getpagesize()
	for offset := 0; offset < len(r.mapping); offset += page {
		touchForWrite32((*uint32)(unsafe.Pointer(&r.mapping[offset])))
	}
	return nil
}

// Close detaches any role this Ring still holds (publishing what its producer committed, but
// without ending the stream: only Producer.Close does that), unmaps the ring exactly once and
// closes the file, which releases the role locks. Closing twice is harmless.
func (r *Ring) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	var errs []error
	if r.producer != nil {
		errs = append(errs, r.producer.leaveLocked(RoleDetached))
	}
	if r.consumer != nil {
		errs = append(errs, r.consumer.leaveLocked(RoleDetached))
	}
	r.closed = true
	if err := unix.Munmap(r.mapping); err != nil {
		errs = append(errs, fmt.Errorf("shmring: munmap %s: %w", r.path, err))
	}
	r.mapping, r.data = nil, nil
	errs = append(errs, r.file.Close())
	return errors.Join(errs...)
}

// ShmPath returns the /dev/shm path for a ring named name, after checking that name is one plain
// file name: non-empty, at most 255 bytes, no '/', no NUL, not "." or "..".
func ShmPath(name string) (string, error) {
	switch {
	case name == "":
		return "", usageError("shm path", "ring name is empty")
	case len(name) > 255:
		return "", usageError("shm path", "ring name is %d bytes long, more than 255", len(name))
	case name == "." || name == "..":
		return "", usageError("shm path", "ring name %q is not a file name", name)
	case strings.ContainsRune(name, '/'):
		return "", usageError("shm path", "ring name %q contains '/'", name)
	case strings.ContainsRune(name, 0):
		return "", usageError("shm path", "ring name %q contains NUL", name)
	}
	return "/dev/shm/" + name, nil
}

// Unlink removes a ring file. Processes that have it mapped keep using it; the memory is freed
// when the last of them unmaps it. It refuses to remove a directory.
func Unlink(path string) error {
	if err := unix.Unlink(path); err != nil {
		return fmt.Errorf("shmring: unlink %s: %w", path, err)
	}
	return nil
}

// hostIsLittleEndian: the format is little-endian and the control words are accessed with
// native-order atomics, so a big-endian host would disagree with every other peer.
var hostIsLittleEndian = func() bool {
	probe := uint16(1)
	return *(*byte)(unsafe.Pointer(&probe)) == 1
}()

func checkHostByteOrder(op string) error {
	if !hostIsLittleEndian {
		return usageError(op, "the ring format is little-endian and this peer does not support big-endian hosts")
	}
	return nil
}
