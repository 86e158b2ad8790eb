//go:build linux

package shmring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// PublishPolicy says when committed records are published (made visible to the consumer by one
// store-release of tail).
type PublishPolicy int

const (
	// PublishBatched (the zero value, TypeScript's 'auto') publishes once BatchRecords records or
	// BatchBytes bytes are pending. Unlike 'auto' it has no end-of-job microtask: a producer that
	// goes idle calls Flush (blocking calls, full and Close publish on their own).
	PublishBatched PublishPolicy = iota
	// PublishEager publishes every record as it is committed.
	PublishEager
	// PublishManual publishes only on Flush (and, as always, before the producer reports full,
	// parks, or leaves).
	PublishManual
)

// ProducerOptions configure the producer role. The zero value gives the TypeScript defaults:
// PublishBatched, 256 records or min(64 KiB, capacity/4) bytes per publication, DefaultSpin.
type ProducerOptions struct {
	Publish PublishPolicy
	// BatchRecords: with PublishBatched, publish once this many records are pending (0:
	// DefaultBatchRecords).
	BatchRecords int
	// BatchBytes: with PublishBatched, publish once this many bytes are pending (0:
	// min(DefaultBatchBytes, capacity/4)).
	BatchBytes int
	// Wait tunes the blocking Write and Claim; nil: DefaultSpin, then park.
	Wait *WaitOptions
}

// Publication defaults of PublishBatched, the same as the TypeScript producer's.
const (
	DefaultBatchRecords = 256
	DefaultBatchBytes   = 64 << 10 // and at most capacity/4
)

// Producer is the producer role of a ring. Use it from one goroutine at a time.
//
// Records are claimed (space reserved, payload written in place), committed (header written),
// and published (tail stored) — possibly many commits per publication.
type Producer struct {
	ring            *Ring
	held            *attachment
	data            []byte
	capacity        uint32
	mask            uint32
	maxRecordLength uint32
	waitOn          waitWords // what a blocking call waits on: head, consumerState, producerWaiting, spaceDoorbell
	tail            *uint32
	// The consumer's waiting flag and the doorbell it parks on: read and rung after every store
	// of tail (the notifier half of FORMAT.md §6).
	consumerWaiting, dataDoorbell *uint32

	// Private positions (FORMAT.md §4): writePosition is where the next record goes,
	// publishedTail the last value stored to tail, cachedHead the last value loaded from head.
	writePosition uint32
	publishedTail uint32
	cachedHead    uint32

	pendingRecords int // committed since the last publication
	claim          pendingClaim
	inBatch        bool        // inside WriteBatch: single-record writes are refused
	batch          BatchWriter // WriteBatch's writer, reused

	policy       PublishPolicy
	batchRecords int
	batchBytes   uint32
	wait         WaitOptions
	waitStats    waitStats
	left         bool
}

// pendingClaim is a claimed but not yet committed record. If the record had to wrap, the padding
// that fills the end of the data area is written at commit time, so that Abort moves nothing.
type pendingClaim struct {
	active        bool
	paddingOffset uint32
	paddingLength uint32 // 0: no padding needed
	recordOffset  uint32
	length        uint32
	recordType    uint16
}

// Producer takes the producer role: an OFD lock on the file (ErrLocked, naming the holder's pid,
// if another process has it), then the published state ATTACHED, this pid and a heartbeat.
// It continues the stream from the tail the previous producer published.
func (r *Ring) Producer(options ProducerOptions) (_ *Producer, err error) {
	if err := options.Wait.check("attach producer"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.recoverFault(guardMapping(), "attach producer", &err)
	if err := r.lockRole(producerRole); err != nil {
		return nil, err
	}
	producer := newProducer(r, options)
	if err := producer.adoptPositions(); err != nil {
		r.unlockRole(producerRole)
		return nil, err
	}
	producer.held = r.attachRole(producerRole)
	r.producer = producer
	return producer, nil
}

func newProducer(r *Ring, options ProducerOptions) *Producer {
	producer := &Producer{
		ring:            r,
		data:            r.data,
		capacity:        r.capacity,
		mask:            r.mask,
		maxRecordLength: r.maxRecordLength,
		waitOn: waitWords{
			peerPosition: r.words.head,
			peerState:    r.words.consumerState,
			waiting:      r.words.producerWaiting,
			doorbell:     r.words.spaceDoorbell,
			peerPid:      r.words.consumerPid,
			peerName:     "consumer",
			peerAlive:    func() (bool, error) { return r.roleAlive(consumerRole) },
		},
		tail:            r.words.tail,
		consumerWaiting: r.words.consumerWaiting,
		dataDoorbell:    r.words.dataDoorbell,
		policy:          options.Publish,
		batchRecords:    options.BatchRecords,
		batchBytes:      uint32(max(options.BatchBytes, 0)),
		wait:            options.Wait.withDefaults(),
	}
	if producer.batchRecords <= 0 {
		producer.batchRecords = DefaultBatchRecords
	}
	if producer.batchBytes == 0 {
		producer.batchBytes = min(DefaultBatchBytes, r.capacity/4)
	}
	return producer
}

// adoptPositions continues from the published tail. Anything a previous producer committed but
// never published is above the tail and is overwritten (FORMAT.md §4).
func (p *Producer) adoptPositions() error {
	tail := loadAcquire32(p.tail)
	head := loadAcquire32(p.waitOn.peerPosition)
	if tail%recordAlignment != 0 {
		return corruptError("attach producer", "tail", uint64(tail), "is not a multiple of %d", recordAlignment)
	}
	p.writePosition, p.publishedTail = tail, tail
	if err := checkRoleState("attach producer", "consumerState", loadSeqCst32(p.waitOn.peerState)); err != nil {
		return err
	}
	return p.acceptHead(head)
}

// acceptHead validates a head value read once from shared memory (§4: 0 <= writePosition-head <=
// capacity, 8-aligned) and caches it.
func (p *Producer) acceptHead(head uint32) error {
	if inFlight := p.writePosition - head; inFlight > p.capacity {
		return corruptError("claim", "head", uint64(head), "is not within capacity %d behind writePosition %d", p.capacity, p.writePosition)
	}
	if head%recordAlignment != 0 {
		return corruptError("claim", "head", uint64(head), "is not a multiple of %d", recordAlignment)
	}
	p.cachedHead = head
	return nil
}

// hasRoom reports whether n bytes are free from position on, reloading head once if the cached
// value says no. position is writePosition or, when padding is planned, just past the padding.
func (p *Producer) hasRoom(position, n uint32) (bool, error) {
	if used := position - p.cachedHead; used <= p.capacity && p.capacity-used >= n {
		return true, nil
	}
	if err := p.acceptHead(loadAcquire32(p.waitOn.peerPosition)); err != nil {
		return false, err
	}
	used := position - p.cachedHead
	return used <= p.capacity && p.capacity-used >= n, nil
}

// TryClaim reserves room for a record of length payload bytes and returns the payload slice to
// fill in place; Commit makes it a record, Abort gives the room back. A nil slice with a nil
// error means the ring is full (a normal result): what was committed has been published, so the
// consumer can make room.
//
// The slice aliases shared memory; it must not be used after Commit or Abort.
func (p *Producer) TryClaim(length int, recordType uint16) (_ []byte, err error) {
	defer p.recoverFault(guardMapping(), "claim", &err)
	return p.tryClaim(length, recordType)
}

// tryClaim is TryClaim without the fault guard, for callers that hold one (one guard per call of
// the public method: a guard costs about as much as a whole record).
func (p *Producer) tryClaim(length int, recordType uint16) ([]byte, error) {
	if p.left {
		return nil, closedError("claim", "the producer has left the ring")
	}
	if p.claim.active {
		return nil, usageError("claim", "a claimed record is still pending: Commit or Abort it first")
	}
	if p.inBatch {
		return nil, usageError("claim", "a batch is open: write through its BatchWriter until WriteBatch returns")
	}
	if length < 0 || uint64(length) > uint64(p.maxRecordLength) {
		return nil, usageError("claim", "record length %d is not in [0, maxRecordLength %d]", length, p.maxRecordLength)
	}
	recordLength := uint32(length)
	slot := uint32(recordSlotLength(recordLength)) // <= capacity, because length <= capacity-8
	position := p.writePosition
	offset := position & p.mask
	toEnd := p.capacity - offset
	var paddingLength uint32
	if slot > toEnd {
		// The record would cross the end of the data area: padding must cover the rest of it
		// first, and those toEnd bytes must be free (FORMAT.md §4 step 1).
		room, err := p.hasRoom(position, toEnd)
		if err != nil {
			return nil, err
		}
		if !room {
			return nil, p.reportFull()
		}
		paddingLength = toEnd
		position += toEnd
		offset = 0
	}
	room, err := p.hasRoom(position, slot)
	if err != nil {
		return nil, err
	}
	if !room {
		if paddingLength > 0 {
			// Write the padding even though the record does not fit yet. Otherwise a record longer
			// than the free space at the start could never be placed once the consumer drains
			// the end (agrona PR #239). Committed now, published by reportFull.
			p.writePadding(p.writePosition&p.mask, paddingLength)
			p.writePosition += paddingLength
		}
		return nil, p.reportFull()
	}
	p.claim = pendingClaim{
		active:        true,
		paddingOffset: p.writePosition & p.mask,
		paddingLength: paddingLength,
		recordOffset:  offset,
		length:        recordLength,
		recordType:    recordType,
	}
	payloadStart := offset + recordHeaderLength
	payloadEnd := payloadStart + recordLength
	return p.data[payloadStart:payloadEnd:payloadEnd], nil
}

// reportFull publishes what is committed before full is reported, so that a batch never waits on
// itself: the consumer can only free space it can see.
func (p *Producer) reportFull() error {
	return p.publish()
}

func (p *Producer) writePadding(offset, paddingLength uint32) {
	binary.LittleEndian.PutUint32(p.data[offset:], paddingLength-recordHeaderLength)
	binary.LittleEndian.PutUint32(p.data[offset+4:], paddingType)
}

// Commit turns the claimed slice into a record (plain stores of its header; the next publication
// orders them), then publishes according to the PublishPolicy.
func (p *Producer) Commit() (err error) {
	defer p.recoverFault(guardMapping(), "commit", &err)
	return p.commit()
}

func (p *Producer) commit() error {
	if !p.claim.active {
		return usageError("commit", "no claimed record to commit")
	}
	claim := p.claim
	p.claim = pendingClaim{}
	if claim.paddingLength > 0 {
		p.writePadding(claim.paddingOffset, claim.paddingLength)
	}
	binary.LittleEndian.PutUint32(p.data[claim.recordOffset:], claim.length)
	binary.LittleEndian.PutUint32(p.data[claim.recordOffset+4:], uint32(claim.recordType))
	p.writePosition += claim.paddingLength + uint32(recordSlotLength(claim.length))
	p.pendingRecords++
	switch p.policy {
	case PublishEager:
		return p.publish()
	case PublishBatched:
		if p.pendingRecords >= p.batchRecords || p.writePosition-p.publishedTail >= p.batchBytes {
			return p.publish()
		}
	}
	return nil
}

// Abort gives back a claimed record: nothing is written and no position moves.
func (p *Producer) Abort() error {
	if !p.claim.active {
		return usageError("abort", "no claimed record to abort")
	}
	p.claim = pendingClaim{}
	return nil
}

// TryWrite copies payload into a new record. false with a nil error means the ring is full (what
// was committed has been published).
func (p *Producer) TryWrite(payload []byte, recordType uint16) (_ bool, err error) {
	defer p.recoverFault(guardMapping(), "write", &err)
	return p.tryWrite(payload, recordType)
}

func (p *Producer) tryWrite(payload []byte, recordType uint16) (bool, error) {
	destination, err := p.tryClaim(len(payload), recordType)
	if destination == nil || err != nil {
		return false, err
	}
	copy(destination, payload)
	return true, p.commit()
}

// Claim is TryClaim that waits for space when the ring is full, as Write does. The returned slice
// is never nil when the error is nil.
func (p *Producer) Claim(ctx context.Context, length int, recordType uint16) (_ []byte, err error) {
	defer p.recoverFault(guardMapping(), "claim", &err)
	for {
		destination, err := p.tryClaim(length, recordType)
		if destination != nil || err != nil {
			return destination, err
		}
		if err := p.awaitSpace(ctx); err != nil {
			return nil, err
		}
	}
}

// Write copies payload into a new record, waiting for space if the ring is full: it spins
// briefly, then parks on the space doorbell. It returns ctx's error (wrapped) if ctx ends first,
// and an error wrapping ErrClosed if the consumer has closed the ring for good.
func (p *Producer) Write(ctx context.Context, payload []byte, recordType uint16) (err error) {
	defer p.recoverFault(guardMapping(), "write", &err)
	for {
		written, err := p.tryWrite(payload, recordType)
		if written || err != nil {
			return err
		}
		if err := p.awaitSpace(ctx); err != nil {
			return err
		}
	}
}

// awaitSpace returns once head has moved past the value that made the last claim fail.
func (p *Producer) awaitSpace(ctx context.Context) error {
	if err := checkRoleState("write", "consumerState", loadSeqCst32(p.waitOn.peerState)); err != nil {
		return err
	}
	consumerClosed, err := awaitPeer(ctx, p.waitOn, p.cachedHead, p.wait, &p.waitStats)
	if err != nil {
		return fmt.Errorf("shmring: write: waiting for space: %w", err)
	}
	if consumerClosed {
		return closedError("write", "the consumer has closed the ring (consumerState CLOSED)")
	}
	return nil
}

// Flush publishes every committed record with one store of tail.
func (p *Producer) Flush() (err error) {
	defer p.recoverFault(guardMapping(), "flush", &err)
	if p.left {
		return closedError("flush", "the producer has left the ring")
	}
	return p.publish()
}

func (p *Producer) publish() error {
	if p.writePosition == p.publishedTail {
		return nil
	}
	// Release for the record bytes (FORMAT.md §7); sequentially consistent because this store and
	// the load of consumerWaiting in notifyPeer are the notifier's half of §6.
	storeSeqCst32(p.tail, p.writePosition)
	p.publishedTail = p.writePosition
	p.pendingRecords = 0
	return notifyPeer(p.consumerWaiting, p.dataDoorbell)
}

// Pending reports the committed but unpublished records and bytes.
func (p *Producer) Pending() (records int, bytes uint32) {
	return p.pendingRecords, p.writePosition - p.publishedTail
}

// MaxRecordLength is the largest payload a record may carry.
func (p *Producer) MaxRecordLength() int { return int(p.maxRecordLength) }

// PeerAlive reports whether a live process holds the consumer role (its OFD lock), which stays
// accurate after the consumer dies to kill -9, unlike its state word.
func (p *Producer) PeerAlive() (bool, error) { return p.ring.roleAlive(consumerRole) }

// Close publishes what is committed, ends the stream (producerState CLOSED: the consumer reads
// everything published and then gets ErrEndOfStream), wakes a parked consumer and releases the
// role. A claim still pending is aborted. Closing twice is harmless.
func (p *Producer) Close() error { return p.leave(RoleClosed) }

// Detach is Close without ending the stream (producerState DETACHED): another producer may attach
// and continue where this one stopped.
func (p *Producer) Detach() error { return p.leave(RoleDetached) }

func (p *Producer) leave(finalState uint32) error {
	p.ring.mu.Lock()
	defer p.ring.mu.Unlock()
	if p.left || p.ring.closed {
		return nil
	}
	return p.leaveLocked(finalState)
}

// leaveLocked is called with ring.mu held.
func (p *Producer) leaveLocked(finalState uint32) error {
	p.claim = pendingClaim{}
	var publishErr, notifyErr error
	// Guarded: leaving must complete (unlock, bookkeeping) even if the file was truncated.
	guardErr := p.ring.guarded("close", func() error {
		// The final publication comes before the state: a consumer that sees CLOSED and then reloads
		// tail sees every record (the seq-cst state store orders the tail store before it).
		publishErr = p.publish()
		p.held.stopAndPublish(finalState)
		notifyErr = notifyPeer(p.consumerWaiting, p.dataDoorbell)
		return nil
	})
	unlockErr := p.ring.unlockRole(producerRole)
	p.left = true
	p.ring.producer = nil
	return errors.Join(publishErr, notifyErr, guardErr, unlockErr)
}
