// Command socketpeer is the Go end of the bench's Node <-> Go Unix-socket baseline (bench/suites/xlang.mjs).
// Frames are length-prefixed: u32 length, u32 type, payload; little-endian.
//
//	socketpeer consume SOCKET
//	    connects, reads frames until EOF, touches each payload as the Node consumers do (one byte per
//	    64-byte line and the last byte), and prints one JSON line:
//	    {"records":N,"bytes":N,"seconds":S,"recordsPerSecond":R,"touch":T}
//	socketpeer produce SOCKET COUNT SIZE batched|per-write
//	    connects and writes COUNT frames of SIZE payload bytes (the bench payload pattern,
//	    (i*31+7) & 0xff, type 1): one write per frame, or as many whole frames as fit in 64 KiB per
//	    write; closes, and prints {"records":N,"bytes":N,"seconds":S,"recordsPerSecond":R}
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

const usage = "usage: socketpeer consume SOCKET | socketpeer produce SOCKET COUNT SIZE batched|per-write"

// writeBytes is the batched mode's write size, as the Node side's framesPerWrite (bench/lib/workload.mjs).
const writeBytes = 64 * 1024

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "consume":
		consume(os.Args[2])
	case len(os.Args) == 6 && os.Args[1] == "produce":
		count, errCount := strconv.Atoi(os.Args[3])
		size, errSize := strconv.Atoi(os.Args[4])
		mode := os.Args[5]
		if errCount != nil || errSize != nil || count < 1 || size < 1 || (mode != "batched" && mode != "per-write") {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		produce(os.Args[2], count, size, mode == "batched")
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func report(fields map[string]any) {
	out, _ := json.Marshal(fields)
	fmt.Println(string(out))
}

func produce(socketPath string, count, size int, batched bool) {
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		fail(err)
	}
	frame := make([]byte, 8+size)
	binary.LittleEndian.PutUint32(frame[0:4], uint32(size))
	binary.LittleEndian.PutUint32(frame[4:8], 1)
	for i := 0; i < size; i++ {
		frame[8+i] = byte(i*31 + 7)
	}
	framesPerWrite := 1
	if batched && len(frame) < writeBytes {
		framesPerWrite = writeBytes / len(frame)
	}
	// One chunk of whole frames, written again and again (the batched mode's copy into the chunk
	// is made once: Node's batched writer copies frames into each chunk, so Go's side is cheaper).
	chunk := make([]byte, 0, framesPerWrite*len(frame))
	for f := 0; f < framesPerWrite; f++ {
		chunk = append(chunk, frame...)
	}
	started := time.Now()
	for sent := 0; sent < count; {
		frames := framesPerWrite
		if count-sent < frames {
			frames = count - sent
		}
		if _, err := conn.Write(chunk[:frames*len(frame)]); err != nil {
			fail(err)
		}
		sent += frames
	}
	if err := conn.Close(); err != nil {
		fail(err)
	}
	seconds := time.Since(started).Seconds()
	report(map[string]any{"records": count, "bytes": count * size, "seconds": seconds, "recordsPerSecond": float64(count) / seconds})
}

func consume(socketPath string) {
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	reader := bufio.NewReaderSize(conn, 256*1024)
	var header [8]byte
	payload := make([]byte, 0, 64*1024)
	var records, bytes, touch uint64
	var started time.Time
	for {
		if _, err := io.ReadFull(reader, header[:]); err != nil {
			if err == io.EOF {
				break
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if started.IsZero() {
			started = time.Now()
		}
		length := int(binary.LittleEndian.Uint32(header[:4]))
		if cap(payload) < length {
			payload = make([]byte, length)
		}
		payload = payload[:length]
		if _, err := io.ReadFull(reader, payload); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for i := 0; i < length; i += 64 {
			touch += uint64(payload[i])
		}
		if length > 0 {
			touch += uint64(payload[length-1])
		}
		records++
		bytes += uint64(length)
	}
	seconds := time.Since(started).Seconds()
	if seconds <= 0 {
		seconds = 1e-9
	}
	report(map[string]any{"records": records, "bytes": bytes, "seconds": seconds, "recordsPerSecond": float64(records) / seconds, "touch": touch})
}
