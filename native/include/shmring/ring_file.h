// Ring files: a ring in a file mapped MAP_SHARED (a file in /dev/shm for IPC, on disk for a log),
// its role locks, durability (msync) and shared-memory names. Knows nothing of Node.
#ifndef SHMRING_RING_FILE_H
#define SHMRING_RING_FILE_H

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "shmring/error.h"
#include "shmring/header.h"

namespace shmring {

enum class Role { kProducer, kConsumer };

const char* role_name(Role role);  // "producer" / "consumer"

// ---- names and paths ----------------------------------------------------------------------------

// "/dev/shm/" + name for a valid shared-memory name: non-empty, at most NAME_MAX (255) bytes, no
// '/', no NUL, not "." or "..". Otherwise ERR_BAD_NAME naming the name.
Result<std::string> shm_path(const std::string& name);

// Refuses a path the kernel would silently read differently: empty, or with an embedded NUL (a C
// string would stop there and open another file). ERR_BAD_PATH.
Status check_path(const std::string& path);

// unlink(2) with an errno-coded error naming the path.
Status unlink_path(const std::string& path);

// ---- role locks ----------------------------------------------------------------------------------
// An OFD (open file description) write lock on one byte of the file: PRODUCER_LOCK_OFFSET or
// CONSUMER_LOCK_OFFSET. OFD locks belong to the open file description, not the process: a second
// open() of the same file in the same process conflicts (unlike POSIX record locks), closing any
// other fd of the file does not drop them, and the kernel drops them when the description's last
// reference goes, which includes the death of the holder by SIGKILL, so a crash never leaves a
// role stuck. Hazard: a mapping is such a reference too, so closing the fd of a still-mapped file
// does NOT drop its locks; RingFile::close_fd() therefore unlocks both roles before closing.

// Takes the role's lock without blocking. If another description holds it: ERR_ROLE_TAKEN, with
// the holder's pid as `value` (read from the header's producerPid/consumerPid word: F_OFD_GETLK
// reports -1 as the pid of an OFD lock). `path` is for the message.
Status lock_role(int fd, Role role, const std::string& path);

// Releases the role's lock held through `fd` (no error if it was not held).
Status unlock_role(int fd, Role role, const std::string& path);

// Whether ANOTHER open file description holds the role's lock (F_OFD_GETLK: our own lock never
// conflicts with ourselves, so it reads as not held). The liveness test that survives kill -9.
Result<bool> role_lock_held(int fd, Role role, const std::string& path);

// ---- durability ----------------------------------------------------------------------------------

// msync(2) of [offset, offset + length) of a mapping of `mapping_length` bytes at `base`, widened to
// whole pages as msync requires; MS_SYNC when `sync`, MS_ASYNC otherwise. ERR_OUT_OF_RANGE if the
// range is not inside the mapping.
Status msync_range(void* base, size_t mapping_length, size_t offset, size_t length, bool sync);

// Makes a ring's published state durable: msync(data area, MS_SYNC) and only then msync(header
// page, MS_SYNC), so that this flush never writes positions before the data they cover. (The kernel
// may still write a dirty header page back on its own at any time; a reader after a machine crash
// must treat the data as untrusted, which the consumer's checks of FORMAT.md §5 do.)
Status flush(void* base, size_t mapping_length);

// ---- the ring file ----------------------------------------------------------------------------

// An open ring file: its descriptor (which carries the role locks) and its mapping. Move-only. The
// destructor closes the descriptor and unmaps the mapping unless release_mapping() handed the
// mapping to someone else (the addon's SharedArrayBuffer deleter).
class RingFile {
 public:
  // Creates a ring file of HEADER_LENGTH + capacity bytes and initialises its header. The name
  // never points at a half-made ring, whenever the creator dies (FORMAT.md §3): the ring is built
  // in an unnamed O_TMPFILE file of the target directory (or, where the file system refuses
  // O_TMPFILE, under a `.shmring-tmp-<pid>-<n>` name while holding a build lock on byte 0), its
  // ready word is published, and only then is it given `path`:
  //
  // exclusive: link(2) to `path`, which fails with EEXIST if the path exists (a symlink included).
  // !exclusive: replace whatever regular file is at `path` with rename(2). Refused with ERR_IN_USE
  //   (naming the role and the holder's pid) while any process holds a role of the existing file,
  //   and both role bytes of the existing file are read-locked until the rename, so nobody attaches
  //   to it in between. Processes that merely map the old file keep the old inode. Opening and
  //   ftruncate()ing the existing file instead would pull a live ring out from under them.
  //
  // Every create first removes `.shmring-tmp-*` files of the directory whose build lock is free
  // (their creator died; temporaries of older versions had no lock and are removed too).
  //
  // `mode` must be permission bits with owner read-write (0o600 ..= 0o777, else ERR_BAD_ARGUMENT
  // naming mode) and is applied with fchmod, so the umask does not change it. The size is set with
  // ftruncate BEFORE mapping (touching a mapping beyond EOF is SIGBUS) and reserved with fallocate
  // where the file system supports it, so that a full /dev/shm fails here with ENOSPC instead of
  // killing the process with SIGBUS on a later page fault.
  static Result<RingFile> create(const std::string& path, uint64_t capacity,
                                 uint64_t max_record_length, uint32_t mode = 0600,
                                 bool exclusive = true);

  // A ring in an anonymous sealed memfd (memfd_create MFD_ALLOW_SEALING, sized, then sealed with
  // F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL): nobody can truncate it, so no peer can make a
  // mapping of it fault (SIGBUS). Shared by descriptor (inherited, or passed over a Unix socket);
  // path() is "/proc/<pid>/fd/<fd>", which open_fd() of another process can reopen.
  static Result<RingFile> create_anonymous(uint64_t capacity, uint64_t max_record_length);

  // Opens a ring through a descriptor this process holds (an inherited memfd, or any ring file).
  // The file is reopened through /proc/self/fd/<fd>, so this RingFile has its own open file
  // description: its role locks conflict with those taken through `fd` itself, as between two
  // processes. `fd` stays the caller's. Then as open().
  static Result<RingFile> open_fd(int fd);

  // The memfd seals of the file (F_GET_SEALS), 0 for a file that cannot be sealed.
  uint32_t seals() const;

  // Opens an existing ring file: open(O_RDWR | O_NOFOLLOW | O_CLOEXEC) (ERR_SYMLINK for a symlink),
  // fstat must say a regular file (ERR_NOT_REGULAR_FILE), the first HEADER_LENGTH bytes are pread
  // and validated against st_size BEFORE anything is mapped (so a lying header can never make us
  // map or touch more than the file has), then the whole file is mapped and the header validated
  // again through the mapping, acquire-loading READY first as FORMAT.md §3 prescribes.
  static Result<RingFile> open(const std::string& path);

  RingFile() = default;  // empty: no descriptor, no mapping (a moved-from RingFile looks the same)
  RingFile(RingFile&& other) noexcept;
  RingFile& operator=(RingFile&& other) noexcept;
  RingFile(const RingFile&) = delete;
  RingFile& operator=(const RingFile&) = delete;
  ~RingFile();

  int fd() const { return fd_; }
  void* base() const { return base_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  const HeaderInfo& header() const { return header_; }

  // The caller now owns the mapping and must shmring::unmap(base(), size()) it. base() and size()
  // keep their values (for the caller's bookkeeping).
  void release_mapping() { owns_mapping_ = false; }

  // Unlocks both roles and closes the descriptor (see the hazard above). Idempotent.
  void close_fd();

  // The OFD lock, plus this object's own record of it: OFD locks never conflict within one open file
  // description, so a second lock_role() of a role this RingFile holds must be refused here
  // (ERR_ROLE_TAKEN naming our own pid), or two sides of one role would run on one ring.
  Status lock_role(Role role);
  Status unlock_role(Role role);
  Result<bool> role_held(Role role) const { return role_lock_held(fd_, role, path_); }

 private:
  void reset();
  // Sizes, reserves, maps and initialises a new file (fd_, size_ set), publishing ready last.
  Status build(uint64_t capacity, uint64_t max_record_length, const std::string& path);
  static Result<RingFile> open_descriptor(int fd, const std::string& path);

  int fd_ = -1;
  bool roles_held_[2] = {false, false};
  void* base_ = nullptr;
  size_t size_ = 0;
  bool owns_mapping_ = false;
  std::string path_;
  HeaderInfo header_;
};

}  // namespace shmring

#endif  // SHMRING_RING_FILE_H
