#include "shmring/mapping.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace shmring {

namespace {

// base address -> length of every live mapping made by map_shared. A mutex rather than anything
// clever: mapping and unmapping are rare (per ring file, not per record) and may happen on any
// thread (V8 runs a SharedArrayBuffer's deleter on whichever thread drops the last reference).
struct Registry {
  std::mutex mutex;
  std::unordered_map<uintptr_t, size_t> mappings;
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
  reg.mappings.emplace(reinterpret_cast<uintptr_t>(base), length);
  return base;
}

bool unmap(void* base, size_t length) {
  Registry& reg = registry();
  {
    std::lock_guard<std::mutex> lock(reg.mutex);
    auto found = reg.mappings.find(reinterpret_cast<uintptr_t>(base));
    if (found == reg.mappings.end() || found->second != length) return false;
    // Erase before munmap, under the lock: a concurrent second release finds nothing and returns,
    // so munmap runs exactly once even if two owners race.
    reg.mappings.erase(found);
  }
  // munmap outside the lock: it can take a while for a large mapping (page-table teardown), and
  // nothing else needs to wait for it. It only fails for arguments we know are valid.
  ::munmap(base, length);
  return true;
}

size_t live_mappings() {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  return reg.mappings.size();
}

bool is_live_mapping(const void* base, size_t length) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto found = reg.mappings.find(reinterpret_cast<uintptr_t>(base));
  return found != reg.mappings.end() && found->second == length;
}

}  // namespace shmring
