// Command socketpeer is the Go end of the bench's Node <-> Go Unix-socket baseline (bench/suites/xlang.mjs).
// Frames are length-prefixed: u32 length, u32 type, payload; little-endian.
//
//	socketpeer consume SOCKET [--layout SPEC]
//	    connects, reads frames until EOF, touches each payload as the Node consumers do (one byte per
//	    64-byte line and the last byte), and prints one JSON line:
//	    {"records":N,"bytes":N,"seconds":S,"recordsPerSecond":R,"touch":T}
//	    With --layout (a record layout in the text form of shmring.ParseLayout), it decodes every
//	    field of each payload instead and folds it into the struct checksum of `shmring
//	    bench-consume --layout` (go-peer/cmd/shmring): {..., "checksum":H, "floatSum":F}
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

	"github.com/shmring/shmring/go-peer/shmring"
)

const usage = "usage: socketpeer consume SOCKET [--layout SPEC] | socketpeer produce SOCKET COUNT SIZE batched|per-write"

// writeBytes is the batched mode's write size, as the Node side's framesPerWrite (bench/lib/workload.mjs).
const writeBytes = 64 * 1024

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "consume":
		consume(os.Args[2], nil)
	case len(os.Args) == 5 && os.Args[1] == "consume" && os.Args[3] == "--layout":
		layout, err := shmring.ParseLayout(os.Args[4])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		consume(os.Args[2], &layoutFold{layout: layout})
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

func consume(socketPath string, fold *layoutFold) {
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
		records++
		bytes += uint64(length)
		if fold != nil {
			if err := fold.add(payload); err != nil {
				fail(err)
			}
			continue
		}
		for i := 0; i < length; i += 64 {
			touch += uint64(payload[i])
		}
		if length > 0 {
			touch += uint64(payload[length-1])
		}
	}
	seconds := time.Since(started).Seconds()
	if seconds <= 0 {
		seconds = 1e-9
	}
	if fold != nil {
		report(map[string]any{"records": records, "bytes": bytes, "seconds": seconds, "recordsPerSecond": float64(records) / seconds, "checksum": fold.hash, "floatSum": fold.floatSum})
		return
	}
	report(map[string]any{"records": records, "bytes": bytes, "seconds": seconds, "recordsPerSecond": float64(records) / seconds, "touch": touch})
}

// layoutFold decodes every field of each record with shmring's record layout and folds it into the
// bench's struct checksum, exactly as `shmring bench-consume --layout` does (see its comment):
// hash = 31*hash + sum over fields (mod 2^32); floatSum += every float field, in record order.
type layoutFold struct {
	layout   *shmring.Layout
	hash     uint32
	floatSum float64
}

func (f *layoutFold) add(record []byte) error {
	if err := f.layout.Check(record); err != nil {
		return err
	}
	var sum uint32
	for _, field := range f.layout.Fields {
		switch field.Kind {
		case shmring.KindF32:
			f.floatSum += float64(field.Float32(record))
		case shmring.KindF64:
			f.floatSum += field.Float64(record)
		case shmring.KindUTF8, shmring.KindBytes:
			value := field.Bytes(record)
			length := len(value)
			if field.Kind == shmring.KindUTF8 {
				for i, b := range value {
					if b == 0 {
						length = i
						break
					}
				}
				sum += uint32(length)
			}
			if length > 0 {
				sum += uint32(value[0]) + uint32(value[length-1])
			}
		default:
			var bits uint64
			switch field.Size {
			case 1:
				bits = uint64(field.Uint8(record))
			case 2:
				bits = uint64(field.Uint16(record))
			case 4:
				bits = uint64(field.Uint32(record))
			default:
				bits = field.Uint64(record)
			}
			sum += uint32(bits) ^ uint32(bits>>32)
		}
	}
	f.hash = f.hash*31 + sum
	return nil
}
