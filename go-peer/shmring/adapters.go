//go:build linux

package shmring

import (
	"context"
	"errors"
	"io"
)

// WriterMode says how a Writer turns Write calls into records.
type WriterMode int

const (
	// RecordMode: each Write is exactly one record; a Write longer than MaxRecordLength fails
	// with ErrUsage and writes nothing.
	RecordMode WriterMode = iota
	// ByteMode: the written bytes are a stream, cut into records of at most MaxRecordLength.
	ByteMode
)

// Writer adapts a Producer to io.Writer. Writes block while the ring is full (Producer.Write).
type Writer struct {
	ctx        context.Context
	producer   *Producer
	recordType uint16
	mode       WriterMode
}

// NewWriter returns an io.Writer writing records of recordType through producer. ctx bounds every
// blocking wait for space (context.Background() for none).
func NewWriter(ctx context.Context, producer *Producer, recordType uint16, mode WriterMode) *Writer {
	return &Writer{ctx: ctx, producer: producer, recordType: recordType, mode: mode}
}

// Write implements io.Writer.
func (w *Writer) Write(payload []byte) (int, error) {
	maxLength := w.producer.MaxRecordLength()
	if w.mode == RecordMode {
		if len(payload) > maxLength {
			return 0, usageError("write", "record of %d bytes exceeds maxRecordLength %d (use ByteMode to split it)", len(payload), maxLength)
		}
		if err := w.producer.Write(w.ctx, payload, w.recordType); err != nil {
			return 0, err
		}
		return len(payload), nil
	}
	written := 0
	for written < len(payload) {
		chunk := payload[written:min(len(payload), written+maxLength)]
		if err := w.producer.Write(w.ctx, chunk, w.recordType); err != nil {
			return written, err
		}
		written += len(chunk)
	}
	return written, nil
}

// Reader adapts a Consumer to io.Reader: the byte stream is the concatenation of the records'
// payloads (of any type). Read blocks while the ring is empty and returns io.EOF at the end of the
// stream (producer closed, everything read).
type Reader struct {
	ctx      context.Context
	consumer *Consumer
	current  []byte // unread rest of the current record, which is not yet released
}

// NewReader returns an io.Reader over consumer's records. ctx bounds every blocking wait for data.
func NewReader(ctx context.Context, consumer *Consumer) *Reader {
	return &Reader{ctx: ctx, consumer: consumer}
}

// Read implements io.Reader.
func (r *Reader) Read(buffer []byte) (int, error) {
	if len(buffer) == 0 {
		return 0, nil
	}
	for len(r.current) == 0 {
		// The previous record is used up: give its space back before waiting for the next, so a
		// producer parked for space can proceed.
		if err := r.consumer.Release(); err != nil {
			return 0, err
		}
		record, err := r.consumer.Read(r.ctx)
		if errors.Is(err, ErrEndOfStream) {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		r.current = record.Data
	}
	copied := copy(buffer, r.current)
	r.current = r.current[copied:]
	return copied, nil
}
