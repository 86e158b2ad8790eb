package shmring

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestCorpusDir checks every file in $SHMRING_CORPUS_DIR the way a Go peer meets a file another
// process left: Open, Stats, attach a consumer, read everything. reliability/fuzz.mjs runs it over
// the files it mutates (the same files it gives to Node). Every outcome must be a clean read or an
// error wrapping one of the package's sentinels; a panic or a fault fails. Skipped without the
// variable (go test ./... does not need a corpus).
func TestCorpusDir(t *testing.T) {
	dir := os.Getenv("SHMRING_CORPUS_DIR")
	if dir == "" {
		t.Skip("SHMRING_CORPUS_DIR is not set (reliability/fuzz.mjs sets it)")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, entry := range entries {
		if !strings.HasSuffix(entry.Name(), ".ring") {
			continue
		}
		path := filepath.Join(dir, entry.Name())
		outcome, err := checkCorpusFile(path)
		if err != nil {
			t.Errorf("%s: %v", entry.Name(), err)
			continue
		}
		outcomes[outcome]++
	}
	names := make([]string, 0, len(outcomes))
	for name := range outcomes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Printf("corpus outcome %s %d\n", name, outcomes[name])
	}
}

var corpusSentinels = []struct {
	name string
	err  error
}{{"ErrFormat", ErrFormat}, {"ErrNotReady", ErrNotReady}, {"ErrCorrupt", ErrCorrupt}, {"ErrLocked", ErrLocked}, {"ErrClosed", ErrClosed}}

// classify names the sentinel an error wraps, or fails when it wraps none.
func classifyCorpusError(step string, err error) (string, error) {
	for _, sentinel := range corpusSentinels {
		if errors.Is(err, sentinel.err) {
			return step + ":" + sentinel.name, nil
		}
	}
	return "", fmt.Errorf("%s: error wrapping no sentinel: %v", step, err)
}

func checkCorpusFile(path string) (outcome string, failure error) {
	defer func() {
		if panicked := recover(); panicked != nil {
			failure = fmt.Errorf("panic: %v", panicked)
		}
	}()
	ring, err := Open(path)
	if err != nil {
		return classifyCorpusError("open", err)
	}
	defer ring.Close()
	if _, err := ring.Stats(); err != nil {
		return classifyCorpusError("stats", err)
	}
	consumer, err := ring.Consumer(ConsumerOptions{})
	if err != nil {
		return classifyCorpusError("attach", err)
	}
	defer consumer.Detach()
	// At most capacity/8 records can be in flight: more means the reader did not advance.
	limit := int(ring.capacity/8) + 1
	read := 0
	for read <= limit {
		handled, err := consumer.Poll(func(recordType uint16, data []byte) error { return nil }, 4096)
		if err != nil {
			return classifyCorpusError("read", err)
		}
		if handled == 0 {
			return "read:ok", nil
		}
		read += handled
	}
	return "", fmt.Errorf("read %d records from a ring of capacity %d", read, ring.capacity)
}
