// File mappings and their process-wide registry.
//
// A mapping of a ring file may outlive the RingFile that made it: the Node addon hands it to a
// SharedArrayBuffer whose backing store may be shared with worker threads and is released by V8 on
// whichever thread drops the last reference. The registry makes that release exactly-once and
// thread-safe, counts live mappings (tests prove nothing leaks), and answers "is this memory one of
// our file mappings".
//
// A registered range is in one of two states: mapping its file, or released (release_pages: the
// file's pages were swapped for private zero pages, the range stays reserved until unmap). Only
// the first kind holds file memory, and only it counts as a live mapping.
#ifndef SHMRING_MAPPING_H
#define SHMRING_MAPPING_H

#include <cstddef>
#include <string>

#include "shmring/error.h"

namespace shmring {

// mmap(length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) and registers the mapping. `path` is only
// for the error message.
Result<void*> map_shared(int fd, size_t length, const std::string& path);

// munmap()s a registered range (mapping its file or released) and unregisters it. Thread-safe;
// returns false (and does nothing) if [base, base+length) is not a registered range, so a second
// release is harmless.
bool unmap(void* base, size_t length);

// Lets go of the file's pages now, while the address range stays valid: the range is replaced in
// place (mmap MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS) by private zero pages, so a view that still
// points into it reads zeros and its writes go nowhere, but nothing faults. An unlinked file's
// memory (tmpfs: Shmem) is freed once no process maps it, instead of when the owner of the range
// (a garbage-collected SharedArrayBuffer) finally unmaps it. Writes made before are in the file
// (MAP_SHARED writes go to the page cache at once). Thread-safe; returns false if the range is not
// a registered mapping of a file (already released, or unmapped), or if the kernel refused (then
// the file stays mapped until unmap).
bool release_pages(void* base, size_t length);

// Pre-faults [base, base+length) of a mapping for writing, so that the first write to each page
// takes no page fault: madvise(MADV_POPULATE_WRITE) (Linux 5.14+), which allocates the file's
// pages (a hole becomes blocks) and maps them writable and dirty without changing a byte. On a
// kernel without it (EINVAL), the first word of each page gets an atomic add of zero, which
// takes the same write fault and cannot lose a concurrent writer's store. EFAULT/ENOMEM/EIO are
// returned as errors (e.g. a file truncated under the mapping, or no room to allocate).
Status prefault(void* base, size_t length);

// Number of registered ranges still mapping their file, in this process.
size_t live_mappings();

// Whether [base, base+length) is exactly one registered range still mapping its file.
bool is_live_mapping(const void* base, size_t length);

}  // namespace shmring

#endif  // SHMRING_MAPPING_H
