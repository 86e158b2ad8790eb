#include "shmring/ring_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "shmring/mapping.h"

namespace shmring {

namespace {

constexpr const char* kShmDirectory = "/dev/shm/";

uint32_t lock_offset(Role role) {
  return role == Role::kProducer ? SHMRING_PRODUCER_LOCK_OFFSET : SHMRING_CONSUMER_LOCK_OFFSET;
}

uint32_t pid_offset(Role role) {
  return role == Role::kProducer ? SHMRING_PRODUCER_PID_OFFSET : SHMRING_CONSUMER_PID_OFFSET;
}

const char* pid_field(Role role) {
  return role == Role::kProducer ? "producerPid" : "consumerPid";
}

struct flock role_lock_request(Role role, short type) {  // NOLINT(runtime/int): flock's type
  struct flock request;
  std::memset(&request, 0, sizeof request);
  request.l_type = type;
  request.l_whence = SEEK_SET;
  request.l_start = lock_offset(role);
  request.l_len = 1;
  request.l_pid = 0;  // must be 0 for F_OFD_* commands
  return request;
}

int close_once(int fd) {
  // Linux closes the descriptor even when close() reports EINTR; retrying could close a
  // descriptor another thread has just been given. So: exactly one close().
  return ::close(fd);
}

// Reads exactly `length` bytes at `offset` unless the file ends first; returns bytes read or -1.
ssize_t pread_fully(int fd, void* buffer, size_t length, off_t offset) {
  size_t done = 0;
  while (done < length) {
    ssize_t got = ::pread(fd, static_cast<char*>(buffer) + done, length - done,
                          offset + static_cast<off_t>(done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (got == 0) break;  // end of file
    done += static_cast<size_t>(got);
  }
  return static_cast<ssize_t>(done);
}

const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

Error not_regular_file(const std::string& path, const char* what, int errnum) {
  Error error = Error::plain("ERR_NOT_REGULAR_FILE",
                             std::string("cannot open ring file ") + path + ": it is " + what +
                                 ", not a regular file");
  error.path = path;
  error.sys_errno = errnum;
  if (errnum != 0) error.syscall = "open";
  return error;
}

Error symlink_refused(const std::string& path, const char* what) {
  Error error = Error::system(ELOOP, "open", path);
  error.code = "ERR_SYMLINK";
  error.message = std::string("cannot ") + what + " ring file " + path +
                  ": it is a symbolic link (refused: a link in a shared directory could point a "
                  "peer at any file)";
  return error;
}

// A fresh name next to `path` for !exclusive create: same directory, so rename(2) is atomic.
std::string temporary_sibling(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  return directory + ".shmring-tmp-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace

const char* role_name(Role role) { return role == Role::kProducer ? "producer" : "consumer"; }

// ---- names and paths ----------------------------------------------------------------------------

Result<std::string> shm_path(const std::string& name) {
  auto refuse = [&](const char* why) -> Error {
    // Printed with its length, not raw: the name may contain a NUL or be 10 MB long.
    std::string shown = name.size() <= 64 ? name : name.substr(0, 64) + "...";
    for (char& c : shown) {
      if (c == '\0') c = '?';
    }
    Error error = Error::plain("ERR_BAD_NAME", "bad shared-memory name '" + shown + "' (" +
                                                   std::to_string(name.size()) + " bytes): " + why);
    error.field = "name";
    return error;
  };
  if (name.empty()) return refuse("it is empty");
  if (name.size() > NAME_MAX) return refuse("longer than NAME_MAX (255) bytes");
  if (name.find('\0') != std::string::npos) return refuse("it contains a NUL byte");
  if (name.find('/') != std::string::npos) return refuse("it contains '/'");
  if (name == "." || name == "..") return refuse("'.' and '..' are not file names");
  return std::string(kShmDirectory) + name;
}

Status check_path(const std::string& path) {
  if (path.empty()) {
    Error error = Error::plain("ERR_BAD_PATH", "bad ring file path: it is empty");
    error.field = "path";
    return error;
  }
  if (path.find('\0') != std::string::npos) {
    Error error = Error::plain("ERR_BAD_PATH",
                               "bad ring file path: it contains a NUL byte (a C string would end "
                               "there and name another file)");
    error.field = "path";
    return error;
  }
  return Status::success();
}

Status unlink_path(const std::string& path) {
  Status valid = check_path(path);
  if (!valid.ok()) return valid;
  if (::unlink(path.c_str()) != 0) return Error::system(errno, "unlink", path);
  return Status::success();
}

// ---- role locks -------------------------------------------------------------------------------

Status lock_role(int fd, Role role, const std::string& path) {
  struct flock request = role_lock_request(role, F_WRLCK);
  if (::fcntl(fd, F_OFD_SETLK, &request) == 0) return Status::success();
  const int errnum = errno;
  if (errnum != EAGAIN && errnum != EACCES) return Error::system(errnum, "fcntl(F_OFD_SETLK)", path);

  // Somebody else holds it. The kernel does not tell us who (an OFD lock has no owning process:
  // F_OFD_GETLK reports pid -1), so we name the pid the holder published in the header. It is
  // informational (relaxed, FORMAT.md §1) and may be 0 if the holder has not published it yet.
  uint32_t holder_pid = 0;
  if (pread_fully(fd, &holder_pid, sizeof holder_pid, pid_offset(role)) !=
      static_cast<ssize_t>(sizeof holder_pid)) {
    holder_pid = 0;
  }
  Error error = Error::plain(
      "ERR_ROLE_TAKEN", std::string("the ") + role_name(role) + " role of " + path +
                            " is taken: held by pid " + std::to_string(holder_pid) +
                            " (from the header's " + pid_field(role) + " word)");
  error.field = pid_field(role);
  error.has_value = true;
  error.value = holder_pid;
  error.path = path;
  return error;
}

Status unlock_role(int fd, Role role, const std::string& path) {
  struct flock request = role_lock_request(role, F_UNLCK);
  if (::fcntl(fd, F_OFD_SETLK, &request) != 0) return Error::system(errno, "fcntl(F_OFD_SETLK)", path);
  return Status::success();
}

Result<bool> role_lock_held(int fd, Role role, const std::string& path) {
  struct flock request = role_lock_request(role, F_WRLCK);
  if (::fcntl(fd, F_OFD_GETLK, &request) != 0) return Error::system(errno, "fcntl(F_OFD_GETLK)", path);
  // F_UNLCK: a write lock could be placed, i.e. no OTHER description holds a conflicting lock.
  return request.l_type != F_UNLCK;
}

// ---- durability -----------------------------------------------------------------------------------

Status msync_range(void* base, size_t mapping_length, size_t offset, size_t length, bool sync) {
  if (offset > mapping_length || length > mapping_length - offset) {
    Error error = Error::plain("ERR_OUT_OF_RANGE", "msync range [" + std::to_string(offset) + ", +" +
                                                       std::to_string(length) +
                                                       ") is outside the mapping of " +
                                                       std::to_string(mapping_length) + " bytes");
    error.field = "offset";
    error.has_value = true;
    error.value = offset;
    return error;
  }
  if (length == 0) return Status::success();
  // msync wants a page-aligned start; widening to whole pages stays inside the mapping, which the
  // kernel always maps in whole pages.
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t start = offset & ~(page - 1);
  const size_t end = offset + length;  // no overflow: both are <= mapping_length
  if (::msync(static_cast<char*>(base) + start, end - start, sync ? MS_SYNC : MS_ASYNC) != 0) {
    return Error::system(errno, "msync", std::string());
  }
  return Status::success();
}

Status flush(void* base, size_t mapping_length) {
  if (mapping_length < SHMRING_HEADER_LENGTH) {
    return Error::plain("ERR_OUT_OF_RANGE", "flush of a mapping shorter than a ring header");
  }
  // Data first, then the header page holding tail/head: when this flush returns, the positions on
  // disk never cover data that is not also on disk (with 4 KiB pages the two ranges are disjoint;
  // with larger pages the first msync already writes the header along with the data).
  Status data = msync_range(base, mapping_length, SHMRING_HEADER_LENGTH,
                            mapping_length - SHMRING_HEADER_LENGTH, /*sync=*/true);
  if (!data.ok()) return data;
  return msync_range(base, mapping_length, 0, SHMRING_HEADER_LENGTH, /*sync=*/true);
}

// ---- the ring file ----------------------------------------------------------------------------

RingFile::RingFile(RingFile&& other) noexcept { *this = std::move(other); }

RingFile& RingFile::operator=(RingFile&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    owns_mapping_ = std::exchange(other.owns_mapping_, false);
    path_ = std::move(other.path_);
    header_ = other.header_;
  }
  return *this;
}

RingFile::~RingFile() { reset(); }

void RingFile::reset() {
  close_fd();
  if (owns_mapping_ && base_ != nullptr) unmap(base_, size_);
  owns_mapping_ = false;
  base_ = nullptr;
  size_ = 0;
}

void RingFile::close_fd() {
  if (fd_ < 0) return;
  // Unlock explicitly before closing. OFD locks go away when the open file description is
  // released, and a mapping holds a reference to the description it was made through: as long as
  // our mapping lives (in the addon, until the last SharedArrayBuffer reference is collected),
  // close() alone would leave the role locked. Unlocking affects only this description's locks.
  (void)shmring::unlock_role(fd_, Role::kProducer, path_);
  (void)shmring::unlock_role(fd_, Role::kConsumer, path_);
  close_once(fd_);
  fd_ = -1;
}

Result<RingFile> RingFile::create(const std::string& path, uint64_t capacity,
                                  uint64_t max_record_length, uint32_t mode, bool exclusive) {
  // Every argument is checked before anything touches the file system: a refusal leaves no file.
  Status valid = check_path(path);
  if (!valid.ok()) return valid.error();
  Status geometry = check_geometry(capacity, max_record_length);
  if (!geometry.ok()) return geometry.error().at_path("cannot create ring file", path);
  if ((mode & ~07777u) != 0) {
    Error error = Error::field_text("ERR_BAD_MODE", "ring file", "mode", mode,
                                    "permission bits only (0 ..= 0o7777)");
    return error.at_path("cannot create ring file", path);
  }

  // Where the ring is built: `path` itself, or a temporary sibling renamed over it at the end.
  std::string build_path = path;
  int fd = -1;
  constexpr int kFlags = O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC;
  if (exclusive) {
    fd = ::open(path.c_str(), kFlags, static_cast<mode_t>(mode));
    if (fd < 0) return Error::system(errno, "open", path);
  } else {
    // What we would replace must be a file: never a symlink (the same refusal as open's O_NOFOLLOW,
    // although rename(2) would replace the link itself rather than write through it), never a
    // directory or device. A race with someone changing the entry after this check is harmless:
    // rename never follows links and fails on a directory.
    struct stat existing;
    if (::lstat(path.c_str(), &existing) == 0) {
      if (S_ISLNK(existing.st_mode)) return symlink_refused(path, "create");
      if (!S_ISREG(existing.st_mode)) {
        return not_regular_file(path, file_type_name(existing.st_mode), 0);
      }
    } else if (errno != ENOENT) {
      return Error::system(errno, "lstat", path);
    }
    for (int attempt = 0; fd < 0; ++attempt) {
      build_path = temporary_sibling(path);
      fd = ::open(build_path.c_str(), kFlags, static_cast<mode_t>(mode));
      if (fd < 0 && (errno != EEXIST || attempt == 16)) return Error::system(errno, "open", build_path);
    }
  }

  RingFile file;
  file.fd_ = fd;
  file.path_ = path;
  file.size_ = static_cast<size_t>(SHMRING_HEADER_LENGTH + capacity);
  auto fail = [&](Error error) -> Error {
    file.reset();
    ::unlink(build_path.c_str());  // we created it (O_EXCL): nobody else's file is removed
    return error;
  };

  // Size first, map second: touching a MAP_SHARED page beyond end-of-file is SIGBUS.
  const off_t size = static_cast<off_t>(file.size_);
  if (::ftruncate(fd, size) != 0) return fail(Error::system(errno, "ftruncate", build_path));
  // Reserve the blocks now. A tmpfs (/dev/shm) or disk file of holes would otherwise fail only when
  // a page is first touched, and a failed page fault in a mapping is SIGBUS, not an error code. Not
  // every file system can (EOPNOTSUPP): then we live with holes, as any mmap user must.
  int reserved;
  do {
    reserved = ::fallocate(fd, 0, 0, size);
  } while (reserved != 0 && errno == EINTR);
  if (reserved != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
    return fail(Error::system(errno, "fallocate", build_path));
  }

  Result<void*> mapped = map_shared(fd, file.size_, build_path);
  if (!mapped.ok()) return fail(mapped.error());
  file.base_ = mapped.value();
  file.owns_mapping_ = true;

  Status initialised = init_header(file.base_, capacity, max_record_length,
                                   static_cast<uint32_t>(::getpid()));
  if (!initialised.ok()) return fail(initialised.error());  // unreachable: geometry checked above
  file.header_.capacity = static_cast<uint32_t>(capacity);
  file.header_.max_record_length = static_cast<uint32_t>(max_record_length);
  file.header_.creator_pid = static_cast<uint32_t>(::getpid());

  if (!exclusive && ::rename(build_path.c_str(), path.c_str()) != 0) {
    return fail(Error::system(errno, "rename", path));
  }
  return Result<RingFile>(std::move(file));
}

Result<RingFile> RingFile::open(const std::string& path) {
  Status valid = check_path(path);
  if (!valid.ok()) return valid.error();

  const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int errnum = errno;
    if (errnum == ELOOP) return symlink_refused(path, "open");
    if (errnum == EISDIR) return not_regular_file(path, "a directory", errnum);
    return Error::system(errnum, "open", path);
  }
  RingFile file;
  file.fd_ = fd;
  file.path_ = path;

  struct stat status;
  if (::fstat(fd, &status) != 0) return Error::system(errno, "fstat", path);
  if (!S_ISREG(status.st_mode)) return not_regular_file(path, file_type_name(status.st_mode), 0);
  const uint64_t file_size = static_cast<uint64_t>(status.st_size);

  // Validate a copy of the header against the real size before mapping anything: the header comes
  // from whoever wrote the file, and a capacity that disagrees with st_size must never decide how
  // much we map or touch.
  alignas(64) unsigned char header_copy[SHMRING_HEADER_LENGTH];
  std::memset(header_copy, 0, sizeof header_copy);
  if (file_size >= SHMRING_HEADER_LENGTH) {
    const ssize_t got = pread_fully(fd, header_copy, sizeof header_copy, 0);
    if (got < 0) return Error::system(errno, "pread", path);
    if (static_cast<size_t>(got) < sizeof header_copy) {
      // The file shrank since fstat: report what we actually have.
      Result<HeaderInfo> refused = validate_header(header_copy, static_cast<uint64_t>(got));
      return refused.error().at_path("cannot open ring file", path);
    }
  }
  Result<HeaderInfo> copied = validate_header(header_copy, file_size);
  if (!copied.ok()) return copied.error().at_path("cannot open ring file", path);

  // validate_header accepted file_size == HEADER_LENGTH + capacity <= HEADER_LENGTH + 2^30.
  Result<void*> mapped = map_shared(fd, static_cast<size_t>(file_size), path);
  if (!mapped.ok()) return mapped.error();
  file.base_ = mapped.value();
  file.size_ = static_cast<size_t>(file_size);
  file.owns_mapping_ = true;

  // Again through the mapping, acquire-loading READY before the metadata (FORMAT.md §3): the pread
  // copy was taken in whatever order the kernel copies bytes, so it proves the geometry but not
  // the happens-before edge from the creator's store-release. The values we keep are these.
  // (A peer that truncates the file after this point can still make a later access fault: that
  // is inherent to shared mappings and the reason the role and lock protocol exists.)
  Result<HeaderInfo> mapped_header = validate_header(file.base_, file.size_);
  if (!mapped_header.ok()) return mapped_header.error().at_path("cannot open ring file", path);
  file.header_ = mapped_header.value();
  return Result<RingFile>(std::move(file));
}

}  // namespace shmring
