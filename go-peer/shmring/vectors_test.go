//go:build linux

package shmring

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The ring files in test/vectors (made by a hand-written generator, by Node and by this peer) with
// their expected decoding: every peer must read the same header, positions, records and end of
// stream from them, and refuse the corrupt ones with the same error and field (FORMAT.md §9).

const vectorsDir = "../../test/vectors"

type vectorRecord struct {
	Type    uint32 `json:"type"`
	Payload string `json:"payload"`
}

type vectorError struct {
	Code            string            `json:"code"`
	Field           string            `json:"field"`
	Value           *uint64           `json:"value,omitempty"`
	FieldByLanguage map[string]string `json:"fieldByLanguage,omitempty"`
}

type vector struct {
	Description string `json:"description"`
	CreatedBy   string `json:"createdBy"`
	File        string `json:"file"`
	Header      struct {
		Capacity        uint32 `json:"capacity"`
		MaxRecordLength uint32 `json:"maxRecordLength"`
		CreatorPid      uint32 `json:"creatorPid"`
	} `json:"header"`
	Head          uint32         `json:"head"`
	Tail          uint32         `json:"tail"`
	ProducerState uint32         `json:"producerState"`
	ConsumerState uint32         `json:"consumerState"`
	Records       []vectorRecord `json:"records,omitempty"`
	Ended         *bool          `json:"ended,omitempty"`
	Error         *vectorError   `json:"error,omitempty"`
}

// sentinelOf maps the TypeScript/C++ error codes of the vectors to this peer's sentinels.
func sentinelOf(code string) error {
	switch code {
	case "ERR_CORRUPT":
		return ErrCorrupt
	case "ERR_NOT_READY":
		return ErrNotReady
	default:
		return ErrFormat
	}
}

func TestVectors(t *testing.T) {
	if _, err := os.Stat(vectorsDir); os.IsNotExist(err) {
		t.Skipf("%s is not here: the module is built outside the repository checkout", vectorsDir)
	}
	names, err := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	if err != nil || len(names) < 20 {
		t.Fatalf("found %d vectors in %s (%v); want at least 20", len(names), vectorsDir, err)
	}
	for _, name := range names {
		t.Run(strings.TrimSuffix(filepath.Base(name), ".json"), func(t *testing.T) {
			text, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var expected vector
			if err := json.Unmarshal(text, &expected); err != nil {
				t.Fatal(err)
			}
			// Attaching writes to the file (state, pid, heartbeat): work on a copy.
			ringBytes, err := os.ReadFile(filepath.Join(vectorsDir, expected.File))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), expected.File)
			if err := os.WriteFile(path, ringBytes, 0o600); err != nil {
				t.Fatal(err)
			}
			records, ended, err := decodeVector(t, path, &expected)
			if expected.Error != nil {
				checkVectorError(t, err, expected.Error)
				return
			}
			if err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if !reflect.DeepEqual(records, expected.Records) && !(len(records) == 0 && len(expected.Records) == 0) {
				t.Fatalf("records:\n got %v\nwant %v", records, expected.Records)
			}
			if expected.Ended == nil || ended != *expected.Ended {
				t.Fatalf("ended = %v; want %v", ended, expected.Ended)
			}
		})
	}
}

// decodeVector opens the ring, checks the header words the vector lists, then reads every record
// as a consumer and asks whether the stream has ended.
func decodeVector(t *testing.T, path string, expected *vector) ([]vectorRecord, bool, error) {
	ring, err := Open(path)
	if err != nil {
		return nil, false, err
	}
	defer ring.Close()
	if ring.Capacity() != expected.Header.Capacity || ring.MaxRecordLength() != expected.Header.MaxRecordLength || ring.creatorPid != expected.Header.CreatorPid {
		t.Fatalf("header: capacity %d maxRecordLength %d creatorPid %d; want %+v", ring.Capacity(), ring.MaxRecordLength(), ring.creatorPid, expected.Header)
	}
	words := []struct {
		name      string
		got, want uint32
	}{
		{"head", loadAcquire32(ring.words.head), expected.Head},
		{"tail", loadAcquire32(ring.words.tail), expected.Tail},
		{"producerState", loadSeqCst32(ring.words.producerState), expected.ProducerState},
		{"consumerState", loadSeqCst32(ring.words.consumerState), expected.ConsumerState},
	}
	for _, word := range words {
		if word.got != word.want {
			t.Fatalf("%s = %d; want %d", word.name, word.got, word.want)
		}
	}
	consumer, err := ring.Consumer(ConsumerOptions{})
	if err != nil {
		return nil, false, err
	}
	var records []vectorRecord
	for {
		handled, err := consumer.Poll(func(recordType uint16, data []byte) error {
			records = append(records, vectorRecord{Type: uint32(recordType), Payload: hex.EncodeToString(data)})
			return nil
		}, 0)
		if err != nil {
			return records, false, err
		}
		if handled == 0 {
			break
		}
	}
	// A cancelled context: Read reports the end of stream if there is one, else the cancellation,
	// without waiting for anything.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = consumer.Read(ctx)
	switch {
	case errors.Is(err, ErrEndOfStream):
		return records, true, nil
	case errors.Is(err, context.Canceled):
		return records, false, nil
	default:
		return records, false, err
	}
}

func checkVectorError(t *testing.T, err error, expected *vectorError) {
	t.Helper()
	field := expected.Field
	if goField, ok := expected.FieldByLanguage["go"]; ok {
		field = goField
	}
	var shmringError *Error
	if !errors.Is(err, sentinelOf(expected.Code)) || !errors.As(err, &shmringError) || shmringError.Field != field {
		t.Fatalf("err = %v; want %s naming %s", err, expected.Code, field)
	}
	if expected.Value != nil && shmringError.Value != *expected.Value {
		t.Fatalf("err = %v; want value %d", err, *expected.Value)
	}
}

// TestWriteGoVectors rewrites the go-* vectors: SHMRING_WRITE_VECTORS=1 go test -run TestWriteGoVectors.
// The expected decoding is what it wrote and did not consume, tracked here.
func TestWriteGoVectors(t *testing.T) {
	if os.Getenv("SHMRING_WRITE_VECTORS") == "" {
		t.Skip("set SHMRING_WRITE_VECTORS=1 to rewrite test/vectors/go-*")
	}
	payloadOf := func(tag, length int) []byte {
		payload := make([]byte, length)
		for index := range payload {
			payload[index] = byte(tag*13 + index*7)
		}
		return payload
	}
	type written struct {
		recordType uint16
		payload    []byte
	}
	write := func(producer *Producer, lengths []int, firstTag int) []written {
		var out []written
		for index, length := range lengths {
			record := written{uint16(firstTag + index), payloadOf(firstTag+index, length)}
			mustWrite(t, producer, record.recordType, record.payload)
			out = append(out, record)
		}
		if err := producer.Flush(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	emit := func(name, description string, ring *Ring, unread []written, ended bool) {
		expected := vector{Description: description, CreatedBy: "go-peer/vectors_test.go TestWriteGoVectors (the Go Producer/Consumer)", File: name + ".ring"}
		expected.Header.Capacity, expected.Header.MaxRecordLength, expected.Header.CreatorPid = ring.capacity, ring.maxRecordLength, ring.creatorPid
		expected.Head, expected.Tail = loadAcquire32(ring.words.head), loadAcquire32(ring.words.tail)
		expected.ProducerState, expected.ConsumerState = loadSeqCst32(ring.words.producerState), loadSeqCst32(ring.words.consumerState)
		expected.Records = []vectorRecord{}
		for _, record := range unread {
			expected.Records = append(expected.Records, vectorRecord{Type: uint32(record.recordType), Payload: hex.EncodeToString(record.payload)})
		}
		expected.Ended = &ended
		if err := ring.Close(); err != nil {
			t.Fatal(err)
		}
		text, err := json.MarshalIndent(expected, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vectorsDir, name+".json"), append(text, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	create := func(name string, capacity, maxRecordLength uint32) *Ring {
		path := filepath.Join(vectorsDir, name+".ring")
		os.Remove(path)
		ring, err := Create(path, CreateOptions{Capacity: capacity, MaxRecordLength: maxRecordLength, Mode: 0o644})
		if err != nil {
			t.Fatal(err)
		}
		return ring
	}
	drain := func(consumer *Consumer) {
		if _, err := consumer.Poll(func(uint16, []byte) error { return nil }, 0); err != nil {
			t.Fatal(err)
		}
	}

	{
		ring := create("go-stream", 2048, 512)
		producer := mustProducer(t, ring, ProducerOptions{Publish: PublishManual})
		consumer := mustConsumer(t, ring, ConsumerOptions{})
		for lap := 0; lap < 4; lap++ {
			write(producer, []int{512, 3, 250, 0, 499, 64}, lap*10)
			drain(consumer)
		}
		unread := write(producer, []int{100, 512, 7, 300}, 200)
		if err := consumer.Detach(); err != nil {
			t.Fatal(err)
		}
		if err := producer.Detach(); err != nil {
			t.Fatal(err)
		}
		emit("go-stream", "four laps written and read (padding at the wraps), four records unread; both sides detached", ring, unread, false)
	}
	{
		ring := create("go-ended", 64, 56)
		producer := mustProducer(t, ring, ProducerOptions{})
		unread := write(producer, []int{20, 0, 12}, 1)
		if err := producer.Close(); err != nil {
			t.Fatal(err)
		}
		emit("go-ended", "smallest capacity, three records, producer closed with end of stream", ring, unread, true)
	}
	{
		ring := create("go-near-2-32", 256, 200)
		plantPositions(ring, 0xFFFFFF00, 0xFFFFFF00)
		producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
		consumer := mustConsumer(t, ring, ConsumerOptions{})
		write(producer, []int{100, 100}, 1)
		drain(consumer)
		unread := write(producer, []int{60, 100, 8}, 50)
		if err := consumer.Close(); err != nil {
			t.Fatal(err)
		}
		if err := producer.Detach(); err != nil {
			t.Fatal(err)
		}
		emit("go-near-2-32", "positions from 2^32 - 256 across 2^32, three records unread, consumer closed, producer detached", ring, unread, false)
	}
}
