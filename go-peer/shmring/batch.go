//go:build linux

package shmring

import "encoding/binary"

// Batch paths: many records per call of the ring's bookkeeping, as the TypeScript
// producer.batch() / consumer.batch() do. A producer batch claims records in place and publishes
// them with one store of tail; a consumer batch steps through the published records and releases
// them with one store of head. Each runs inside one call (WriteBatch, ReadBatch) so that the
// mapping's fault guard (fault.go) is paid once per batch, not per record, and the batch objects
// live in the Producer and Consumer: a batch allocates nothing.

// BatchWriter appends records to the batch of a WriteBatch call.
type BatchWriter struct {
	p       *Producer
	records int
}

// BatchReader steps through the records of a ReadBatch call.
type BatchReader struct {
	c       *Consumer
	record  Record
	records int
	limit   int
	err     error
}

// WriteBatch opens a batch, calls fill with it, and publishes every record fill claimed with one
// store of tail (waking a parked consumer). A record that does not fit is a normal result
// (Claim returns nil): fill should stop there and WriteBatch publishes what it has. If fill
// returns an error, nothing of the batch is published and the error is returned. While the
// batch is open the producer's other writes are refused (ErrUsage). What was committed before
// the batch is published first.
func (p *Producer) WriteBatch(fill func(batch *BatchWriter) error) (records int, err error) {
	defer p.recoverFault(guardMapping(), "write batch", &err)
	if p.left {
		return 0, closedError("write batch", "the producer has left the ring")
	}
	if p.claim.active || p.inBatch {
		return 0, usageError("write batch", "a claimed record or a batch is still open")
	}
	if err := p.publish(); err != nil {
		return 0, err
	}
	start := p.writePosition
	p.inBatch = true
	p.batch = BatchWriter{p: p}
	defer func() { p.inBatch = false }()
	if err := fill(&p.batch); err != nil {
		p.writePosition = start
		return 0, err
	}
	p.inBatch = false
	return p.batch.records, p.publish()
}

// Claim reserves a record of exactly length bytes with recordType (its header is written now)
// and returns its payload to fill in place before fill returns; nil with a nil error when it
// does not fit. If the record needed the rest of the data area to be padded and the padding fit,
// the padding stays in the batch (agrona PR #239: the consumer can then free the start).
func (b *BatchWriter) Claim(length int, recordType uint16) ([]byte, error) {
	p := b.p
	if p == nil || !p.inBatch {
		return nil, usageError("batch claim", "the batch is not open (use it only inside WriteBatch's function)")
	}
	if length < 0 || uint64(length) > uint64(p.maxRecordLength) {
		return nil, usageError("batch claim", "record length %d is not in [0, maxRecordLength %d]", length, p.maxRecordLength)
	}
	recordLength := uint32(length)
	slot := uint32(recordSlotLength(recordLength))
	position := p.writePosition
	offset := position & p.mask
	if toEnd := p.capacity - offset; slot > toEnd {
		room, err := p.hasRoom(position, toEnd)
		if err != nil || !room {
			return nil, err
		}
		p.writePadding(offset, toEnd)
		p.writePosition += toEnd
		position += toEnd
		offset = 0
	}
	room, err := p.hasRoom(position, slot)
	if err != nil || !room {
		return nil, err
	}
	binary.LittleEndian.PutUint32(p.data[offset:], recordLength)
	binary.LittleEndian.PutUint32(p.data[offset+4:], uint32(recordType))
	p.writePosition += slot
	b.records++
	payloadStart := offset + recordHeaderLength
	payloadEnd := payloadStart + recordLength
	return p.data[payloadStart:payloadEnd:payloadEnd], nil
}

// Write copies payload in as one record; false with a nil error when it does not fit.
func (b *BatchWriter) Write(payload []byte, recordType uint16) (bool, error) {
	destination, err := b.Claim(len(payload), recordType)
	if destination == nil || err != nil {
		return false, err
	}
	copy(destination, payload)
	return true, nil
}

// Count is the number of records in the batch so far.
func (b *BatchWriter) Count() int { return b.records }

// ReadBatch steps through up to limit of the records published when it starts (limit <= 0: all)
// with the BatchReader given to read, then releases every record stepped over with one store of
// head. Each record is validated as Poll validates it; a corrupt one ends the batch with
// an error wrapping ErrCorrupt. If read returns an error, the records stepped over are released
// (consumed, as with Poll) and the error is returned.
func (c *Consumer) ReadBatch(limit int, read func(batch *BatchReader) error) (records int, err error) {
	defer c.ring.recoverFault(guardMapping(), "read batch", &err)
	if c.left {
		return 0, closedError("read batch", "the consumer has left the ring")
	}
	if c.inBatch {
		return 0, usageError("read batch", "a batch is already open")
	}
	// Everything published when the batch starts: one load of tail, here.
	if err := c.reloadTail(); err != nil {
		return 0, err
	}
	c.inBatch = true
	c.batch = BatchReader{c: c, limit: limit}
	defer func() { c.inBatch = false }()
	readErr := read(&c.batch)
	c.inBatch = false
	if readErr == nil {
		readErr = c.batch.err
	}
	if releaseErr := c.release(); releaseErr != nil && readErr == nil {
		readErr = releaseErr
	}
	return c.batch.records, readErr
}

// Next moves to the next published record; false when there is none, the limit is reached, or a
// record is corrupt (ReadBatch then returns the error).
func (b *BatchReader) Next() bool {
	c := b.c
	if c == nil || !c.inBatch || b.err != nil || (b.limit > 0 && b.records >= b.limit) {
		return false
	}
	record, ok, err := c.next(false) // tail was loaded when the batch opened
	if err != nil {
		b.err = err
		return false
	}
	if !ok {
		return false
	}
	b.record = record
	b.records++
	return true
}

// Type is the current record's type.
func (b *BatchReader) Type() uint16 { return b.record.Type }

// Data is the current record's payload, a view of ring memory valid until ReadBatch returns.
func (b *BatchReader) Data() []byte { return b.record.Data }

// Count is the number of records stepped over so far.
func (b *BatchReader) Count() int { return b.records }
