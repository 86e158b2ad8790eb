#include "shmring/mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace shmring {

namespace {

struct Range {
  size_t length;
  bool maps_file;  // false once release_pages swapped the file's pages for zero pages
};

// base address -> every range made by map_shared and not yet unmapped. A mutex rather than
// anything clever: mapping and unmapping are rare (per ring file, not per record) and may happen
// on any thread (V8 runs a SharedArrayBuffer's deleter on whichever thread drops the last
// reference).
struct Registry {
  std::mutex mutex;
  std::unordered_map<uintptr_t, Range> mappings;
};

Registry& registry() {
  // Leaked on purpose: a deleter may run during static destruction at process exit (a worker's
  // isolate torn down late); a destroyed registry there would be a use-after-free.
  static Registry* instance = new Registry();
  return *instance;
}

}  // namespace

Result<void*> map_shared(int fd, size_t length, const std::string& path) {
  void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return Error::system(errno, "mmap", path);
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  reg.mappings.emplace(reinterpret_cast<uintptr_t>(base), Range{length, true});
  return base;
}

bool unmap(void* base, size_t length) {
  Registry& reg = registry();
  {
    std::lock_guard<std::mutex> lock(reg.mutex);
    auto found = reg.mappings.find(reinterpret_cast<uintptr_t>(base));
    if (found == reg.mappings.end() || found->second.length != length) return false;
    // Erase before munmap, under the lock: a concurrent second release finds nothing and returns,
    // so munmap runs exactly once even if two owners race.
    reg.mappings.erase(found);
  }
  // munmap outside the lock: it can take a while for a large mapping (page-table teardown), and
  // nothing else needs to wait for it. It only fails for arguments we know are valid.
  ::munmap(base, length);
  return true;
}

bool release_pages(void* base, size_t length) {
  Registry& reg = registry();
  // mmap under the lock, unlike munmap in unmap(): MAP_FIXED replaces whatever is at the address,
  // so the range must still be ours while it runs. Holding the lock keeps a concurrent unmap()
  // (which unregisters under the lock first) from giving the range back to the kernel, and another
  // mapping from landing there, in between.
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto found = reg.mappings.find(reinterpret_cast<uintptr_t>(base));
  if (found == reg.mappings.end() || found->second.length != length || !found->second.maps_file) {
    return false;
  }
  // MAP_NORESERVE: zero pages that nobody should write are not worth a commit charge.
  void* replaced = ::mmap(base, length, PROT_READ | PROT_WRITE,
                          MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  // A refusal (ENOMEM) leaves the range registered as mapping its file: unmap() still releases it,
  // at the latest when the buffer is collected, as without this call.
  if (replaced == MAP_FAILED) return false;
  found->second.maps_file = false;
  return true;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older C libraries do not name it
#endif

Status prefault(void* base, size_t length) {
  int result;
  do {
    result = ::madvise(base, length, MADV_POPULATE_WRITE);
  } while (result != 0 && errno == EINTR);
  if (result == 0) return Status::success();
  if (errno != EINVAL) return Error::system(errno, "madvise(MADV_POPULATE_WRITE)", std::string());
  // An older kernel: touch each page with a write that changes nothing.
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  char* bytes = static_cast<char*>(base);
  for (size_t offset = 0; offset < length; offset += page) {
    __atomic_fetch_add(reinterpret_cast<uint32_t*>(bytes + offset), 0u, __ATOMIC_RELAXED);
  }
  return Status::success();
}

size_t live_mappings() {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  size_t count = 0;
  for (const auto& entry : reg.mappings) count += entry.second.maps_file ? 1 : 0;
  return count;
}

bool is_live_mapping(const void* base, size_t length) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto found = reg.mappings.find(reinterpret_cast<uintptr_t>(base));
  return found != reg.mappings.end() && found->second.length == length && found->second.maps_file;
}

}  // namespace shmring
