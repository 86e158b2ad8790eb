//go:build !cgo

package shmring

// The ring layout constants are read from native/include/shmring/layout.h through cgo, so this
// package cannot be built without it. Build with CGO_ENABLED=1 and a C compiler on the PATH.
var _ = shmring_requires_cgo_CGO_ENABLED_1_and_a_C_compiler
