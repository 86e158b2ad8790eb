//go:build linux

package shmring

import (
	"fmt"
	"runtime/debug"
	"unsafe"
)

// A ring file is shared by path: any process allowed to write it can truncate it, and an access to
// a page of a MAP_SHARED mapping beyond the new end of the file raises SIGBUS, which by default
// kills the Go process ("fatal error: fault"). Every exported method that touches the mapping
// therefore runs with debug.SetPanicOnFault(true) and turns such a fault into an error wrapping
// ErrCorrupt (field "mapping", the faulting address). The guard costs one runtime call and one
// open-coded defer per call of the method (per Poll batch, not per record). Memory touched by the
// caller's own code (a Record's Data, a claimed slice) is outside the guard; anonymous sealed rings
// (CreateAnonymous / OpenFd) cannot be truncated at all.

// guardMapping turns on panic-on-fault for this goroutine; hand its result to recoverFault.
func guardMapping() bool { return debug.SetPanicOnFault(true) }

// recoverFault must be deferred directly (recover only works there):
//
//	defer r.recoverFault(guardMapping(), "poll", &err)
//
// A fault inside this ring's mapping becomes *err; any other panic continues unchanged.
func (r *Ring) recoverFault(previous bool, op string, err *error) {
	debug.SetPanicOnFault(previous)
	recovered := recover()
	if recovered == nil {
		return
	}
	if faultErr := r.faultError(recovered, op); faultErr != nil {
		*err = faultErr
		return
	}
	panic(recovered)
}

// faultError is the ErrCorrupt for a recovered fault at an address of this ring's mapping, or nil.
func (r *Ring) faultError(recovered any, op string) error {
	fault, isFault := recovered.(interface{ Addr() uintptr })
	if !isFault {
		return nil
	}
	address := fault.Addr()
	if address < r.mappingStart || address-r.mappingStart >= r.mappingLength {
		return nil
	}
	return &Error{Op: op, Path: r.path, Field: "mapping", Value: uint64(address - r.mappingStart),
		Detail: fmt.Sprintf("(offset of a memory fault at %#x): the file was truncated under its mappings; "+
			"every mapping of this ring is unusable, close it", address), Err: ErrCorrupt}
}

// recoverFault is Ring.recoverFault for producer methods. It also drops an open claim: a fault in
// TryWrite's copy would otherwise leave a claim its caller never saw (and the ring is dead anyway).
func (p *Producer) recoverFault(previous bool, op string, err *error) {
	debug.SetPanicOnFault(previous)
	recovered := recover()
	if recovered == nil {
		return
	}
	faultErr := p.ring.faultError(recovered, op)
	if faultErr == nil {
		panic(recovered)
	}
	p.claim = pendingClaim{}
	*err = faultErr
}

// guarded runs access under the guard, for paths off the per-record one (attach, leave, stats).
func (r *Ring) guarded(op string, access func() error) (err error) {
	defer r.recoverFault(guardMapping(), op, &err)
	return access()
}

// IsMappingFault reports whether a value recovered from a panic is a memory fault inside r's
// mapping, for callers that guard their own accesses to record data with debug.SetPanicOnFault.
func (r *Ring) IsMappingFault(recovered any) bool { return r.faultError(recovered, "") != nil }

func mappingBounds(mapping []byte) (start, length uintptr) {
	if len(mapping) == 0 {
		return 0, 0
	}
	return uintptr(unsafe.Pointer(&mapping[0])), uintptr(len(mapping))
}
