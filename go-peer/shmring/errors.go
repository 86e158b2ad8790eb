package shmring

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Sentinel errors, for errors.Is. Every error this package returns either is one of these or is an
// *Error (or a wrapped OS error) that unwraps to one.
//
// Full and empty are normal results, reported as a boolean or a nil slice, not as errors; ErrFull
// and ErrEmpty exist for callers (such as the io adapters) that want to turn them into one.
var (
	ErrFull     = errors.New("shmring: ring full")
	ErrEmpty    = errors.New("shmring: ring empty")
	ErrClosed   = errors.New("shmring: closed")
	ErrCorrupt  = errors.New("shmring: corrupt ring")
	ErrLocked   = errors.New("shmring: role is held by another process")
	ErrFormat   = errors.New("shmring: not a valid ring file")
	ErrNotReady = errors.New("shmring: ring not ready (its creator has not finished)")
	ErrUsage    = errors.New("shmring: usage error")
	// ErrPeerDead: a blocking call's peer died holding its role (see WaitOptions.WaitThroughPeerDeath).
	ErrPeerDead = errors.New("shmring: peer died")

	// ErrEndOfStream is returned by blocking reads once the producer has closed the stream
	// (producerState CLOSED) and every published record has been consumed. It wraps io.EOF so
	// that code written against io.Reader conventions recognizes it.
	ErrEndOfStream = fmt.Errorf("shmring: end of stream: %w", io.EOF)
)

// Error describes a refusal precisely: which operation, which header or record field, the value
// found and what was expected. Err is one of the sentinels above (or an OS error).
//
// Its text reads, for example:
//
//	shmring: corrupt ring: record.length 4000000 at offset 128 exceeds maxRecordLength 1024
type Error struct {
	Op     string // operation that failed: "open", "create", "read", "claim", "attach", ...
	Path   string // ring file, when known
	Field  string // field at fault, e.g. "record.length", "tail", "capacity"; empty if none
	Value  uint64 // value found in Field
	Detail string // what was expected, or where: "at offset 128 exceeds maxRecordLength 1024"
	Err    error
}

func (e *Error) Error() string {
	var message strings.Builder
	if e.Err != nil {
		message.WriteString(e.Err.Error())
	} else {
		message.WriteString("shmring: " + e.Op)
	}
	if e.Path != "" {
		message.WriteString(": " + e.Path)
	}
	if e.Field != "" || e.Detail != "" {
		message.WriteString(":")
	}
	if e.Field != "" {
		message.WriteString(" " + e.Field + " " + strconv.FormatUint(e.Value, 10))
	}
	if e.Detail != "" {
		message.WriteString(" " + e.Detail)
	}
	return message.String()
}

func (e *Error) Unwrap() error { return e.Err }

// corruptError reports a value read from shared memory that breaks the protocol's invariants.
func corruptError(op, field string, value uint64, detailFormat string, args ...any) *Error {
	return &Error{Op: op, Field: field, Value: value, Detail: fmt.Sprintf(detailFormat, args...), Err: ErrCorrupt}
}

// usageError reports a misuse by the caller of this package.
func usageError(op, detailFormat string, args ...any) *Error {
	return &Error{Op: op, Detail: fmt.Sprintf(detailFormat, args...), Err: ErrUsage}
}

// closedError reports an operation on a closed object or against a peer that has closed.
func closedError(op, detailFormat string, args ...any) *Error {
	return &Error{Op: op, Detail: fmt.Sprintf(detailFormat, args...), Err: ErrClosed}
}
