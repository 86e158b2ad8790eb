package shmring

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestCreateWritesTheHeaderAndOpenAgrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring")
	created, err := Create(path, CreateOptions{Capacity: 1024, MaxRecordLength: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer created.Close()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != 4096+1024 || info.Mode().Perm() != 0o600 {
		t.Fatalf("file size %d mode %v; want 5120, 0600", info.Size(), info.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	word := func(offset uint32) uint32 { return binary.LittleEndian.Uint32(raw[offset:]) }
	if string(raw[:8]) != "SHMRING\x00" || word(versionOffset) != 1 || word(headerLengthOffset) != 4096 ||
		word(capacityOffset) != 1024 || word(maxRecordLengthOffset) != 100 || word(flagsOffset) != 0 ||
		word(creatorPidOffset) != uint32(os.Getpid()) || string(raw[readyOffset:readyOffset+4]) != "REDY" {
		t.Fatalf("header %x", raw[:64])
	}
	for offset := 36; offset < len(raw); offset++ {
		if raw[offset] != 0 {
			t.Fatalf("byte %d is %d; everything past the metadata starts zero", offset, raw[offset])
		}
	}
	opened, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	if opened.Capacity() != 1024 || opened.MaxRecordLength() != 100 || opened.Path() != path {
		t.Fatalf("opened capacity %d maxRecordLength %d path %s", opened.Capacity(), opened.MaxRecordLength(), opened.Path())
	}
}

func TestCreateDefaultsAndMode(t *testing.T) {
	dir := t.TempDir()
	ring, err := Create(filepath.Join(dir, "default"), CreateOptions{Capacity: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	if ring.MaxRecordLength() != 64 {
		t.Fatalf("default maxRecordLength %d; want capacity/4", ring.MaxRecordLength())
	}
	shared, err := Create(filepath.Join(dir, "shared"), CreateOptions{Capacity: 64, Mode: 0o640})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	if info, _ := os.Stat(shared.Path()); info.Mode().Perm()&^0o640 != 0 {
		t.Fatalf("mode %v; want at most 0640", info.Mode().Perm())
	}
}

func TestCreateRefusesBadGeometryAndExistingFiles(t *testing.T) {
	dir := t.TempDir()
	for _, options := range []CreateOptions{
		{Capacity: 0}, {Capacity: 32}, {Capacity: 100}, {Capacity: 1 << 31}, {Capacity: MaxCapacity * 2},
		{Capacity: 64, MaxRecordLength: 57},
	} {
		_, err := Create(filepath.Join(dir, "bad"), options)
		expectError(t, err, ErrUsage)
		if _, statErr := os.Stat(filepath.Join(dir, "bad")); !errors.Is(statErr, fs.ErrNotExist) {
			t.Fatalf("refused create %+v left a file behind", options)
		}
	}
	path := filepath.Join(dir, "ring")
	first, err := Create(path, CreateOptions{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = Create(path, CreateOptions{Capacity: 64})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v; want fs.ErrExist (O_EXCL)", err)
	}
}

// writeRingFile writes a file holding a valid header for capacity, edited by edit.
func writeRingFile(t *testing.T, capacity uint32, edit func(file []byte) []byte) string {
	t.Helper()
	file := make([]byte, 4096+int(capacity))
	put := func(offset, value uint32) { binary.LittleEndian.PutUint32(file[offset:], value) }
	put(magicLoOffset, magicLo)
	put(magicHiOffset, magicHi)
	put(versionOffset, version)
	put(headerLengthOffset, headerLength)
	put(capacityOffset, capacity)
	put(maxRecordLengthOffset, capacity/2)
	put(readyOffset, readyValue)
	if edit != nil {
		file = edit(file)
	}
	path := filepath.Join(t.TempDir(), "ring")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenRefusesBadFiles(t *testing.T) {
	set := func(offset, value uint32) func([]byte) []byte {
		return func(file []byte) []byte { binary.LittleEndian.PutUint32(file[offset:], value); return file }
	}
	tests := []struct {
		name     string
		capacity uint32
		edit     func([]byte) []byte
		sentinel error
		mentions string
	}{
		{"empty file", 64, func([]byte) []byte { return nil }, ErrFormat, "file size 0"},
		{"truncated header", 64, func(file []byte) []byte { return file[:100] }, ErrFormat, "file size 100"},
		{"truncated data", 1024, func(file []byte) []byte { return file[:4096+512] }, ErrFormat, "file size 4608"},
		{"extra bytes", 64, func(file []byte) []byte { return append(file, 0) }, ErrFormat, "capacity 64 plus headerLength 4096 does not equal the file size 4161"},
		{"wrong magic", 64, set(magicLoOffset, 0x12345678), ErrFormat, "magic"},
		{"wrong magic, not ready", 64, func(file []byte) []byte { file[0] = 'X'; file[readyOffset] = 0; return file }, ErrFormat, "magic"},
		{"not ready", 64, set(readyOffset, 0), ErrNotReady, "ready 0"},
		{"version 2", 64, set(versionOffset, 2), ErrFormat, "version 2"},
		{"header length", 64, set(headerLengthOffset, 8192), ErrFormat, "headerLength 8192"},
		{"capacity not a power of two", 64, set(capacityOffset, 96), ErrFormat, "capacity 96 is not a power of two"},
		{"capacity too small", 64, set(capacityOffset, 32), ErrFormat, "capacity 32"},
		{"capacity too large", 64, set(capacityOffset, 1<<31), ErrFormat, "capacity 2147483648"},
		{"capacity disagrees with size", 128, set(capacityOffset, 64), ErrFormat, "file size 4224"},
		{"max record length 0", 64, set(maxRecordLengthOffset, 0), ErrFormat, "maxRecordLength 0"},
		{"max record length above capacity-8", 64, set(maxRecordLengthOffset, 57), ErrFormat, "maxRecordLength 57"},
		{"flags", 64, set(flagsOffset, 1), ErrFormat, "flags 1"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			path := writeRingFile(t, test.capacity, test.edit)
			ring, err := Open(path)
			if err == nil {
				ring.Close()
				t.Fatal("opened")
			}
			expectError(t, err, test.sentinel, test.mentions, path)
			var detail *Error
			if !errors.As(err, &detail) || detail.Op != "open" {
				t.Fatalf("error %v is not an *Error from open", err)
			}
		})
	}
	t.Run("a valid file opens", func(t *testing.T) {
		ring, err := Open(writeRingFile(t, 64, nil))
		if err != nil {
			t.Fatal(err)
		}
		ring.Close()
	})
}

func TestOpenRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	target := writeRingFile(t, 64, nil)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := Open(link)
	expectError(t, err, ErrFormat, "symbolic link")
	_, err = Create(link, CreateOptions{Capacity: 64})
	if err == nil {
		t.Fatal("Create through a symlink succeeded")
	}

	_, err = Open(dir)
	expectError(t, err, ErrFormat, "directory")

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(fifo)
	expectError(t, err, ErrFormat, "not a regular file")

	_, err = Open(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestShmPathValidatesNames(t *testing.T) {
	path, err := ShmPath("my-ring.1")
	if err != nil || path != "/dev/shm/my-ring.1" {
		t.Fatalf("ShmPath = %q, %v", path, err)
	}
	if _, err := ShmPath(strings.Repeat("a", 255)); err != nil {
		t.Fatalf("255-byte name refused: %v", err)
	}
	for _, name := range []string{"", ".", "..", "a/b", "/abs", "nul\x00byte", strings.Repeat("a", 256)} {
		_, err := ShmPath(name)
		expectError(t, err, ErrUsage)
	}
}

func TestCloseUnmapsOnceAndRefusesUse(t *testing.T) {
	ring := newTestRing(t, 64, 16)
	producer := mustProducer(t, ring, ProducerOptions{})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	if err := ring.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ring.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := producer.TryWrite(nil, 1)
	expectError(t, err, ErrClosed)
	_, _, err = consumer.TryRead()
	expectError(t, err, ErrClosed)
	_, err = ring.Producer(ProducerOptions{})
	expectError(t, err, ErrClosed)
	_, err = ring.Stats()
	expectError(t, err, ErrClosed)
	if err := producer.Close(); err != nil {
		t.Fatalf("Producer.Close after Ring.Close: %v", err)
	}
}

func TestUnlink(t *testing.T) {
	path := shmTestPath(t)
	ring, err := Create(path, CreateOptions{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	if err := Unlink(path); err != nil {
		t.Fatal(err)
	}
	// The mapping outlives the name.
	producer := mustProducer(t, ring, ProducerOptions{})
	mustWrite(t, producer, 1, []byte("still mapped"))
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after unlink: %v", err)
	}
	if err := Unlink(t.TempDir()); err == nil {
		t.Fatal("Unlink removed a directory")
	}
}

func TestErrorMessageNamesFieldValueAndLimit(t *testing.T) {
	err := corruptError("read", "record.length", 4000000, "at offset %d exceeds maxRecordLength %d", 128, 1024)
	if got := err.Error(); got != "shmring: corrupt ring: record.length 4000000 at offset 128 exceeds maxRecordLength 1024" {
		t.Fatalf("message %q", got)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatal("not ErrCorrupt")
	}
}

func TestPrefaultMapsEveryPageAndChangesNothing(t *testing.T) {
	for _, where := range []string{"disk", "shm", "anonymous"} {
		t.Run(where, func(t *testing.T) {
			var ring *Ring
			var err error
			options := CreateOptions{Capacity: 1 << 20, MaxRecordLength: 1000, Prefault: true}
			switch where {
			case "disk":
				ring, err = Create(filepath.Join(t.TempDir(), "prefault.ring"), options)
			case "shm":
				ring, err = Create(shmTestPath(t), options)
			default:
				ring, err = CreateAnonymous(options)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ring.Close()
			pages := (len(ring.mapping) + os.Getpagesize() - 1) / os.Getpagesize()
			resident := make([]byte, pages)
			if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&ring.mapping[0])), uintptr(len(ring.mapping)), uintptr(unsafe.Pointer(&resident[0]))); errno != 0 {
				t.Fatal(errno)
			}
			for page, flags := range resident {
				if flags&1 == 0 {
					t.Fatalf("page %d of %d not resident after Create with Prefault", page, pages)
				}
			}
			// A live ring keeps its bytes: a record written before Prefault reads back after it.
			producer, err := ring.Producer(ProducerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			consumer, err := ring.Consumer(ConsumerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := producer.TryWrite([]byte("kept across prefault"), 7); err != nil || !ok {
				t.Fatalf("TryWrite: %v %v", ok, err)
			}
			if err := producer.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := ring.Prefault(); err != nil {
				t.Fatal(err)
			}
			got := ""
			if _, err := consumer.Poll(func(_ uint16, data []byte) error { got = string(data); return nil }, 1); err != nil {
				t.Fatal(err)
			}
			if got != "kept across prefault" {
				t.Fatalf("read %q after Prefault", got)
			}
		})
	}
}

func TestPrefaultOfAClosedRing(t *testing.T) {
	ring, err := CreateAnonymous(CreateOptions{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	ring.Close()
	if err := ring.Prefault(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Prefault after Close: %v, want ErrClosed", err)
	}
}
