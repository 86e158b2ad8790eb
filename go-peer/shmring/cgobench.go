//go:build cgo

package shmring

// A C function for BenchmarkCgoCallPerRecord only: it measures what one cgo call per record would
// cost, which is why no cgo call is on the per-record path (cgo is used for constants only).

// #include <stdint.h>
// static uint32_t shmring_bench_load_acquire(const uint32_t *word) {
//   return __atomic_load_n(word, __ATOMIC_ACQUIRE);
// }
import "C"

import "unsafe"

func cgoLoadAcquire32(word *uint32) uint32 {
	return uint32(C.shmring_bench_load_acquire((*C.uint32_t)(unsafe.Pointer(word))))
}
