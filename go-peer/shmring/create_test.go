//go:build linux

package shmring

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCreateModeIsExactAndChecked(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o277)
	ring, err := Create(filepath.Join(dir, "ring"), CreateOptions{Capacity: 64, Mode: 0o660})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	if info, _ := os.Stat(ring.Path()); info.Mode().Perm() != 0o660 {
		t.Fatalf("mode %v under umask 0277; want exactly 0660", info.Mode().Perm())
	}
	for _, mode := range []os.FileMode{0o4777, 0o1600, 0o400, 0o060} {
		_, err := Create(filepath.Join(dir, "bad"), CreateOptions{Capacity: 64, Mode: mode})
		expectError(t, err, ErrUsage, "mode")
		if _, statErr := os.Lstat(filepath.Join(dir, "bad")); !errors.Is(statErr, fs.ErrNotExist) {
			t.Fatalf("mode %#o: a refused create left a file", mode)
		}
	}
}

// The name appears only when the ring is ready, and only link(2) gives it one: Create over an
// existing name is fs.ErrExist and leaves no temporary behind.
func TestCreateLeavesNoTemporaries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ring")
	ring, err := Create(path, CreateOptions{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	if _, err := Create(path, CreateOptions{Capacity: 64}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("create over an existing ring: %v, want fs.ErrExist", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the ring", len(entries))
	}
}

func TestCreateRemovesAbandonedTemporariesOnly(t *testing.T) {
	dir := t.TempDir()
	abandoned := filepath.Join(dir, temporaryPrefix+"1-0")
	building := filepath.Join(dir, temporaryPrefix+"1-1")
	for _, name := range []string{abandoned, building} {
		if err := os.WriteFile(name, make([]byte, headerLength+64), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A creator still at work holds the build lock of its temporary.
	builder, err := os.OpenFile(building, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer builder.Close()
	if err := setByteLock(builder.Fd(), unix.F_WRLCK, buildLockOffset); err != nil {
		t.Fatal(err)
	}
	ring, err := Create(filepath.Join(dir, "ring"), CreateOptions{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	if _, err := os.Lstat(abandoned); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("abandoned temporary still there: %v", err)
	}
	if _, err := os.Lstat(building); err != nil {
		t.Fatalf("a temporary under its build lock was removed: %v", err)
	}
}

func TestAnonymousRingIsSealedAndSharedByDescriptor(t *testing.T) {
	ring, err := CreateAnonymous(CreateOptions{Capacity: 4096, MaxRecordLength: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	stats, err := ring.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Seals != unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW {
		t.Fatalf("seals %#x, want SEAL|SHRINK|GROW", stats.Seals)
	}
	if err := unix.Ftruncate(int(ring.Fd()), 0); !errors.Is(err, unix.EPERM) {
		t.Fatalf("ftruncate of a sealed ring: %v, want EPERM", err)
	}
	byFd, err := OpenFd(int(ring.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer byFd.Close()
	byPath, err := Open(ring.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer byPath.Close()
	producer := mustProducer(t, ring, ProducerOptions{})
	if _, err := byFd.Producer(ProducerOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second producer through OpenFd: %v, want ErrLocked", err)
	}
	consumer := mustConsumer(t, byPath, ConsumerOptions{})
	mustWrite(t, producer, 5, patterned(50, 3))
	if err := producer.Flush(); err != nil {
		t.Fatal(err)
	}
	record := mustRead(t, consumer)
	if record.Type != 5 || string(record.Data) != string(patterned(50, 3)) {
		t.Fatalf("read type %d %d bytes through the /proc path", record.Type, len(record.Data))
	}
	if _, err := OpenFd(-1); !errors.Is(err, ErrUsage) {
		t.Fatalf("OpenFd(-1): %v", err)
	}
	if _, err := Open("/proc/self/fd/../fd/0"); err == nil {
		t.Fatal("a /proc path with .. was followed")
	}
}
