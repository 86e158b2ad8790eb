#include "shmring/ring_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
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

// The byte a creator write-locks (OFD) from the moment its file exists until the file has its final
// name. It is no role's byte, so a role attach never waits for it; a cleaner that can read-lock it
// knows the creator is gone (kill -9 included), whatever pid it had (FORMAT.md §3).
constexpr off_t kBuildLockOffset = 0;

// A ring file's mode: permission bits only (no setuid, setgid or sticky bit on a data file), and
// read-write for the owner, since every attacher, the creator included, opens it O_RDWR.
Status check_mode(uint32_t mode) {
  if ((mode & ~0777u) != 0 || (mode & 0600u) != 0600u) {
    Error error = Error::plain(
        "ERR_BAD_ARGUMENT", "mode is 0o" + [&] {
          char octal[16];
          std::snprintf(octal, sizeof octal, "%o", mode);
          return std::string(octal);
        }() + ", expected permission bits 0o600 ..= 0o777 with owner read and write (0o600) set");
    error.field = "mode";
    error.has_value = true;
    error.value = mode;
    return error;
  }
  return Status::success();
}

constexpr const char* kTemporaryPrefix = ".shmring-tmp-";

bool all_digits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "/proc/self/fd/<n>" or "/proc/<pid>/fd/<n>", nothing else (no "..", no extra components).
bool is_proc_fd_path(const std::string& path) {
  static const std::string kProc = "/proc/";
  if (path.compare(0, kProc.size(), kProc) != 0) return false;
  const size_t pid_end = path.find('/', kProc.size());
  if (pid_end == std::string::npos) return false;
  const std::string pid = path.substr(kProc.size(), pid_end - kProc.size());
  if (pid != "self" && !all_digits(pid)) return false;
  if (path.compare(pid_end, 4, "/fd/") != 0) return false;
  return all_digits(path.substr(pid_end + 4));
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A fresh name next to `path`: same directory, so link(2) and rename(2) to `path` are atomic.
std::string temporary_sibling(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return directory_of(path) + "/" + kTemporaryPrefix + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

bool set_lock(int fd, short type, off_t start) {  // NOLINT(runtime/int): flock's type
  struct flock request;
  std::memset(&request, 0, sizeof request);
  request.l_type = type;
  request.l_whence = SEEK_SET;
  request.l_start = start;
  request.l_len = 1;
  return ::fcntl(fd, F_OFD_SETLK, &request) == 0;
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Removes `.shmring-tmp-*` files of `directory` whose creator is gone: a creator killed between
// naming its temporary and renaming it (a window of two system calls), or any temporary left by
// shmring versions before 0.2, which built the whole ring under such a name without a build lock.
// "Gone" is decided by the build lock, never by the pid in the name (pids are reused and differ
// between namespaces). Best effort: a file we cannot open or lock is left alone.
void remove_abandoned_temporaries(const std::string& directory) {
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) return;
  DIR* listing = ::fdopendir(directory_fd);
  if (listing == nullptr) {
    close_once(directory_fd);
    return;
  }
  const size_t prefix_length = std::strlen(kTemporaryPrefix);
  while (struct dirent* entry = ::readdir(listing)) {
    if (std::strncmp(entry->d_name, kTemporaryPrefix, prefix_length) != 0) continue;
    const int fd = ::openat(directory_fd, entry->d_name,
                            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) continue;
    struct stat opened;
    struct stat named;
    // A read lock is refused while the creator holds its write lock on the build byte.
    if (::fstat(fd, &opened) == 0 && S_ISREG(opened.st_mode) &&
        set_lock(fd, F_RDLCK, kBuildLockOffset) &&
        ::fstatat(directory_fd, entry->d_name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
        same_file(opened, named)) {
      (void)::unlinkat(directory_fd, entry->d_name, 0);
    }
    close_once(fd);
  }
  ::closedir(listing);  // closes directory_fd
}

// Links an unnamed (O_TMPFILE) file to `name`; EEXIST if `name` exists. linkat(AT_EMPTY_PATH) needs
// CAP_DAC_READ_SEARCH, the /proc/self/fd route does not; try that first.
int link_unnamed(int fd, const std::string& name) {
  const std::string proc_path = "/proc/self/fd/" + std::to_string(fd);
  if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0) return 0;
  if (errno != ENOENT) return -1;  // ENOENT: /proc is not mounted
  return ::linkat(fd, "", AT_FDCWD, name.c_str(), AT_EMPTY_PATH);
}

// The ring file that `!exclusive` create would replace, held so it cannot be attached while it is
// replaced: read locks on both role bytes conflict with every attacher's write lock. Refuses with
// ERR_IN_USE, naming the role and the pid its holder published, while a live process holds a role.
Result<int> hold_replaced_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return -1;  // nothing to replace (any more)
    if (errno == ELOOP) return symlink_refused(path, "create");
    return Error::system(errno, "open", path);
  }
  struct stat status;
  if (::fstat(fd, &status) != 0) {
    const int errnum = errno;
    close_once(fd);
    return Error::system(errnum, "fstat", path);
  }
  if (!S_ISREG(status.st_mode)) {
    close_once(fd);
    return not_regular_file(path, file_type_name(status.st_mode), 0);
  }
  for (Role role : {Role::kProducer, Role::kConsumer}) {
    if (set_lock(fd, F_RDLCK, lock_offset(role))) continue;
    const int errnum = errno;
    if (errnum != EAGAIN && errnum != EACCES) {
      close_once(fd);
      return Error::system(errnum, "fcntl(F_OFD_SETLK)", path);
    }
    uint32_t holder_pid = 0;
    if (pread_fully(fd, &holder_pid, sizeof holder_pid, pid_offset(role)) !=
        static_cast<ssize_t>(sizeof holder_pid)) {
      holder_pid = 0;
    }
    close_once(fd);
    Error error = Error::plain(
        "ERR_IN_USE", std::string("cannot replace ring file ") + path + ": its " + role_name(role) +
                          " role is held by pid " + std::to_string(holder_pid) + " (from the header's " +
                          pid_field(role) +
                          " word); a replaced ring would strand it on the unlinked file");
    error.field = pid_field(role);
    error.has_value = true;
    error.value = holder_pid;
    error.path = path;
    return error;
  }
  return fd;
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
    roles_held_[0] = std::exchange(other.roles_held_[0], false);
    roles_held_[1] = std::exchange(other.roles_held_[1], false);
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
  roles_held_[0] = roles_held_[1] = false;
}

Status RingFile::lock_role(Role role) {
  bool& held = roles_held_[role == Role::kProducer ? 0 : 1];
  if (held) {
    const uint32_t own_pid = static_cast<uint32_t>(::getpid());
    Error error = Error::plain(
        "ERR_ROLE_TAKEN", std::string("the ") + role_name(role) + " role of " + path_ +
                              " is taken: held by pid " + std::to_string(own_pid) +
                              " (this process, through this same RingFile)");
    error.field = pid_field(role);
    error.has_value = true;
    error.value = own_pid;
    error.path = path_;
    return error;
  }
  Status locked = shmring::lock_role(fd_, role, path_);
  if (locked.ok()) held = true;
  return locked;
}

Status RingFile::unlock_role(Role role) {
  Status unlocked = shmring::unlock_role(fd_, role, path_);
  if (unlocked.ok()) roles_held_[role == Role::kProducer ? 0 : 1] = false;
  return unlocked;
}

uint32_t RingFile::seals() const {
  const int seals = ::fcntl(fd_, F_GET_SEALS);
  return seals < 0 ? 0 : static_cast<uint32_t>(seals);
}

Result<RingFile> RingFile::create_anonymous(uint64_t capacity, uint64_t max_record_length) {
  Status geometry = check_geometry(capacity, max_record_length);
  if (!geometry.ok()) return geometry.error().at_path("cannot create anonymous ring", "(memfd)");
  const int fd = ::memfd_create("shmring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return Error::system(errno, "memfd_create", std::string());
  RingFile file;
  file.fd_ = fd;
  file.path_ = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd);
  file.size_ = static_cast<size_t>(SHMRING_HEADER_LENGTH + capacity);
  Status built = file.build(capacity, max_record_length, file.path_);
  if (!built.ok()) return built.error();
  // Sealed after sizing: from here no descriptor, ours or a peer's, can change the size, so no
  // mapping of this ring can ever fault; F_SEAL_SEAL keeps anyone from undoing that.
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return Error::system(errno, "fcntl(F_ADD_SEALS)", file.path_);
  }
  return Result<RingFile>(std::move(file));
}

Result<RingFile> RingFile::open_fd(int fd) {
  if (fd < 0) {
    Error error = Error::plain("ERR_BAD_ARGUMENT", "ring descriptor: fd is " + std::to_string(fd) +
                                                       ", expected an open descriptor (>= 0)");
    error.field = "fd";
    return error;
  }
  const std::string proc_path = "/proc/self/fd/" + std::to_string(fd);
  // Not O_NOFOLLOW: /proc/self/fd/<fd> is a magic link to the descriptor's own file, the point of
  // this call; it cannot be redirected by anyone but this process.
  const int reopened = ::open(proc_path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (reopened < 0) return Error::system(errno, "open", proc_path);
  return open_descriptor(reopened,
                         "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd));
}

Result<RingFile> RingFile::create(const std::string& path, uint64_t capacity,
                                  uint64_t max_record_length, uint32_t mode, bool exclusive) {
  // Every argument is checked before anything touches the file system: a refusal leaves no file.
  Status valid = check_path(path);
  if (!valid.ok()) return valid.error();
  Status geometry = check_geometry(capacity, max_record_length);
  if (!geometry.ok()) return geometry.error().at_path("cannot create ring file", path);
  Status mode_valid = check_mode(mode);
  if (!mode_valid.ok()) return mode_valid.error().at_path("cannot create ring file", path);

  if (!exclusive) {
    // What we would replace must be a file: never a symlink (the same refusal as open's O_NOFOLLOW,
    // although rename(2) would replace the link itself rather than write through it), never a
    // directory or device. hold_replaced_file() checks the same again on what it opens.
    struct stat existing;
    if (::lstat(path.c_str(), &existing) == 0) {
      if (S_ISLNK(existing.st_mode)) return symlink_refused(path, "create");
      if (!S_ISREG(existing.st_mode)) {
        return not_regular_file(path, file_type_name(existing.st_mode), 0);
      }
    } else if (errno != ENOENT) {
      return Error::system(errno, "lstat", path);
    }
  }
  const std::string directory = directory_of(path);
  remove_abandoned_temporaries(directory);

  // The ring is built where no one can see it and named only once its ready word is published, so
  // the name never points at a half-made ring, whenever the creator dies (FORMAT.md §3). Preferred:
  // an unnamed O_TMPFILE file in the target directory, which vanishes with a killed creator. Where
  // the file system refuses O_TMPFILE, a temporary name under the build lock, which the next
  // create in the directory removes if the creator died.
  std::string temporary_path;  // empty while the file has no name
  int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd >= 0) {
    if (!set_lock(fd, F_WRLCK, kBuildLockOffset)) {
      const int errnum = errno;
      close_once(fd);
      return Error::system(errnum, "fcntl(F_OFD_SETLK)", path);
    }
  } else if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
    for (int attempt = 0; fd < 0; ++attempt) {
      temporary_path = temporary_sibling(path);
      fd = ::open(temporary_path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
                  static_cast<mode_t>(mode));
      if (fd < 0) {
        if (errno != EEXIST || attempt == 16) return Error::system(errno, "open", temporary_path);
        continue;
      }
      // A cleaner may have removed the name before our lock was taken (it saw no build lock):
      // then build under another name.
      struct stat opened;
      struct stat named;
      if (!set_lock(fd, F_WRLCK, kBuildLockOffset) || ::fstat(fd, &opened) != 0 ||
          ::lstat(temporary_path.c_str(), &named) != 0 || !same_file(opened, named)) {
        close_once(fd);
        fd = -1;
        if (attempt == 16) return Error::system(EAGAIN, "open", temporary_path);
      }
    }
  } else {
    return Error::system(errno, "open(O_TMPFILE)", directory);
  }

  RingFile file;
  file.fd_ = fd;
  file.path_ = path;
  file.size_ = static_cast<size_t>(SHMRING_HEADER_LENGTH + capacity);
  auto fail = [&](Error error) -> Error {
    file.reset();
    // We created it (O_EXCL) and still hold its build lock: nobody else's file is removed.
    if (!temporary_path.empty()) ::unlink(temporary_path.c_str());
    return error;
  };

  // The mode exactly as asked, whatever the umask: a umask of 0277 would otherwise make a 0400 file
  // that the creator itself could not open for writing again.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail(Error::system(errno, "fchmod", path));
  Status built = file.build(capacity, max_record_length, path);
  if (!built.ok()) return fail(built.error());

  if (exclusive) {
    const int linked = temporary_path.empty() ? link_unnamed(fd, path)
                                              : ::link(temporary_path.c_str(), path.c_str());
    if (linked != 0) return fail(Error::system(errno, "link", path));
    if (!temporary_path.empty()) ::unlink(temporary_path.c_str());
    (void)set_lock(fd, F_UNLCK, kBuildLockOffset);  // named: the build lock has done its job
    return Result<RingFile>(std::move(file));
  }

  if (temporary_path.empty()) {
    // rename(2) replaces atomically but needs a name to move: name the file first. A kill between
    // these two calls leaves a temporary that the next create in the directory removes.
    for (int attempt = 0; temporary_path.empty(); ++attempt) {
      std::string candidate = temporary_sibling(path);
      if (link_unnamed(fd, candidate) == 0) {
        temporary_path = candidate;
      } else if (errno != EEXIST || attempt == 16) {
        return fail(Error::system(errno, "link", candidate));
      }
    }
  }
  // Held until the rename: no process can attach to the ring being replaced in between.
  Result<int> replaced = hold_replaced_file(path);
  if (!replaced.ok()) return fail(replaced.error());
  const int rename_result = ::rename(temporary_path.c_str(), path.c_str());
  const int rename_errno = errno;
  if (replaced.value() >= 0) close_once(replaced.value());
  if (rename_result != 0) return fail(Error::system(rename_errno, "rename", path));
  (void)set_lock(fd, F_UNLCK, kBuildLockOffset);
  return Result<RingFile>(std::move(file));
}

Status RingFile::build(uint64_t capacity, uint64_t max_record_length, const std::string& path) {
  // Size first, map second: touching a MAP_SHARED page beyond end-of-file is SIGBUS.
  const off_t size = static_cast<off_t>(size_);
  if (::ftruncate(fd_, size) != 0) return Error::system(errno, "ftruncate", path);
  // Reserve the blocks now. A tmpfs (/dev/shm) or disk file of holes would otherwise fail only when
  // a page is first touched, and a failed page fault in a mapping is SIGBUS, not an error code. Not
  // every file system can (EOPNOTSUPP): then we live with holes, as any mmap user must.
  int reserved;
  do {
    reserved = ::fallocate(fd_, 0, 0, size);
  } while (reserved != 0 && errno == EINTR);
  if (reserved != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
    return Error::system(errno, "fallocate", path);
  }

  Result<void*> mapped = map_shared(fd_, size_, path);
  if (!mapped.ok()) return mapped.error();
  base_ = mapped.value();
  owns_mapping_ = true;

  Status initialised = init_header(base_, capacity, max_record_length,
                                   static_cast<uint32_t>(::getpid()));
  if (!initialised.ok()) return initialised.error();  // unreachable: geometry checked by callers
  header_.capacity = static_cast<uint32_t>(capacity);
  header_.max_record_length = static_cast<uint32_t>(max_record_length);
  header_.creator_pid = static_cast<uint32_t>(::getpid());
  return Status::success();
}

Result<RingFile> RingFile::open(const std::string& path) {
  Status valid = check_path(path);
  if (!valid.ok()) return valid.error();

  // /proc/<pid>/fd/<n> names a descriptor of a process we may trace (an anonymous ring shared by
  // path): a kernel-made magic link nobody can plant, and following it is the point, so it alone is
  // opened without O_NOFOLLOW (a new open file description of the same file).
  const int no_follow = is_proc_fd_path(path) ? 0 : O_NOFOLLOW;
  const int fd = ::open(path.c_str(), O_RDWR | no_follow | O_CLOEXEC);
  if (fd < 0) {
    const int errnum = errno;
    if (errnum == ELOOP) return symlink_refused(path, "open");
    if (errnum == EISDIR) return not_regular_file(path, "a directory", errnum);
    return Error::system(errnum, "open", path);
  }
  return open_descriptor(fd, path);
}

Result<RingFile> RingFile::open_descriptor(int fd, const std::string& path) {
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
