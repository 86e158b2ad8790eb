// Helpers shared by the core tests: private temporary directories and /dev/shm names that are
// removed again, and typed access to header words of a test buffer.
#ifndef SHMRING_TEST_UTIL_H
#define SHMRING_TEST_UTIL_H

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "shmring/atomics.h"
#include "shmring/header.h"
#include "shmring/ring_file.h"

namespace shmring::testing {

// A fresh directory from mkdtemp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/shmring-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed: " << strerror(errno);
    }
    path_ = pattern;
  }
  ~TempDir() {
    // The tests create only flat directories of files, FIFOs, symlinks and empty subdirectories.
    std::string command = "rm -rf '" + path_ + "'";
    if (system(command.c_str()) != 0) ADD_FAILURE() << "could not remove " << path_;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A /dev/shm name unique to this process and call, unlinked at the end of the test.
class ShmName {
 public:
  ShmName() {
    static std::atomic<int> counter{0};
    name_ = "shmring-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    Result<std::string> resolved = shm_path(name_);
    EXPECT_TRUE(resolved.ok());
    path_ = resolved.value();
  }
  ~ShmName() { unlink(path_.c_str()); }
  ShmName(const ShmName&) = delete;
  ShmName& operator=(const ShmName&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }

 private:
  std::string name_;
  std::string path_;
};

// Writes a header word of a test buffer or mapping (relaxed: the tests order with joins/pipes).
template <uint32_t Offset>
void set_word(void* base, uint32_t value) {
  atomics::store_relaxed(header_word<Offset>(base), value);
}
template <uint32_t Offset>
uint32_t get_word(const void* base) {
  return atomics::load_relaxed(header_word<Offset>(base));
}

inline std::string write_file(const std::string& path, const void* bytes, size_t length) {
  FILE* file = fopen(path.c_str(), "wb");
  if (file == nullptr) return "fopen failed";
  if (length != 0 && fwrite(bytes, 1, length, file) != length) {
    fclose(file);
    return "fwrite failed";
  }
  fclose(file);
  return "";
}

}  // namespace shmring::testing

#endif  // SHMRING_TEST_UTIL_H
