// File mappings and their process-wide registry.
//
// A mapping of a ring file may outlive the RingFile that made it: the Node addon hands it to a
// SharedArrayBuffer whose backing store may be shared with worker threads and is released by V8 on
// whichever thread drops the last reference. The registry makes that release exactly-once and
// thread-safe, counts live mappings (tests prove nothing leaks), and answers "is this memory one of
// our file mappings".
#ifndef SHMRING_MAPPING_H
#define SHMRING_MAPPING_H

#include <cstddef>
#include <string>

#include "shmring/error.h"

namespace shmring {

// mmap(length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) and registers the mapping. `path` is only
// for the error message.
Result<void*> map_shared(int fd, size_t length, const std::string& path);

// munmap()s a registered mapping and unregisters it. Thread-safe; returns false (and does nothing)
// if [base, base+length) is not a live registered mapping, so a second release is harmless.
bool unmap(void* base, size_t length);

// Number of registered mappings not yet unmapped, in this process.
size_t live_mappings();

// Whether [base, base+length) is exactly one live registered mapping.
bool is_live_mapping(const void* base, size_t length);

}  // namespace shmring

#endif  // SHMRING_MAPPING_H
