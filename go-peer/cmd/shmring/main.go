// Command shmring inspects shmring ring files and runs test and benchmark peers over them.
//
//	shmring layout [--json]
//	shmring create FILE [--capacity C] [--max-record-length R] [--mode 0600]
//	shmring stat FILE [--json]
//	shmring cat FILE [--count N] [--follow] [--bytes K]
//	shmring produce FILE --count N [--seed S] [--max-length M] [--start N0]
//	                [--create [--capacity C] [--max-record-length R]] [--batch K] [--write-batch] [--park] [--spin K]
//	shmring consume [--verify] FILE [--count N] [--seed S] [--max-length M] [--start N0] [--read-batch] [--park] [--spin K]
//	shmring bench-produce FILE --count N --size B [--batch K] [--write-batch] [--park] [--spin K]
//	shmring bench-consume FILE [--park] [--spin K] [--layout SPEC] [--read-batch]
//	shmring relay IN OUT [--batch K] [--spin K] [--no-park]
//
// produce and consume speak the test stream shared with the TypeScript tests (see
// go-peer/teststream.go). Exit status: 0 success, 1 verification failure, corruption or another
// runtime error, 2 usage error.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/shmring/shmring/go-peer/shmring"
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `usage:
  shmring layout [--json]
  shmring create FILE [--capacity C] [--max-record-length R] [--mode 0600]
  shmring stat FILE [--json]
  shmring cat FILE [--count N] [--follow] [--bytes K]
  shmring produce FILE --count N [--seed S] [--max-length M] [--start N0]
                  [--create [--capacity C] [--max-record-length R]] [--batch K] [--write-batch] [--park] [--spin K]
  shmring consume [--verify] FILE [--count N] [--seed S] [--max-length M] [--start N0] [--read-batch] [--park] [--spin K]
  shmring bench-produce FILE --count N --size B [--batch K] [--write-batch] [--park] [--spin K]
  shmring bench-consume FILE [--park] [--spin K] [--layout SPEC] [--read-batch]
  shmring relay IN OUT [--batch K] [--spin K] [--no-park]

Without --park a waiting peer spins (yielding the processor); with --park it spins --spin times,
then sleeps on the ring's futex doorbell. produce ends the stream when done; consume stops after
--count records (0: at the end of the stream). relay copies every record (type and bytes) from
ring file IN to ring file OUT until IN's end of stream, then ends OUT (a pipeline process stage);
it parks when it waits unless --no-park. Exit status: 0 ok, 1 failure, 2 usage.
`

// usageError is a command-line mistake: exit status 2.
type usageError struct{ message string }

func (e usageError) Error() string { return e.message }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand: it parses its flags and runs.
type command struct {
	stdout, stderr io.Writer
	flags          *flag.FlagSet
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	commands := map[string]func(*command, []string) error{
		"layout":        (*command).layout,
		"create":        (*command).create,
		"stat":          (*command).stat,
		"cat":           (*command).cat,
		"produce":       (*command).produce,
		"consume":       (*command).consume,
		"bench-produce": (*command).benchProduce,
		"bench-consume": (*command).benchConsume,
		"relay":         (*command).relay,
	}
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	runCommand, known := commands[name]
	if !known {
		fmt.Fprintf(stderr, "shmring: unknown command %q\n%s", name, usageText)
		return exitUsage
	}
	flags := flag.NewFlagSet("shmring "+name, flag.ContinueOnError)
	flags.SetOutput(io.Discard) // errors are reported below, once
	err := runGuarded(func() error { return runCommand(&command{stdout: stdout, stderr: stderr, flags: flags}, rest) })
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage), errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stderr, "shmring %s: %v\n%s", name, err, usageText)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "shmring %s: %v\n", name, err)
		return exitFailure
	}
}

// runGuarded runs a command with faults turned into errors. The package guards its own accesses to
// a mapping; the commands also read record bytes themselves (cat prints them, consume checks them),
// and a ring file truncated by another process makes those reads fault (SIGBUS), which would end
// the process with a Go runtime crash instead of a message and exit status 1.
func runGuarded(runCommand func() error) (err error) {
	previous := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(previous)
		recovered := recover()
		if recovered == nil {
			return
		}
		if fault, isFault := recovered.(interface{ Addr() uintptr }); isFault {
			err = fmt.Errorf("%w: memory fault at %#x reading a ring mapping: the ring file was truncated under it", shmring.ErrCorrupt, fault.Addr())
			return
		}
		panic(recovered)
	}()
	return runCommand()
}

// parse parses flags that may come before, between or after the positional arguments, and
// requires exactly wantPositional of those.
func (c *command) parse(args []string, wantPositional int, positionalNames string) ([]string, error) {
	var positional []string
	for {
		if err := c.flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = c.flags.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) != wantPositional {
		return nil, usagef("expected %s, got %d argument(s)", positionalNames, len(positional))
	}
	return positional, nil
}

// waitFlags are the flags of every command that may wait for its peer.
type waitFlags struct {
	park *bool
	spin *int
}

func (c *command) waitFlags() waitFlags {
	return waitFlags{
		park: c.flags.Bool("park", false, "park on the futex doorbell after spinning (default: spin only)"),
		spin: c.flags.Int("spin", shmring.DefaultSpin, "with --park: spins before parking (0: park at once)"),
	}
}

func (w waitFlags) options() *shmring.WaitOptions {
	if !*w.park {
		return &shmring.WaitOptions{NeverPark: true}
	}
	return &shmring.WaitOptions{Spin: *w.spin} // 0 parks at once, here as in WaitOptions
}

// openConsumer opens the ring file at path and attaches its consumer; the caller closes the ring
// (and detaches or closes the consumer as its command requires).
func openConsumer(path string, wait waitFlags) (*shmring.Ring, *shmring.Consumer, error) {
	ring, err := shmring.Open(path)
	if err != nil {
		return nil, nil, err
	}
	consumer, err := ring.Consumer(shmring.ConsumerOptions{Wait: wait.options()})
	if err != nil {
		ring.Close()
		return nil, nil, err
	}
	return ring, consumer, nil
}

// streamFlags describe a slice of the test stream.
type streamFlags struct {
	count, seed, maxLength, start *uint64
}

func (c *command) streamFlags(countHelp string) streamFlags {
	return streamFlags{
		count:     c.flags.Uint64("count", 0, countHelp),
		seed:      c.flags.Uint64("seed", 1, "test stream seed"),
		maxLength: c.flags.Uint64("max-length", 1000, "test stream maximum record length"),
		start:     c.flags.Uint64("start", 0, "sequence number of the first record"),
	}
}

func (s streamFlags) check() error {
	for name, value := range map[string]uint64{"count": *s.count, "seed": *s.seed, "max-length": *s.maxLength, "start": *s.start} {
		if value > 0xFFFFFFFF {
			return usagef("--%s %d does not fit 32 bits", name, value)
		}
	}
	return nil
}

// interruptible returns a context cancelled by SIGINT or SIGTERM.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func (c *command) printJSON(value any) {
	encoded, _ := json.Marshal(value)
	fmt.Fprintln(c.stdout, string(encoded))
}

// ---- layout ----------------------------------------------------------------------------------

// layout prints the format constants compiled in from layout.h (through cgo), for the
// cross-language agreement test.
func (c *command) layout(args []string) error {
	asJSON := c.flags.Bool("json", false, "print JSON")
	if _, err := c.parse(args, 0, "no arguments"); err != nil {
		return err
	}
	constants := shmring.LayoutConstants()
	if *asJSON {
		c.printJSON(constants) // encoding/json sorts map keys
		return nil
	}
	names := make([]string, 0, len(constants))
	for name := range constants {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(c.stdout, "%-26s %d (%#x)\n", name, constants[name], constants[name])
	}
	return nil
}

// ---- create ----------------------------------------------------------------------------------

type createFlags struct {
	capacity, maxRecordLength *uint64
	mode                      *string
}

func (c *command) createFlags() createFlags {
	return createFlags{
		capacity:        c.flags.Uint64("capacity", 1<<20, "data area bytes, a power of two"),
		maxRecordLength: c.flags.Uint64("max-record-length", 0, "largest payload (default capacity/4, or the stream's --max-length if larger)"),
		mode:            c.flags.String("mode", "0600", "file permissions, octal"),
	}
}

func (f createFlags) create(path string, atLeastRecordLength uint64) (*shmring.Ring, error) {
	if *f.capacity > 0xFFFFFFFF {
		return nil, usagef("--capacity %d is too large", *f.capacity)
	}
	maxRecordLength := *f.maxRecordLength
	if maxRecordLength == 0 {
		maxRecordLength = max(*f.capacity/4, atLeastRecordLength)
	}
	if maxRecordLength > 0xFFFFFFFF {
		return nil, usagef("--max-record-length %d is too large", maxRecordLength)
	}
	mode, err := strconv.ParseUint(*f.mode, 8, 32)
	if err != nil || mode > 0o777 {
		return nil, usagef("--mode %q is not octal permission bits", *f.mode)
	}
	ring, err := shmring.Create(path, shmring.CreateOptions{
		Capacity: uint32(*f.capacity), MaxRecordLength: uint32(maxRecordLength), Mode: os.FileMode(mode),
	})
	if errors.Is(err, shmring.ErrUsage) {
		return nil, usageError{err.Error()}
	}
	return ring, err
}

func (c *command) create(args []string) error {
	creation := c.createFlags()
	positional, err := c.parse(args, 1, "FILE")
	if err != nil {
		return err
	}
	ring, err := creation.create(positional[0], 0)
	if err != nil {
		return err
	}
	return ring.Close()
}

// ---- stat ------------------------------------------------------------------------------------

func (c *command) stat(args []string) error {
	asJSON := c.flags.Bool("json", false, "print JSON")
	positional, err := c.parse(args, 1, "FILE")
	if err != nil {
		return err
	}
	ring, err := shmring.Open(positional[0])
	if err != nil {
		return err
	}
	defer ring.Close()
	stats, err := ring.Stats()
	if err != nil {
		return err
	}
	if *asJSON {
		c.printJSON(stats)
		return nil
	}
	fmt.Fprintf(c.stdout, "path              %s\n", stats.Path)
	fmt.Fprintf(c.stdout, "capacity          %d bytes (max record %d bytes), created by pid %d\n", stats.Capacity, stats.MaxRecordLength, stats.CreatorPid)
	fmt.Fprintf(c.stdout, "tail              %d (offset %d)\n", stats.Tail, stats.Tail&(stats.Capacity-1))
	fmt.Fprintf(c.stdout, "head              %d (offset %d)\n", stats.Head, stats.Head&(stats.Capacity-1))
	lag := fmt.Sprintf("%d bytes (%.1f%% full)", stats.BytesInFlight, 100*float64(stats.BytesInFlight)/float64(stats.Capacity))
	if stats.BytesInFlight > stats.Capacity {
		lag = fmt.Sprintf("%d bytes: CORRUPT, more than the capacity", stats.BytesInFlight)
	}
	fmt.Fprintf(c.stdout, "lag (in flight)   %s\n", lag)
	if stats.Sealed {
		fmt.Fprintf(c.stdout, "seals             %#x: sealed memfd, cannot be truncated\n", stats.Seals)
	} else {
		fmt.Fprintf(c.stdout, "seals             %#x: can be truncated by anyone who may write it (SIGBUS risk, README)\n", stats.Seals)
	}
	for _, side := range []struct {
		name  string
		stats shmring.RoleStats
	}{{"producer", stats.Producer}, {"consumer", stats.Consumer}} {
		heartbeat := "never"
		if side.stats.HeartbeatAgeSeconds >= 0 {
			heartbeat = fmt.Sprintf("%ds ago", side.stats.HeartbeatAgeSeconds)
		}
		fmt.Fprintf(c.stdout, "%-17s %s, pid %d, heartbeat %s, alive %s, waiting %s\n", side.name,
			side.stats.StateName, side.stats.Pid, heartbeat, yesNo(side.stats.Alive), yesNo(side.stats.Waiting))
	}
	return nil
}

func yesNo(value bool) string {
	if value {
		return "yes"
	}
	return "no"
}

// ---- cat -------------------------------------------------------------------------------------

func (c *command) cat(args []string) error {
	count := c.flags.Uint64("count", 0, "stop after this many records (0: no limit)")
	follow := c.flags.Bool("follow", false, "wait for more records until the end of the stream")
	prefix := c.flags.Int("bytes", 16, "payload bytes to print, in hex")
	wait := c.waitFlags()
	positional, err := c.parse(args, 1, "FILE")
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	ring, consumer, err := openConsumer(positional[0], wait)
	if err != nil {
		return err
	}
	defer ring.Close()
	defer consumer.Detach()
	printed := uint64(0)
	for *count == 0 || printed < *count {
		record, ok, err := consumer.TryRead()
		if err != nil {
			return err
		}
		if !ok {
			if err := consumer.Release(); err != nil || !*follow {
				return err
			}
			if err := consumer.Wait(ctx); errors.Is(err, shmring.ErrEndOfStream) {
				return nil
			} else if err != nil {
				return err
			}
			continue
		}
		shown := record.Data[:min(len(record.Data), max(*prefix, 0))]
		ellipsis := ""
		if len(shown) < len(record.Data) {
			ellipsis = "..."
		}
		fmt.Fprintf(c.stdout, "type=%d length=%d %s%s\n", record.Type, len(record.Data), hex.EncodeToString(shown), ellipsis)
		printed++
	}
	return consumer.Release()
}

// ---- produce ---------------------------------------------------------------------------------

type streamSummary struct {
	Records     uint64 `json:"records"`
	Bytes       uint64 `json:"bytes"`
	Next        uint32 `json:"next"`
	EndOfStream *bool  `json:"endOfStream,omitempty"`
	Interrupted bool   `json:"interrupted,omitempty"`
}

func (c *command) produce(args []string) error {
	stream := c.streamFlags("records to write (required)")
	createRing := c.flags.Bool("create", false, "create FILE first (it must not exist)")
	creation := c.createFlags()
	batch := c.flags.Int("batch", 1, "publish every K records (1: every record)")
	writeBatch := c.flags.Bool("write-batch", false, "write through Producer.WriteBatch (claims in place until one does not fit, one publish per batch)")
	wait := c.waitFlags()
	positional, err := c.parse(args, 1, "FILE")
	if err != nil {
		return err
	}
	if err := stream.check(); err != nil {
		return err
	}
	if *stream.count == 0 {
		return usagef("--count is required")
	}
	if *batch < 1 {
		return usagef("--batch %d must be at least 1", *batch)
	}
	ctx, stop := interruptible()
	defer stop()

	var ring *shmring.Ring
	if *createRing {
		ring, err = creation.create(positional[0], *stream.maxLength)
	} else {
		ring, err = shmring.Open(positional[0])
	}
	if err != nil {
		return err
	}
	defer ring.Close()
	if *stream.maxLength > uint64(ring.MaxRecordLength()) {
		return usagef("--max-length %d exceeds the ring's maxRecordLength %d", *stream.maxLength, ring.MaxRecordLength())
	}
	options := shmring.ProducerOptions{Publish: shmring.PublishEager, Wait: wait.options()}
	if *batch > 1 {
		options.Publish, options.BatchRecords = shmring.PublishBatched, *batch
	}
	producer, err := ring.Producer(options)
	if err != nil {
		return err
	}
	seed, maxLength, start := uint32(*stream.seed), uint32(*stream.maxLength), uint32(*stream.start)
	summary := streamSummary{Next: start}
	for *writeBatch && summary.Records < *stream.count {
		if ctx.Err() != nil {
			return c.interrupted(producer.Detach(), &summary)
		}
		written, err := producer.WriteBatch(func(batch *shmring.BatchWriter) error {
			for summary.Records < *stream.count {
				recordType, length := shmring.StreamRecord(seed, summary.Next, maxLength)
				buffer, err := batch.Claim(int(length), recordType)
				if err != nil || buffer == nil {
					return err
				}
				shmring.FillStreamPayload(buffer, seed, summary.Next)
				summary.Records++
				summary.Bytes += uint64(length)
				summary.Next++
			}
			return nil
		})
		if err != nil {
			producer.Detach()
			c.printJSON(summary)
			return err
		}
		if written == 0 {
			// Nothing fitted: wait for room for the next record (a claim then aborted moves nothing).
			recordType, length := shmring.StreamRecord(seed, summary.Next, maxLength)
			if _, err := producer.Claim(ctx, int(length), recordType); err != nil {
				if ctx.Err() != nil {
					return c.interrupted(producer.Detach(), &summary)
				}
				producer.Detach()
				c.printJSON(summary)
				return err
			}
			if err := producer.Abort(); err != nil {
				return err
			}
		}
	}
	for summary.Records < *stream.count {
		if summary.Records%1024 == 0 && ctx.Err() != nil { // a signal while there is room to write
			return c.interrupted(producer.Detach(), &summary)
		}
		recordType, length := shmring.StreamRecord(seed, summary.Next, maxLength)
		buffer, err := producer.Claim(ctx, int(length), recordType)
		if err != nil {
			if ctx.Err() != nil {
				return c.interrupted(producer.Detach(), &summary)
			}
			producer.Detach()
			c.printJSON(summary)
			return err
		}
		shmring.FillStreamPayload(buffer, seed, summary.Next)
		if err := producer.Commit(); err != nil {
			return err
		}
		summary.Records++
		summary.Bytes += uint64(length)
		summary.Next++
	}
	// Close publishes the last batch, then marks the end of the stream.
	if err := producer.Close(); err != nil {
		return err
	}
	c.printJSON(summary)
	return nil
}

// interrupted reports a peer stopped by a signal: everything committed was published (Detach
// publishes), the summary says where to continue, and the exit status is 1.
func (c *command) interrupted(detachErr error, summary *streamSummary) error {
	summary.Interrupted = true
	c.printJSON(summary)
	return errors.Join(errors.New("interrupted"), detachErr)
}

// ---- consume ---------------------------------------------------------------------------------

func (c *command) consume(args []string) error {
	verify := c.flags.Bool("verify", false, "verify every record against the test stream")
	stream := c.streamFlags("stop after this many records (0: at the end of the stream)")
	readBatch := c.flags.Bool("read-batch", false, "read through Consumer.ReadBatch (a cursor, one release per batch) instead of Poll")
	wait := c.waitFlags()
	positional, err := c.parse(args, 1, "FILE")
	if err != nil {
		return err
	}
	if err := stream.check(); err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	ring, consumer, err := openConsumer(positional[0], wait)
	if err != nil {
		return err
	}
	defer ring.Close()
	seed, maxLength := uint32(*stream.seed), uint32(*stream.maxLength)
	summary := streamSummary{Next: uint32(*stream.start)}
	endOfStream := false
	summary.EndOfStream = &endOfStream
	handle := func(recordType uint16, data []byte) error {
		if *verify {
			if err := shmring.VerifyStreamRecord(seed, summary.Next, maxLength, recordType, data); err != nil {
				return fmt.Errorf("verification failed: %w", err)
			}
		}
		summary.Records++
		summary.Bytes += uint64(len(data))
		summary.Next++
		return nil
	}
	for *stream.count == 0 || summary.Records < *stream.count {
		limit := 0
		if *stream.count != 0 {
			limit = int(min(*stream.count-summary.Records, 1<<30))
		}
		var handled int
		if *readBatch {
			handled, err = consumer.ReadBatch(limit, func(batch *shmring.BatchReader) error {
				for batch.Next() {
					if err := handle(batch.Type(), batch.Data()); err != nil {
						return err
					}
				}
				return nil
			})
		} else {
			handled, err = consumer.Poll(handle, limit)
		}
		if err != nil {
			// A verification failure or corruption: close the ring for reading, so that a
			// producer waiting for space fails (ErrClosed) instead of waiting forever.
			consumer.Close()
			c.printJSON(summary)
			return err
		}
		if handled > 0 {
			if ctx.Err() != nil { // a signal while records keep coming
				return c.interrupted(consumer.Detach(), &summary)
			}
			continue
		}
		if err := consumer.Wait(ctx); errors.Is(err, shmring.ErrEndOfStream) {
			endOfStream = true
			break
		} else if err != nil {
			if ctx.Err() != nil {
				return c.interrupted(consumer.Detach(), &summary)
			}
			consumer.Close()
			c.printJSON(summary)
			return err
		}
	}
	// Detach, not Close: another consumer may continue from here (--start next).
	if err := consumer.Detach(); err != nil {
		return err
	}
	c.printJSON(summary)
	return nil
}

// ---- benchmarks ------------------------------------------------------------------------------

type benchSummary struct {
	Role                    string  `json:"role"`
	Records                 uint64  `json:"records"`
	Bytes                   uint64  `json:"bytes"`
	Seconds                 float64 `json:"seconds"`
	RecordsPerSecond        float64 `json:"recordsPerSecond"`
	BytesPerSecond          float64 `json:"bytesPerSecond"`
	MegabytesPerSecond      float64 `json:"megabytesPerSecond"`
	MillionRecordsPerSecond float64 `json:"millionRecordsPerSecond"`
	// Touch is the sum of the payload bytes a consumer touched (so the work cannot be optimised away).
	Touch uint64 `json:"touch,omitempty"`
}

func newBenchSummary(role string, records, bytes uint64, elapsed time.Duration) benchSummary {
	seconds := elapsed.Seconds()
	if seconds <= 0 {
		seconds = 1e-9
	}
	return benchSummary{
		Role: role, Records: records, Bytes: bytes, Seconds: seconds,
		RecordsPerSecond: float64(records) / seconds, BytesPerSecond: float64(bytes) / seconds,
		MegabytesPerSecond: float64(bytes) / seconds / 1e6, MillionRecordsPerSecond: float64(records) / seconds / 1e6,
	}
}

func (c *command) benchProduce(args []string) error {
	count := c.flags.Uint64("count", 0, "records to write (required)")
	size := c.flags.Int("size", 64, "payload bytes per record")
	batch := c.flags.Int("batch", shmring.DefaultBatchRecords, "publish every K records (with --write-batch: records per WriteBatch)")
	writeBatch := c.flags.Bool("write-batch", false, "write through Producer.WriteBatch (claim in place, one publish per batch of --batch records)")
	wait := c.waitFlags()
	positional, err := c.parse(args, 1, "FILE")
	if err != nil {
		return err
	}
	if *count == 0 || *batch < 1 || *size < 0 {
		return usagef("--count must be positive, --batch at least 1, --size not negative")
	}
	ctx, stop := interruptible()
	defer stop()
	ring, err := shmring.Open(positional[0])
	if err != nil {
		return err
	}
	defer ring.Close()
	if uint64(*size) > uint64(ring.MaxRecordLength()) {
		return usagef("--size %d exceeds the ring's maxRecordLength %d", *size, ring.MaxRecordLength())
	}
	producer, err := ring.Producer(shmring.ProducerOptions{Publish: shmring.PublishBatched, BatchRecords: *batch, Wait: wait.options()})
	if err != nil {
		return err
	}
	payload := make([]byte, *size)
	started := time.Now()
	if *writeBatch {
		// Batches of up to --batch records claimed in place; when none fits, wait for room with a
		// claim that is then aborted.
		perBatch := *batch
		for written := uint64(0); written < *count; {
			in, err := producer.WriteBatch(func(writer *shmring.BatchWriter) error {
				for n := 0; n < perBatch && written < *count; n++ {
					buffer, err := writer.Claim(*size, 1)
					if err != nil || buffer == nil {
						return err
					}
					copy(buffer, payload)
					binaryPutSequence(buffer, written)
					written++
				}
				return nil
			})
			if err == nil && in == 0 {
				if _, err = producer.Claim(ctx, *size, 1); err == nil {
					err = producer.Abort()
				}
			}
			if err != nil {
				producer.Detach()
				return err
			}
		}
	}
	for written := uint64(0); !*writeBatch && written < *count; written++ {
		binaryPutSequence(payload, written)
		if err := producer.Write(ctx, payload, 1); err != nil {
			producer.Detach()
			return err
		}
	}
	if err := producer.Close(); err != nil {
		return err
	}
	c.printJSON(newBenchSummary("produce", *count, *count*uint64(*size), time.Since(started)))
	return nil
}

// binaryPutSequence stamps the record number into the payload (so it is not all zeros).
func binaryPutSequence(payload []byte, sequence uint64) {
	for i := 0; i < len(payload) && i < 8; i++ {
		payload[i] = byte(sequence >> (8 * i))
	}
}

func (c *command) benchConsume(args []string) error {
	wait := c.waitFlags()
	layoutSpec := c.flags.String("layout", "", "decode every field of each record with this record layout (ParseLayout text) and fold a checksum")
	readBatch := c.flags.Bool("read-batch", false, "read through Consumer.ReadBatch (a cursor, one release per batch) instead of Poll")
	positional, err := c.parse(args, 1, "FILE")
	if err != nil {
		return err
	}
	var fold *layoutFold
	if *layoutSpec != "" {
		layout, err := shmring.ParseLayout(*layoutSpec)
		if err != nil {
			return usagef("--layout: %v", err)
		}
		fold = &layoutFold{layout: layout}
	}
	ctx, stop := interruptible()
	defer stop()
	ring, consumer, err := openConsumer(positional[0], wait)
	if err != nil {
		return err
	}
	defer ring.Close()
	var records, bytes, touch uint64
	count := func(_ uint16, data []byte) error {
		records++
		bytes += uint64(len(data))
		if fold != nil {
			return fold.add(data)
		}
		// Touch each payload as every bench consumer does (one byte per 64-byte line and the last
		// byte), so the ring is compared with sockets on the same work.
		for i := 0; i < len(data); i += 64 {
			touch += uint64(data[i])
		}
		if len(data) > 0 {
			touch += uint64(data[len(data)-1])
		}
		return nil
	}
	var started time.Time
	readAll := func(batch *shmring.BatchReader) error {
		for batch.Next() {
			if err := count(batch.Type(), batch.Data()); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		var handled int
		if *readBatch {
			handled, err = consumer.ReadBatch(0, readAll)
		} else {
			handled, err = consumer.Poll(count, 0)
		}
		if err != nil {
			consumer.Close()
			return err
		}
		if handled > 0 && started.IsZero() {
			started = time.Now() // the clock starts at the first record, not at attach
		}
		if handled > 0 {
			continue
		}
		if err := consumer.Wait(ctx); errors.Is(err, shmring.ErrEndOfStream) {
			break
		} else if err != nil {
			consumer.Detach()
			return err
		}
	}
	elapsed := time.Duration(0)
	if !started.IsZero() {
		elapsed = time.Since(started)
	}
	if err := consumer.Detach(); err != nil {
		return err
	}
	summary := newBenchSummary("consume", records, bytes, elapsed)
	if fold != nil {
		c.printJSON(layoutSummary{benchSummary: summary, Checksum: fold.hash, FloatSum: fold.floatSum})
		return nil
	}
	summary.Touch = touch
	c.printJSON(summary)
	return nil
}

// layoutFold decodes every field of each record and folds it into the bench's struct checksum
// (bench/suites/structs-records.mjs; bench/go/socketpeer folds the same way), so a consumer that
// skipped a field or a record cannot match the producer's figure:
//
//	hash = 31*hash + sum over fields (mod 2^32), floatSum += every float field in record order
//
// where an integer field adds low32 xor high32 of its value, a utf8 field its length plus its first
// and last byte, a bytes field its first and last byte.
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

// layoutSummary is bench-consume's report with --layout: the checksum replaces the touch sum.
type layoutSummary struct {
	benchSummary
	Checksum uint32  `json:"checksum"`
	FloatSum float64 `json:"floatSum"`
}

// ---- relay -----------------------------------------------------------------------------------

type relaySummary struct {
	Records     uint64 `json:"records"`
	Bytes       uint64 `json:"bytes"`
	EndOfStream bool   `json:"endOfStream"`
	Interrupted bool   `json:"interrupted,omitempty"`
}

// relayInterruptCheckEvery: how many records the relay copies between looks at its signal context
// while records keep coming (waits notice a signal on their own).
const relayInterruptCheckEvery = 256

// relay is a pipeline process stage (src/pipeline.ts, ProcessStageDescriptor): it consumes IN until
// its end of stream and produces each record, unchanged, into OUT; then it ends OUT. Both waits
// (IN empty, OUT full) park on the futex doorbells after --spin polls. A failure never ends OUT:
// OUT is detached, so that its consumer cannot mistake a failure for the end of the stream, and IN
// is closed for reading, so that a producer waiting for space fails instead of waiting forever.
func (c *command) relay(args []string) error {
	batch := c.flags.Int("batch", shmring.DefaultBatchRecords, "publish OUT every K records (and whenever IN is empty or OUT full)")
	spin := c.flags.Int("spin", shmring.DefaultSpin, "polls before parking (0: park at once)")
	noPark := c.flags.Bool("no-park", false, "spin instead of parking (a busy core)")
	positional, err := c.parse(args, 2, "IN OUT")
	if err != nil {
		return err
	}
	if *batch < 1 {
		return usagef("--batch %d must be at least 1", *batch)
	}
	if *spin < 0 {
		return usagef("--spin %d must not be negative (0: park at once)", *spin)
	}
	wait := &shmring.WaitOptions{Spin: *spin, NeverPark: *noPark}
	ctx, stop := interruptible()
	defer stop()

	inRing, err := shmring.Open(positional[0])
	if err != nil {
		return err
	}
	defer inRing.Close()
	outRing, err := shmring.Open(positional[1])
	if err != nil {
		return err
	}
	defer outRing.Close()
	consumer, err := inRing.Consumer(shmring.ConsumerOptions{Wait: wait})
	if err != nil {
		return err
	}
	producer, err := outRing.Producer(shmring.ProducerOptions{Publish: shmring.PublishBatched, BatchRecords: *batch, Wait: wait})
	if err != nil {
		consumer.Close()
		return err
	}
	var summary relaySummary
	// A signal: publish what was copied and leave both rings open for successors, as produce does.
	interrupted := func() error {
		summary.Interrupted = true
		c.printJSON(summary)
		return errors.Join(errors.New("interrupted"), producer.Detach(), consumer.Detach())
	}
	failed := func(err error) error {
		c.printJSON(summary)
		return errors.Join(err, producer.Detach(), consumer.Close())
	}
	// Records are read with TryRead and released one at a time, each once its copy is committed to
	// OUT: a relay interrupted while it waits for room in OUT leaves the record it holds, and only
	// that one, to its successor, so none is lost or copied twice. (Poll would not do: a record
	// whose handler fails is consumed, as in TypeScript.)
	for read := 1; ; read++ {
		if read%relayInterruptCheckEvery == 0 && ctx.Err() != nil { // a signal while records keep coming
			return interrupted()
		}
		record, ok, err := consumer.TryRead()
		if err != nil {
			return failed(err)
		}
		if !ok {
			// IN is empty: publish what OUT holds before sleeping, so nothing lingers unseen.
			if err := producer.Flush(); err != nil {
				return failed(err)
			}
			if err := consumer.Wait(ctx); errors.Is(err, shmring.ErrEndOfStream) {
				break
			} else if err != nil {
				if ctx.Err() != nil {
					return interrupted()
				}
				return failed(err)
			}
			continue
		}
		if len(record.Data) > producer.MaxRecordLength() {
			return failed(fmt.Errorf("record %d: %d bytes do not fit OUT (maxRecordLength %d)", summary.Records, len(record.Data), producer.MaxRecordLength()))
		}
		// Claim publishes what is pending before it waits for space: a batch never waits on itself.
		destination, err := producer.Claim(ctx, len(record.Data), record.Type)
		if err != nil {
			if ctx.Err() != nil {
				return interrupted()
			}
			return failed(err)
		}
		copy(destination, record.Data)
		if err := producer.Commit(); err != nil {
			return failed(err)
		}
		if err := consumer.Release(); err != nil {
			return failed(err)
		}
		summary.Records++
		summary.Bytes += uint64(len(record.Data))
	}
	summary.EndOfStream = true
	// Close publishes the last batch, then ends OUT's stream.
	if err := producer.Close(); err != nil {
		return failed(err)
	}
	if err := consumer.Close(); err != nil {
		return err
	}
	c.printJSON(summary)
	return nil
}
