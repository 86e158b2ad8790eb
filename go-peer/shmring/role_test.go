package shmring

import (
	"os"
	"strconv"
	"testing"
)

func TestRoleLockRefusesASecondHolderAndNamesIt(t *testing.T) {
	first := newTestRing(t, 64, 16)
	second, err := Open(first.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()

	producer := mustProducer(t, first, ProducerOptions{})
	pid := strconv.Itoa(os.Getpid())
	// Another open file description (here: another Ring in this process) is refused by the kernel.
	_, err = second.Producer(ProducerOptions{})
	expectError(t, err, ErrLocked, "producerPid "+pid)
	// The same Ring is refused by the in-process check (OFD locks of one description never conflict).
	_, err = first.Producer(ProducerOptions{})
	expectError(t, err, ErrLocked, "producerPid "+pid)
	// The other role is independent.
	consumer := mustConsumer(t, second, ConsumerOptions{})
	_, err = first.Consumer(ConsumerOptions{})
	expectError(t, err, ErrLocked, "consumerPid "+pid)

	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}
	again := mustProducer(t, second, ProducerOptions{})
	if err := again.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := consumer.Detach(); err != nil {
		t.Fatal(err)
	}
	mustConsumer(t, first, ConsumerOptions{})
}

func TestRoleStatesPidsAndHeartbeats(t *testing.T) {
	ring := newTestRing(t, 64, 16)
	stats, err := ring.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Producer.State != RoleDetached || stats.Producer.Alive || stats.Producer.HeartbeatAgeSeconds != -1 {
		t.Fatalf("fresh ring producer stats %+v", stats.Producer)
	}
	producer := mustProducer(t, ring, ProducerOptions{})
	consumer := mustConsumer(t, ring, ConsumerOptions{})
	stats, err = ring.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []RoleStats{stats.Producer, stats.Consumer} {
		if side.State != RoleAttached || side.StateName != "attached" || side.Pid != uint32(os.Getpid()) || side.Heartbeat == 0 || !side.Alive {
			t.Fatalf("attached side %+v", side)
		}
	}
	if alive, err := producer.PeerAlive(); err != nil || !alive {
		t.Fatalf("producer.PeerAlive = %v, %v", alive, err)
	}

	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}
	if state, pid := loadSeqCst32(ring.words.producerState), loadRelaxed32(ring.words.producerPid); state != RoleClosed || pid != 0 {
		t.Fatalf("after Close: producer state %d pid %d; want CLOSED, 0", state, pid)
	}
	if alive, err := consumer.PeerAlive(); err != nil || alive {
		t.Fatalf("consumer.PeerAlive after producer Close = %v, %v", alive, err)
	}
	if err := consumer.Detach(); err != nil {
		t.Fatal(err)
	}
	if state := loadSeqCst32(ring.words.consumerState); state != RoleDetached {
		t.Fatalf("after Detach: consumer state %d", state)
	}
	consumer = mustConsumer(t, ring, ConsumerOptions{})
	if err := consumer.Close(); err != nil {
		t.Fatal(err)
	}
	if state := loadSeqCst32(ring.words.consumerState); state != RoleClosed {
		t.Fatalf("after Close: consumer state %d", state)
	}
	if err := consumer.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPeerAliveSeesAnotherRingsLock(t *testing.T) {
	first := newTestRing(t, 64, 16)
	second, err := Open(first.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	consumer := mustConsumer(t, first, ConsumerOptions{})
	if alive, _ := consumer.PeerAlive(); alive {
		t.Fatal("producer alive before anyone took the role")
	}
	producer := mustProducer(t, second, ProducerOptions{})
	if alive, _ := consumer.PeerAlive(); !alive {
		t.Fatal("producer held through another Ring is not alive")
	}
	// Closing the Ring (not the role) drops the lock too.
	second.Close()
	if alive, _ := consumer.PeerAlive(); alive {
		t.Fatal("producer alive after its Ring closed")
	}
	if state := loadSeqCst32(first.words.producerState); state != RoleDetached {
		t.Fatalf("Ring.Close left producer state %d; want DETACHED (only Producer.Close ends the stream)", state)
	}
	_ = producer
}
