package shmring

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Two-process tests: the test binary re-executes itself as the peer (TestMain dispatches on
// SHMRING_TEST_CHILD), over a uniquely named /dev/shm ring, so the futex doorbells and the OFD
// role locks are exercised across real process boundaries.

const childEnvironment = "SHMRING_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnvironment); role != "" {
		if err := runChild(role); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func childSpec() (string, streamSpec) {
	number := func(name string) uint32 {
		value, _ := strconv.ParseUint(os.Getenv("SHMRING_TEST_"+name), 10, 32)
		return uint32(value)
	}
	return os.Getenv("SHMRING_TEST_PATH"), streamSpec{seed: number("SEED"), start: number("START"), count: number("COUNT"), maxLength: number("MAXLEN")}
}

// parkingWait parks at once, with a park slice long enough that a lost wake-up shows as a timeout.
var parkingWait = &WaitOptions{Spin: 0, ParkTimeout: 60e9}

func runChild(role string) error {
	path, spec := childSpec()
	ring, err := Open(path)
	if err != nil {
		return err
	}
	defer ring.Close()
	ctx := context.Background()
	switch role {
	case "produce":
		producer, err := ring.Producer(ProducerOptions{Wait: parkingWait})
		if err != nil {
			return err
		}
		if err := produceStream(ctx, producer, spec, true, true); err != nil {
			return err
		}
		if producer.waitStats.parkTimeouts != 0 {
			return fmt.Errorf("%d parks ended by timeout", producer.waitStats.parkTimeouts)
		}
		return nil
	case "consume":
		consumer, err := ring.Consumer(ConsumerOptions{Wait: parkingWait})
		if err != nil {
			return err
		}
		next, err := consumeStream(ctx, consumer, spec, true, false)
		if err != nil {
			return fmt.Errorf("at seq %d: %w", next, err)
		}
		if consumer.waitStats.parkTimeouts != 0 {
			return fmt.Errorf("%d parks ended by timeout", consumer.waitStats.parkTimeouts)
		}
		fmt.Println("next", next)
		return consumer.Close()
	case "hold-producer":
		if _, err := ring.Producer(ProducerOptions{}); err != nil {
			return err
		}
		fmt.Println("attached")
		io.Copy(io.Discard, os.Stdin) // hold the role until killed (or stdin closes)
		return nil
	}
	return fmt.Errorf("unknown child role %q", role)
}

func startChild(t *testing.T, role, path string, spec streamSpec) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	executable, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(executable, "-test.run=^$")
	child.Env = append(os.Environ(),
		childEnvironment+"="+role,
		"GORACE=atexit_sleep_ms=0", // no one-second sleep at exit of a race-enabled child
		"SHMRING_TEST_PATH="+path,
		fmt.Sprintf("SHMRING_TEST_SEED=%d", spec.seed),
		fmt.Sprintf("SHMRING_TEST_START=%d", spec.start),
		fmt.Sprintf("SHMRING_TEST_COUNT=%d", spec.count),
		fmt.Sprintf("SHMRING_TEST_MAXLEN=%d", spec.maxLength),
	)
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		child.Process.Kill()
		child.Wait()
	})
	return child, bufio.NewReader(stdout), stdin
}

func TestTwoProcessesParkedOnFutexes(t *testing.T) {
	spec := streamSpec{seed: 77, start: 1000, count: stressCount(5000, 50000), maxLength: 900}
	path := shmTestPath(t)
	ring, err := Create(path, CreateOptions{Capacity: 4096, MaxRecordLength: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()

	t.Run("child produces, this process consumes", func(t *testing.T) {
		consumer := mustConsumer(t, ring, ConsumerOptions{Wait: parkingWait})
		child, _, _ := startChild(t, "produce", path, spec)
		next, err := consumeStream(context.Background(), consumer, spec, true, false)
		if err != nil {
			t.Fatalf("at seq %d: %v", next, err)
		}
		if err := child.Wait(); err != nil {
			t.Fatalf("producer process: %v", err)
		}
		if next != spec.start+spec.count || consumer.waitStats.parkTimeouts != 0 {
			t.Fatalf("next %d, park timeouts %d", next, consumer.waitStats.parkTimeouts)
		}
		t.Logf("consumer parked %d times", consumer.waitStats.parks)
		if err := consumer.Detach(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("this process produces, child consumes", func(t *testing.T) {
		spec := spec
		spec.start += spec.count
		producer := mustProducer(t, ring, ProducerOptions{Wait: parkingWait, Publish: PublishBatched, BatchRecords: 8})
		child, stdout, _ := startChild(t, "consume", path, spec)
		if err := produceStream(context.Background(), producer, spec, true, false); err != nil {
			t.Fatal(err)
		}
		report, _ := stdout.ReadString('\n')
		if err := child.Wait(); err != nil {
			t.Fatalf("consumer process: %v", err)
		}
		if want := fmt.Sprintf("next %d\n", spec.start+spec.count); report != want || producer.waitStats.parkTimeouts != 0 {
			t.Fatalf("child reported %q, want %q; park timeouts %d", report, want, producer.waitStats.parkTimeouts)
		}
		t.Logf("producer parked %d times", producer.waitStats.parks)
	})
}

func TestKilledProducerReleasesItsRole(t *testing.T) {
	path := shmTestPath(t)
	ring, err := Create(path, CreateOptions{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	consumer := mustConsumer(t, ring, ConsumerOptions{})

	child, stdout, _ := startChild(t, "hold-producer", path, streamSpec{})
	if line, err := stdout.ReadString('\n'); line != "attached\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	if alive, err := consumer.PeerAlive(); err != nil || !alive {
		t.Fatalf("PeerAlive with a live producer process = %v, %v", alive, err)
	}
	_, err = ring.Producer(ProducerOptions{})
	expectError(t, err, ErrLocked, "producerPid "+strconv.Itoa(child.Process.Pid))

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait() // the kernel closed its descriptors, and so dropped its OFD lock, before this returns
	if alive, err := consumer.PeerAlive(); err != nil || alive {
		t.Fatalf("PeerAlive after kill -9 = %v, %v", alive, err)
	}
	// The dead producer's state word still says ATTACHED: that is why liveness is the lock.
	stats, err := ring.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Producer.State != RoleAttached || stats.Producer.Pid != uint32(child.Process.Pid) || stats.Producer.Alive {
		t.Fatalf("stats after kill -9: %+v", stats.Producer)
	}
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager}) // the role is free again
	mustWrite(t, producer, 1, []byte("after the crash"))
	if record := mustRead(t, consumer); string(record.Data) != "after the crash" {
		t.Fatalf("read %q", record.Data)
	}
}

// A consumer parked in another process must be woken by the end of stream, not only by data.
func TestEndOfStreamWakesAParkedConsumerProcess(t *testing.T) {
	path := shmTestPath(t)
	ring, err := Create(path, CreateOptions{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	spec := streamSpec{seed: 5, start: 0, count: 0, maxLength: 100}
	child, stdout, _ := startChild(t, "consume", path, spec)
	// Close once the child is parked (or about to be: it sets its waiting flag just before the
	// futex wait, and the protocol must wake it in either case).
	for loadSeqCst32(ring.words.consumerWaiting) != 1 {
		runtime.Gosched()
	}
	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}
	report, _ := stdout.ReadString('\n')
	if err := child.Wait(); err != nil || strings.TrimSpace(report) != "next 0" {
		t.Fatalf("child: %v, reported %q", err, report)
	}
}
