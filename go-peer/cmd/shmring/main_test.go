package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/shmring/shmring/go-peer/shmring"
)

// The CLI tests run the real command in separate processes: the test binary re-executes itself
// as the CLI (TestMain), so producer and consumer really are two processes sharing a /dev/shm ring.

const cliEnvironment = "SHMRING_CLI_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnvironment) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func cliCommand(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	executable, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	command := exec.Command(executable, args...)
	// atexit_sleep_ms=0: a race-enabled binary otherwise sleeps a second at exit (to catch late
	// reports), which only slows these tests; reports made before exit still fail them.
	command.Env = append(os.Environ(), cliEnvironment+"=1", "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	command.Stdout, command.Stderr = &stdout, &stderr
	return command, &stdout, &stderr
}

// cli runs the command to completion and returns its output and exit status.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	command, stdout, stderr := cliCommand(t, args...)
	err := command.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), command.ProcessState.ExitCode()
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, status := cli(t, args...)
	if status != 0 {
		t.Fatalf("shmring %s: exit %d\n%s", strings.Join(args, " "), status, stderr)
	}
	return stdout
}

func shmPath(t *testing.T) string {
	t.Helper()
	var random [6]byte
	rand.Read(random[:])
	path, err := shmring.ShmPath("shmring-cli-test-" + hex.EncodeToString(random[:]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return path
}

type summary struct {
	Records     uint64 `json:"records"`
	Bytes       uint64 `json:"bytes"`
	Next        uint32 `json:"next"`
	EndOfStream *bool  `json:"endOfStream"`
	Interrupted bool   `json:"interrupted"`
}

func parseSummary(t *testing.T, output string) summary {
	t.Helper()
	var parsed summary
	lines := strings.Split(strings.TrimSpace(output), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &parsed); err != nil {
		t.Fatalf("summary %q: %v", output, err)
	}
	return parsed
}

func TestProduceAndConsumeInTwoProcesses(t *testing.T) {
	for _, mode := range []struct {
		name string
		wait []string
	}{
		{"parked on futexes", []string{"--park", "--spin", "0"}},
		{"spinning", nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			path := shmPath(t)
			// 4 KiB against records of up to 1000 bytes: both sides wait on each other constantly.
			mustCLI(t, "create", path, "--capacity", "4096", "--max-record-length", "1000")
			consumer, consumerOut, consumerErr := cliCommand(t, append([]string{"consume", "--verify", path, "--seed", "7", "--max-length", "1000", "--start", "100"}, mode.wait...)...)
			if err := consumer.Start(); err != nil {
				t.Fatal(err)
			}
			produced := parseSummary(t, mustCLI(t, append([]string{"produce", path, "--count", "20000", "--seed", "7", "--max-length", "1000", "--start", "100", "--batch", "3"}, mode.wait...)...))
			if err := consumer.Wait(); err != nil {
				t.Fatalf("consumer: %v\n%s", err, consumerErr)
			}
			consumed := parseSummary(t, consumerOut.String())
			if produced.Records != 20000 || produced.Next != 20100 || consumed.Records != produced.Records || consumed.Bytes != produced.Bytes || consumed.Next != produced.Next {
				t.Fatalf("produced %+v, consumed %+v", produced, consumed)
			}
			if consumed.EndOfStream == nil || !*consumed.EndOfStream {
				t.Fatalf("consumer did not reach the end of the stream: %+v", consumed)
			}
		})
	}
}

func TestConsumeStopsAfterCountAndAnotherConsumerContinues(t *testing.T) {
	path := shmPath(t)
	produced := parseSummary(t, mustCLI(t, "produce", path, "--create", "--capacity", "1048576", "--count", "100", "--seed", "3", "--max-length", "500"))
	first := parseSummary(t, mustCLI(t, "consume", "--verify", path, "--count", "40", "--seed", "3", "--max-length", "500"))
	if first.Records != 40 || first.Next != 40 || *first.EndOfStream {
		t.Fatalf("first consumer %+v", first)
	}
	second := parseSummary(t, mustCLI(t, "consume", "--verify", path, "--start", "40", "--seed", "3", "--max-length", "500"))
	if second.Records != 60 || second.Next != 100 || !*second.EndOfStream || first.Bytes+second.Bytes != produced.Bytes {
		t.Fatalf("second consumer %+v (produced %+v)", second, produced)
	}
}

// recordOffset is where record seq of a stream written from position 0 starts (no wrap).
func recordOffset(seed, maxLength, seq uint32) int64 {
	offset := int64(shmring.HeaderLength)
	for n := uint32(0); n < seq; n++ {
		_, length := shmring.StreamRecord(seed, n, maxLength)
		offset += (int64(length) + 8 + 7) &^ 7
	}
	return offset
}

func TestConsumeVerifyNamesTheFirstBadSeq(t *testing.T) {
	path := shmPath(t)
	mustCLI(t, "produce", path, "--create", "--count", "10", "--seed", "1", "--max-length", "1000")
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Flip the first payload byte of record 3 (records 0..4 have lengths 13, 350, 306, 856, 647).
	payloadOffset := recordOffset(1, 1000, 3) + 8
	var damaged [1]byte
	file.ReadAt(damaged[:], payloadOffset)
	damaged[0] ^= 0xFF
	file.WriteAt(damaged[:], payloadOffset)
	file.Close()

	stdout, stderr, status := cli(t, "consume", "--verify", path, "--seed", "1", "--max-length", "1000")
	if status != 1 || !strings.Contains(stderr, "seq 3") || !strings.Contains(stderr, "verification failed") {
		t.Fatalf("exit %d, stderr %q", status, stderr)
	}
	if report := parseSummary(t, stdout); report.Records != 3 || report.Next != 3 {
		t.Fatalf("summary %+v", report)
	}
	stdout, stderr, status = cli(t, "consume", "--verify", path, "--seed", "2", "--max-length", "1000", "--start", "3")
	if status != 1 || !strings.Contains(stderr, "seq 3") {
		t.Fatalf("wrong seed: exit %d, stderr %q", status, stderr)
	}
}

func TestConsumeRefusesACorruptRing(t *testing.T) {
	path := shmPath(t)
	mustCLI(t, "produce", path, "--create", "--count", "3", "--seed", "1", "--max-length", "1000")
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var length [4]byte
	binary.LittleEndian.PutUint32(length[:], 4000000) // record 0's length
	file.WriteAt(length[:], int64(shmring.HeaderLength))
	file.Close()
	_, stderr, status := cli(t, "consume", "--verify", path, "--seed", "1", "--max-length", "1000")
	if status != 1 || !strings.Contains(stderr, "corrupt ring: record.length 4000000 at offset 0 exceeds maxRecordLength") {
		t.Fatalf("exit %d, stderr %q", status, stderr)
	}
	_, stderr, status = cli(t, "cat", path)
	if status != 1 || !strings.Contains(stderr, "corrupt ring") {
		t.Fatalf("cat: exit %d, stderr %q", status, stderr)
	}
}

func TestStatAndCat(t *testing.T) {
	path := shmPath(t)
	mustCLI(t, "produce", path, "--create", "--capacity", "65536", "--count", "3", "--seed", "1", "--max-length", "1000")
	var stats shmring.Stats
	if err := json.Unmarshal([]byte(mustCLI(t, "stat", "--json", path)), &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Capacity != 65536 || stats.MaxRecordLength != 16384 || stats.Tail != 704 || stats.Head != 0 ||
		stats.BytesInFlight != 704 || stats.Producer.StateName != "closed" || stats.Producer.Alive {
		t.Fatalf("stats %+v", stats)
	}
	if text := mustCLI(t, "stat", path); !strings.Contains(text, "lag (in flight)   704 bytes") || !strings.Contains(text, "producer          closed") {
		t.Fatalf("stat:\n%s", text)
	}
	lines := strings.Split(strings.TrimSpace(mustCLI(t, "cat", path, "--bytes", "8")), "\n")
	want := []string{
		"type=0 length=13 b7284e5170a285ef...",
		"type=1 length=350 03b5de36bc2e16d5...",
		"type=2 length=306 9083bc1249fdf3b0...",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("cat printed\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if again := mustCLI(t, "cat", path); again != "" { // cat consumes
		t.Fatalf("second cat printed %q", again)
	}
}

func TestUsageAndFailureExitStatuses(t *testing.T) {
	path := shmPath(t)
	mustCLI(t, "create", path, "--capacity", "4096", "--max-record-length", "1024")
	for _, test := range []struct {
		args   []string
		status int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"produce"}, 2},
		{[]string{"produce", path}, 2}, // --count is required
		{[]string{"produce", path, "--count", "5", "--max-length", "5000"}, 2},
		{[]string{"consume", path, "--bogus"}, 2},
		{[]string{"stat", path, path}, 2},
		{[]string{"create", path + "-x", "--capacity", "1000"}, 2},
		{[]string{"create", path}, 1}, // exists
		{[]string{"stat", "/nonexistent/ring"}, 1},
		{[]string{"stat", t.TempDir()}, 1},
		{[]string{"help"}, 0},
	} {
		if _, stderr, status := cli(t, test.args...); status != test.status {
			t.Errorf("shmring %s: exit %d, want %d\n%s", strings.Join(test.args, " "), status, test.status, stderr)
		}
	}
	if _, err := os.Stat(path + "-x"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused create left a file")
	}
}

func TestBenchPeers(t *testing.T) {
	path := shmPath(t)
	mustCLI(t, "create", path, "--capacity", "65536")
	consumer, consumerOut, consumerErr := cliCommand(t, "bench-consume", path, "--park")
	if err := consumer.Start(); err != nil {
		t.Fatal(err)
	}
	producerOut := mustCLI(t, "bench-produce", path, "--count", "100000", "--size", "64", "--park")
	if err := consumer.Wait(); err != nil {
		t.Fatalf("bench-consume: %v\n%s", err, consumerErr)
	}
	for _, output := range []string{producerOut, consumerOut.String()} {
		var report struct {
			Records          uint64  `json:"records"`
			Bytes            uint64  `json:"bytes"`
			RecordsPerSecond float64 `json:"recordsPerSecond"`
			BytesPerSecond   float64 `json:"bytesPerSecond"`
		}
		if err := json.Unmarshal([]byte(output), &report); err != nil {
			t.Fatalf("%q: %v", output, err)
		}
		if report.Records != 100000 || report.Bytes != 6400000 || report.RecordsPerSecond <= 0 || report.BytesPerSecond <= 0 {
			t.Fatalf("report %+v", report)
		}
	}
}

// An interrupted producer publishes what it committed, detaches (no end of stream) and reports
// where a successor should continue.
func TestInterruptedProducerDetachesAndReportsNext(t *testing.T) {
	path := shmPath(t)
	mustCLI(t, "create", path, "--capacity", "4096", "--max-record-length", "1000")
	ring, err := shmring.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	consumer, err := ring.Consumer(shmring.ConsumerOptions{Wait: &shmring.WaitOptions{Spin: 0}})
	if err != nil {
		t.Fatal(err)
	}
	producer, producerOut, _ := cliCommand(t, "produce", path, "--count", "1000000", "--seed", "9", "--max-length", "1000", "--park", "--batch", "5")
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	// The first record proves the producer is running; it then fills the ring and parks.
	ctx := context.Background()
	if _, err := consumer.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if err := producer.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := producer.Wait(); producer.ProcessState.ExitCode() != 1 {
		t.Fatalf("interrupted producer: %v", err)
	}
	report := parseSummary(t, producerOut.String())
	if !report.Interrupted || report.Next != uint32(report.Records) {
		t.Fatalf("summary %+v", report)
	}
	stats, _ := ring.Stats()
	if stats.Producer.StateName != "detached" || stats.Producer.Alive {
		t.Fatalf("producer after SIGTERM: %+v", stats.Producer)
	}
	// Everything it reported is in the ring (already read: record 0).
	consumer.Release()
	next := uint32(1)
	for {
		handled, err := consumer.Poll(func(recordType uint16, data []byte) error {
			if err := shmring.VerifyStreamRecord(9, next, 1000, recordType, data); err != nil {
				return err
			}
			next++
			return nil
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if handled == 0 {
			break
		}
	}
	if next != report.Next {
		t.Fatalf("ring held records up to %d; producer reported next %d", next, report.Next)
	}
}

func TestLayoutPrintsEveryHeaderConstant(t *testing.T) {
	var constants map[string]uint32
	if err := json.Unmarshal([]byte(mustCLI(t, "layout", "--json")), &constants); err != nil {
		t.Fatal(err)
	}
	if len(constants) < 38 || constants["TAIL_OFFSET"] != 128 || constants["PADDING_TYPE"] != 0xFFFFFFFF || constants["MAX_CAPACITY"] != 1<<30 {
		t.Fatalf("layout --json: %v", constants)
	}
	if text := mustCLI(t, "layout"); !strings.Contains(text, "SPACE_DOORBELL_OFFSET") {
		t.Fatalf("layout:\n%s", text)
	}
}

// relay between two processes on each side: produce -> IN -> relay -> OUT -> consume --verify.
// Small rings make every peer wait on its neighbour constantly, parked on futexes; every record
// (type, length, bytes) is verified after the relay, and the end of the stream travels through it.
func TestRelayCopiesEveryRecordAndEndsTheStream(t *testing.T) {
	in, out := shmPath(t), shmPath(t)
	mustCLI(t, "create", in, "--capacity", "4096", "--max-record-length", "1000")
	mustCLI(t, "create", out, "--capacity", "8192", "--max-record-length", "1000")
	relay, relayOut, relayErr := cliCommand(t, "relay", in, out, "--spin", "0", "--batch", "5")
	consumer, consumerOut, consumerErr := cliCommand(t, "consume", "--verify", out, "--seed", "9", "--max-length", "1000", "--park", "--spin", "0")
	for _, peer := range []*exec.Cmd{relay, consumer} {
		if err := peer.Start(); err != nil {
			t.Fatal(err)
		}
	}
	produced := parseSummary(t, mustCLI(t, "produce", in, "--count", "20000", "--seed", "9", "--max-length", "1000", "--batch", "3", "--park"))
	if err := relay.Wait(); err != nil {
		t.Fatalf("relay: %v\n%s", err, relayErr)
	}
	if err := consumer.Wait(); err != nil {
		t.Fatalf("consumer: %v\n%s", err, consumerErr)
	}
	relayed, consumed := parseSummary(t, relayOut.String()), parseSummary(t, consumerOut.String())
	if relayed.Records != 20000 || relayed.Bytes != produced.Bytes || relayed.EndOfStream == nil || !*relayed.EndOfStream {
		t.Fatalf("produced %+v, relayed %+v", produced, relayed)
	}
	if consumed.Records != 20000 || consumed.Bytes != produced.Bytes || consumed.EndOfStream == nil || !*consumed.EndOfStream {
		t.Fatalf("produced %+v, consumed %+v", produced, consumed)
	}
}

// A relay interrupted while it waits for room in OUT hands the record it holds to its successor:
// a successor relay and a verifying consumer then see every record once, in order. (The relay
// releases each IN record only after committing its copy; a Poll handler's failed record would be
// consumed and lost here.)
func TestInterruptedRelayHandsItsRecordToASuccessor(t *testing.T) {
	in, out := shmPath(t), shmPath(t)
	mustCLI(t, "create", in, "--capacity", "65536", "--max-record-length", "1000")
	mustCLI(t, "create", out, "--capacity", "4096", "--max-record-length", "1000")
	produced := parseSummary(t, mustCLI(t, "produce", in, "--count", "40", "--seed", "9", "--max-length", "1000"))
	outRing, err := shmring.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer outRing.Close()

	relay, relayOut, relayErr := cliCommand(t, "relay", in, out, "--spin", "0")
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- relay.Wait() }()
	// Nobody reads OUT (4 KiB): the relay fills it and parks for space, holding the next IN record.
	for {
		stats, err := outRing.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if stats.Producer.Waiting {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("relay exited before OUT filled: %v\n%s", err, relayErr)
		default:
			runtime.Gosched()
		}
	}
	if err := relay.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-exited
	first := parseSummary(t, relayOut.String())
	if relay.ProcessState.ExitCode() != 1 || !first.Interrupted || first.Records == 0 || first.Records >= 40 {
		t.Fatalf("interrupted relay: exit %d, summary %+v\n%s", relay.ProcessState.ExitCode(), first, relayErr)
	}

	successor, successorOut, successorErr := cliCommand(t, "relay", in, out, "--spin", "0")
	consumer, consumerOut, consumerErr := cliCommand(t, "consume", "--verify", out, "--seed", "9", "--max-length", "1000", "--park", "--spin", "0")
	for _, peer := range []*exec.Cmd{successor, consumer} {
		if err := peer.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := successor.Wait(); err != nil {
		t.Fatalf("successor relay: %v\n%s", err, successorErr)
	}
	if err := consumer.Wait(); err != nil {
		t.Fatalf("consumer: %v\n%s", err, consumerErr)
	}
	second, consumed := parseSummary(t, successorOut.String()), parseSummary(t, consumerOut.String())
	if first.Records+second.Records != 40 || consumed.Records != 40 || consumed.Bytes != produced.Bytes || consumed.EndOfStream == nil || !*consumed.EndOfStream {
		t.Fatalf("relayed %d + %d, consumed %+v; produced %+v", first.Records, second.Records, consumed, produced)
	}
}

// A relay whose OUT is closed by its consumer fails (exit 1) and closes IN for reading, so that
// the producer waiting for space fails too instead of waiting forever; OUT gets no end of stream.
func TestRelayFailsWhenOutIsClosedAndClosesIn(t *testing.T) {
	in, out := shmPath(t), shmPath(t)
	mustCLI(t, "create", in, "--capacity", "4096", "--max-record-length", "1000")
	mustCLI(t, "create", out, "--capacity", "4096", "--max-record-length", "1000")
	outRing, err := shmring.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer outRing.Close()
	outConsumer, err := outRing.Consumer(shmring.ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := outConsumer.Close(); err != nil {
		t.Fatal(err)
	}
	relay, _, relayErr := cliCommand(t, "relay", in, out, "--spin", "0")
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	_, produceErr, produceStatus := cli(t, "produce", in, "--count", "20000", "--max-length", "1000", "--park")
	relayStatus := 0
	if err := relay.Wait(); err != nil {
		relayStatus = relay.ProcessState.ExitCode()
	}
	if relayStatus != 1 || !strings.Contains(relayErr.String(), "closed") {
		t.Fatalf("relay: exit %d, stderr %q", relayStatus, relayErr)
	}
	if produceStatus != 1 || !strings.Contains(produceErr, "closed") {
		t.Fatalf("produce: exit %d, stderr %q", produceStatus, produceErr)
	}
	stats, err := outRing.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Producer.StateName == "closed" {
		t.Fatalf("OUT was ended by a failing relay: %+v", stats.Producer)
	}
}

// bench-consume --layout folds every field into the checksum of bench/suites/structs-records.mjs;
// the expected figures are worked by hand from that rule.
func TestLayoutFoldDecodesEveryField(t *testing.T) {
	layout := shmring.MustParseLayout("id:u64,price:f64,qty:u32,symbol:utf8[20]")
	fold := &layoutFold{layout: layout}
	record := make([]byte, layout.Size)
	put := func(id uint64, price float64, qty uint32, symbol string) {
		layout.MustField("id").PutUint64(record, id)
		layout.MustField("price").PutFloat64(record, price)
		layout.MustField("qty").PutUint32(record, qty)
		layout.MustField("symbol").PutString(record, symbol)
		if err := fold.add(record); err != nil {
			t.Fatal(err)
		}
	}
	// (5 xor 256) + 7 + (2 + 'A' + 'B') = 401.
	put(1<<40+5, 1.5, 7, "AB")
	if fold.hash != 401 || fold.floatSum != 1.5 {
		t.Fatalf("after one record: hash %d, floatSum %v", fold.hash, fold.floatSum)
	}
	// 401*31 + 3 + 1 + (20 + 'Z' + 'Z'): a symbol filling its field has no terminating zero.
	put(3, 2.25, 1, strings.Repeat("Z", 20))
	if fold.hash != 401*31+204 || fold.floatSum != 3.75 {
		t.Fatalf("after two records: hash %d, floatSum %v", fold.hash, fold.floatSum)
	}
	if err := fold.add(record[:layout.Size-1]); !errors.Is(err, shmring.ErrCorrupt) || !strings.Contains(err.Error(), "record.length 39") {
		t.Fatalf("short record: %v", err)
	}
}

func TestBenchConsumeRejectsABadLayout(t *testing.T) {
	path := shmPath(t)
	mustCLI(t, "create", path, "--capacity", "65536")
	_, stderr, status := cli(t, "bench-consume", path, "--layout", "id:u65")
	if status != exitUsage || !strings.Contains(stderr, "--layout") || !strings.Contains(stderr, "u65") {
		t.Fatalf("exit %d, stderr %q", status, stderr)
	}
}
