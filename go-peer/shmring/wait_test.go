//go:build linux

package shmring

import (
	"context"
	"errors"
	"strconv"
	"syscall"
	"testing"
)

// FORMAT.md §6: any non-zero waiting flag means "waiting". A planted 2 used to be ignored by the
// Go notifier (it woke only on exactly 1), so a Node side that flagged oddly was never woken.
func TestNotifyPeerWakesOnAnyNonZeroFlag(t *testing.T) {
	ring := newTestRing(t, 4096, 0)
	flag, doorbell := ring.words.consumerWaiting, ring.words.dataDoorbell
	for _, planted := range []uint32{1, 2, 0xffffffff} {
		storeSeqCst32(flag, planted)
		before := loadSeqCst32(doorbell)
		if err := notifyPeer(flag, doorbell); err != nil {
			t.Fatal(err)
		}
		if after := loadSeqCst32(doorbell); after != before+1 {
			t.Fatalf("flag %#x: doorbell %d -> %d, want a bump", planted, before, after)
		}
	}
	storeSeqCst32(flag, 0)
	before := loadSeqCst32(doorbell)
	if err := notifyPeer(flag, doorbell); err != nil || loadSeqCst32(doorbell) != before {
		t.Fatalf("flag 0: doorbell %d -> %d, %v; want no bump", before, loadSeqCst32(doorbell), err)
	}
}

// A waiting flag cleared by someone else while a Go side is parked loses that wake-up, but the
// next slice re-stores the flag and re-reads the position: the read still completes.
func TestPlantedZeroFlagCostsAtMostASlice(t *testing.T) {
	ring := newTestRing(t, 4096, 0)
	producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager})
	consumer := mustConsumer(t, ring, ConsumerOptions{Wait: &WaitOptions{Spin: 0}})
	got := make(chan error, 1)
	go func() {
		record, err := consumer.Read(context.Background())
		if err == nil && string(record.Data) != "late" {
			err = errors.New("read " + strconv.Quote(string(record.Data)))
		}
		got <- err
	}()
	for loadSeqCst32(ring.words.consumerWaiting) != 1 {
		osYield()
	}
	storeSeqCst32(ring.words.consumerWaiting, 0)
	mustWrite(t, producer, 1, []byte("late")) // the notifier sees no flag: no wake
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// A consumer parked on a producer that dies holding its role ends with ErrPeerDead (after at most
// a slice and a lock check), unless it asked to wait through the death for a successor.
func TestParkedConsumerSeesDeadProducer(t *testing.T) {
	for _, waitThrough := range []bool{false, true} {
		t.Run("WaitThroughPeerDeath="+strconv.FormatBool(waitThrough), func(t *testing.T) {
			path := shmTestPath(t)
			ring, err := Create(path, CreateOptions{Capacity: 4096})
			if err != nil {
				t.Fatal(err)
			}
			defer ring.Close()
			consumer := mustConsumer(t, ring, ConsumerOptions{Wait: &WaitOptions{Spin: 0, WaitThroughPeerDeath: waitThrough}})
			child, stdout, _ := startChild(t, "hold-producer", path, streamSpec{})
			if line, err := stdout.ReadString('\n'); line != "attached\n" {
				t.Fatalf("child said %q, %v", line, err)
			}
			got := make(chan error, 1)
			go func() {
				_, err := consumer.Read(context.Background())
				got <- err
			}()
			for loadSeqCst32(ring.words.consumerWaiting) != 1 {
				osYield()
			}
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			child.Wait()
			if !waitThrough {
				expectError(t, <-got, ErrPeerDead, "producerPid "+strconv.Itoa(child.Process.Pid))
				return
			}
			producer := mustProducer(t, ring, ProducerOptions{Publish: PublishEager}) // the successor
			mustWrite(t, producer, 1, []byte("after the crash"))
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		})
	}
}
