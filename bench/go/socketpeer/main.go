// Command socketpeer is the Go end of the bench's Node -> Go Unix-socket baseline: it connects to a
// Unix socket, reads length-prefixed frames (u32 length, u32 type, payload; little-endian) until
// EOF, touches each payload as the Node consumers do (one byte per 64-byte line and the last byte),
// and prints one JSON line: {"records":N,"bytes":N,"seconds":S,"recordsPerSecond":R,"touch":T}.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "consume" {
		fmt.Fprintln(os.Stderr, "usage: socketpeer consume SOCKET")
		os.Exit(2)
	}
	conn, err := net.Dial("unix", os.Args[2])
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
	out, _ := json.Marshal(map[string]any{"records": records, "bytes": bytes, "seconds": seconds, "recordsPerSecond": float64(records) / seconds, "touch": touch})
	fmt.Println(string(out))
}
