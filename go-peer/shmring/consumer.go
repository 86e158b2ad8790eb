//go:build linux

package shmring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Record is one record handed out by the consumer. Data aliases the ring's shared memory: it is
// valid until the consumer's next Release (or Poll's return), after which the producer may be
// overwriting it. Copy what must outlive that.
type Record struct {
	Type uint16
	Data []byte
}

// ConsumerOptions configure the consumer role.
type ConsumerOptions struct {
	// Wait tunes the blocking Read and Wait; nil: DefaultSpin, then park.
	Wait *WaitOptions
}

// Consumer is the consumer role of a ring. Use it from one goroutine at a time.
//
// Every length and position it reads from shared memory is read once into a local, validated
// against the protocol's invariants (FORMAT.md §5), and only then used; a violation is an error
// wrapping ErrCorrupt that names the field and the value, never a panic or a hang.
type Consumer struct {
	ring            *Ring
	held            *attachment
	data            []byte
	capacity        uint32
	mask            uint32
	maxRecordLength uint32
	waitOn          waitWords // what a blocking call waits on: tail, producerState, consumerWaiting, dataDoorbell
	head            *uint32
	// The producer's waiting flag and the doorbell it parks on: read and rung after every store
	// of head (the notifier half of FORMAT.md §6).
	producerWaiting, spaceDoorbell *uint32

	// Private positions (FORMAT.md §5): readPosition is the next record, releasedHead the last
	// value stored to head, cachedTail the last (validated) value loaded from tail.
	readPosition uint32
	releasedHead uint32
	cachedTail   uint32
	// holdingViews: a record was handed out since the last release, so space below readPosition
	// may still be in use by the caller and must not be released behind its back.
	holdingViews bool

	wait      WaitOptions
	waitStats waitStats
	left      bool
	inBatch   bool        // inside ReadBatch: other reads are refused
	batch     BatchReader // ReadBatch's reader, reused
}

// Consumer takes the consumer role: an OFD lock on the file (ErrLocked, naming the holder's pid,
// if another process has it), then the published state ATTACHED, this pid and a heartbeat. It
// continues from the head the previous consumer released.
func (r *Ring) Consumer(options ConsumerOptions) (_ *Consumer, err error) {
	if err := options.Wait.check("attach consumer"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverFault(guardMapping(), "attach consumer", &err)
	if err := r.lockRole(consumerRole); err != nil {
		return nil, err
	}
	consumer := newConsumer(r, options)
	if err := consumer.adoptPositions(); err != nil {
		r.unlockRole(consumerRole)
		return nil, err
	}
	consumer.held = r.attachRole(consumerRole)
	r.consumer = consumer
	return consumer, nil
}

func newConsumer(r *Ring, options ConsumerOptions) *Consumer {
	return &Consumer{
		ring:            r,
		data:            r.data,
		capacity:        r.capacity,
		mask:            r.mask,
		maxRecordLength: r.maxRecordLength,
		waitOn: waitWords{
			peerPosition: r.words.tail,
			peerState:    r.words.producerState,
			waiting:      r.words.consumerWaiting,
			doorbell:     r.words.dataDoorbell,
			peerPid:      r.words.producerPid,
			peerName:     "producer",
			peerAlive:    func() (bool, error) { return r.roleAlive(producerRole) },
		},
		head:            r.words.head,
		producerWaiting: r.words.producerWaiting,
		spaceDoorbell:   r.words.spaceDoorbell,
		wait:            options.Wait.withDefaults(),
	}
}

func (c *Consumer) adoptPositions() error {
	head := loadAcquire32(c.head)
	if head%recordAlignment != 0 {
		return corruptError("attach consumer", "head", uint64(head), "is not a multiple of %d", recordAlignment)
	}
	c.readPosition, c.releasedHead, c.cachedTail = head, head, head
	return checkRoleState("attach consumer", "producerState", loadSeqCst32(c.waitOn.peerState))
}

// checkRoleState refuses a role state word that is none of the three states (FORMAT.md §3): a
// side waiting on an impossible peer state would wait for an end that can never be recognised.
func checkRoleState(op, field string, state uint32) error {
	if state > RoleClosed {
		return corruptError(op, field, uint64(state), "is not a role state (0 detached, 1 attached, 2 closed)")
	}
	return nil
}

// reloadTail load-acquires tail once and validates it (§5 step 1) before caching it.
func (c *Consumer) reloadTail() error {
	tail := loadAcquire32(c.waitOn.peerPosition)
	if inFlight := tail - c.readPosition; inFlight > c.capacity {
		return corruptError("read", "tail", uint64(tail), "is not within capacity %d ahead of readPosition %d", c.capacity, c.readPosition)
	}
	if tail%recordAlignment != 0 {
		return corruptError("read", "tail", uint64(tail), "is not a multiple of %d", recordAlignment)
	}
	c.cachedTail = tail
	return nil
}

// next returns the next record below cachedTail, skipping padding; with reload it first reloads
// tail if everything cached has been read. It never reads outside [readPosition, cachedTail) nor
// outside the data area, whatever the shared memory says.
func (c *Consumer) next(reload bool) (Record, bool, error) {
	for {
		if c.readPosition == c.cachedTail {
			if !reload {
				return Record{}, false, nil
			}
			if err := c.reloadTail(); err != nil {
				return Record{}, false, err
			}
			if c.readPosition == c.cachedTail {
				return Record{}, false, nil
			}
		}
		offset := c.readPosition & c.mask // 8-aligned and <= capacity-8: the header is inside
		available := c.cachedTail - c.readPosition
		// One read of each header word; every check and use below works on these locals.
		recordLength := binary.LittleEndian.Uint32(c.data[offset:])
		recordType := binary.LittleEndian.Uint32(c.data[offset+4:])
		toEnd := c.capacity - offset

		if recordType == paddingType {
			if recordLength != toEnd-recordHeaderLength {
				return Record{}, false, corruptError("read", "record.length", uint64(recordLength),
					"of padding at offset %d is not capacity-offset-8 = %d", offset, toEnd-recordHeaderLength)
			}
			if toEnd > available {
				return Record{}, false, corruptError("read", "tail", uint64(c.cachedTail),
					"ends inside the padding at offset %d (readPosition %d, padding covers %d bytes)", offset, c.readPosition, toEnd)
			}
			c.readPosition += toEnd
			if !c.holdingViews {
				// Nothing handed out lies below: give the padding's space back now, or a producer
				// waiting for it could wait on a consumer that is itself waiting for data.
				if err := c.release(); err != nil {
					return Record{}, false, err
				}
			}
			continue
		}
		if recordType > MaxType {
			return Record{}, false, corruptError("read", "record.type", uint64(recordType),
				"at offset %d is neither a user type (0..%d) nor padding (%d)", offset, MaxType, paddingType)
		}
		if recordLength > c.maxRecordLength {
			return Record{}, false, corruptError("read", "record.length", uint64(recordLength),
				"at offset %d exceeds maxRecordLength %d", offset, c.maxRecordLength)
		}
		if uint64(offset)+uint64(recordHeaderLength)+uint64(recordLength) > uint64(c.capacity) {
			return Record{}, false, corruptError("read", "record.length", uint64(recordLength),
				"at offset %d crosses the end of the data area (capacity %d)", offset, c.capacity)
		}
		slot := recordSlotLength(recordLength)
		if slot > uint64(available) {
			return Record{}, false, corruptError("read", "record.length", uint64(recordLength),
				"at offset %d extends past tail %d (readPosition %d)", offset, c.cachedTail, c.readPosition)
		}
		c.readPosition += uint32(slot)
		c.holdingViews = true
		payloadStart := offset + recordHeaderLength
		payloadEnd := payloadStart + recordLength
		return Record{Type: uint16(recordType), Data: c.data[payloadStart:payloadEnd:payloadEnd]}, true, nil
	}
}

// TryRead returns the next record, or false if none is published (a normal result). The record's
// Data stays valid, together with every record read since, until Release.
func (c *Consumer) TryRead() (_ Record, _ bool, err error) {
	defer c.ring.recoverFault(guardMapping(), "read", &err)
	return c.tryRead()
}

func (c *Consumer) tryRead() (Record, bool, error) {
	if c.left {
		return Record{}, false, closedError("read", "the consumer has left the ring")
	}
	return c.next(true)
}

// Release gives the space of every record read so far back to the producer, with one store of
// head, and wakes the producer if it is parked for space. Views handed out before are invalid
// from here on.
func (c *Consumer) Release() (err error) {
	defer c.ring.recoverFault(guardMapping(), "release", &err)
	if c.left {
		return closedError("release", "the consumer has left the ring")
	}
	return c.release()
}

func (c *Consumer) release() error {
	c.holdingViews = false
	if c.readPosition == c.releasedHead {
		return nil
	}
	// Release for our reads of the records (FORMAT.md §7: they happen-before the producer's
	// overwrite); sequentially consistent because this store and the load of producerWaiting in
	// notifyPeer are the notifier's half of §6.
	storeSeqCst32(c.head, c.readPosition)
	c.releasedHead = c.readPosition
	return notifyPeer(c.producerWaiting, c.spaceDoorbell)
}

// Poll hands up to limit published records (limit <= 0: all published when it starts) to
// handler, in order, then releases them with one store of head. It loads tail at most once.
//
// data is valid only during the handler call. If handler returns an error, Poll stops and returns
// it as is, with the count of the records handled before it; that record and the ones before it
// are consumed (released), as when a TypeScript poll handler throws. Redelivering it instead would
// hand a record that makes its handler fail to every retry, stalling the stream for good (a poison
// record). A caller that must not lose a record it cannot take now (say, its output is full)
// waits inside the handler, or reads with TryRead and Releases only what it has finished with.
func (c *Consumer) Poll(handler func(recordType uint16, data []byte) error, limit int) (_ int, err error) {
	defer c.ring.recoverFault(guardMapping(), "poll", &err)
	if c.left {
		return 0, closedError("poll", "the consumer has left the ring")
	}
	handled := 0
	reload := true // reload tail only if everything cached was read: at most one load per call
	for limit <= 0 || handled < limit {
		record, ok, err := c.next(reload)
		reload = false
		if err != nil {
			return handled, errors.Join(err, c.release())
		}
		if !ok {
			break
		}
		if err := handler(record.Type, record.Data); err != nil {
			if releaseErr := c.release(); releaseErr != nil {
				return handled, errors.Join(err, releaseErr)
			}
			return handled, err
		}
		handled++
	}
	return handled, c.release()
}

// Read returns the next record, waiting for one if none is published: it spins briefly, then
// parks on the data doorbell. Once the producer has closed the stream and every record has been
// read, it returns ErrEndOfStream (which wraps io.EOF). Like TryRead, the record stays valid
// until Release; release before blocking again if the producer may be waiting for that space.
func (c *Consumer) Read(ctx context.Context) (_ Record, err error) {
	defer c.ring.recoverFault(guardMapping(), "read", &err)
	for {
		record, ok, err := c.tryRead()
		if err != nil {
			return Record{}, err
		}
		if ok {
			return record, nil
		}
		if err := c.awaitData(ctx); err != nil {
			return Record{}, err
		}
	}
}

// Wait returns once a record (or padding) is published past what this consumer has read, or
// with ErrEndOfStream once the producer has closed the stream and everything was read, or with
// ctx's error. Pair it with Poll for blocking batched consumption.
func (c *Consumer) Wait(ctx context.Context) (err error) {
	defer c.ring.recoverFault(guardMapping(), "wait", &err)
	if c.left {
		return closedError("wait", "the consumer has left the ring")
	}
	if c.readPosition != c.cachedTail {
		return nil
	}
	if err := c.reloadTail(); err != nil {
		return err
	}
	if c.readPosition != c.cachedTail {
		return nil
	}
	return c.awaitData(ctx)
}

// awaitData is called with everything up to cachedTail read.
func (c *Consumer) awaitData(ctx context.Context) error {
	if err := checkRoleState("read", "producerState", loadSeqCst32(c.waitOn.peerState)); err != nil {
		return err
	}
	producerClosed, err := awaitPeer(ctx, c.waitOn, c.cachedTail, c.wait, &c.waitStats)
	if err != nil {
		return fmt.Errorf("shmring: read: waiting for data: %w", err)
	}
	if producerClosed {
		// The producer stored its last tail before CLOSED (seq-cst), so this load sees the end.
		if loadAcquire32(c.waitOn.peerPosition) == c.cachedTail {
			return ErrEndOfStream
		}
	}
	return nil
}

// MaxRecordLength is the largest payload a record may carry.
func (c *Consumer) MaxRecordLength() int { return int(c.maxRecordLength) }

// PeerAlive reports whether a live process holds the producer role (its OFD lock), which stays
// accurate after the producer dies to kill -9, unlike its state word.
func (c *Consumer) PeerAlive() (bool, error) { return c.ring.roleAlive(producerRole) }

// Close leaves the ring for good (consumerState CLOSED: a producer waiting for space gets
// ErrClosed), wakes a parked producer and releases the role. Records read but not released are
// not released: a later consumer would read them again. Closing twice is harmless.
func (c *Consumer) Close() error { return c.leave(RoleClosed) }

// Detach is Close without closing the ring (consumerState DETACHED): another consumer may attach
// and continue from the released head.
func (c *Consumer) Detach() error { return c.leave(RoleDetached) }

func (c *Consumer) leave(finalState uint32) error {
	c.ring.mu.Lock()
	defer c.ring.mu.Unlock()
	if c.left || c.ring.closed {
		return nil
	}
	return c.leaveLocked(finalState)
}

func (c *Consumer) leaveLocked(finalState uint32) error {
	// Guarded: leaving must complete (unlock, bookkeeping) even if the file was truncated.
	notifyErr := c.ring.guarded("close", func() error {
		c.held.stopAndPublish(finalState)
		return notifyPeer(c.producerWaiting, c.spaceDoorbell)
	})
	unlockErr := c.ring.unlockRole(consumerRole)
	c.left = true
	c.ring.consumer = nil
	return errors.Join(notifyErr, unlockErr)
}
