// Ring files: create/open and every refusal of open, the mapping registry, msync.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "shmring/mapping.h"
#include "shmring/ring_file.h"
#include "test_util.h"

namespace shmring {
namespace {

using testing::get_word;
using testing::set_word;
using testing::ShmName;
using testing::TempDir;

constexpr uint64_t kCapacity = 4096;
constexpr uint64_t kMaxRecord = 1024;

bool exists(const std::string& path) {
  struct stat status;
  return lstat(path.c_str(), &status) == 0;
}

// A file holding exactly `bytes`.
void make_file(const std::string& path, const std::vector<unsigned char>& bytes) {
  ASSERT_EQ(testing::write_file(path, bytes.data(), bytes.size()), "");
}

// A valid ring of `capacity` laid out in memory, for writing files by hand.
std::vector<unsigned char> ring_image(uint64_t capacity) {
  std::vector<unsigned char> image(SHMRING_HEADER_LENGTH + capacity, 0);
  EXPECT_TRUE(init_header(image.data(), capacity, 8, 1).ok());
  return image;
}

TEST(RingFile, CreateThenOpenSharesMemory) {
  TempDir dir;
  const std::string path = dir.file("ring");
  const size_t before = live_mappings();
  {
    Result<RingFile> created = RingFile::create(path, kCapacity, kMaxRecord);
    ASSERT_TRUE(created.ok()) << created.error().message;
    RingFile& producer = created.value();
    EXPECT_GE(producer.fd(), 0);
    EXPECT_EQ(producer.size(), SHMRING_HEADER_LENGTH + kCapacity);
    EXPECT_EQ(producer.path(), path);
    EXPECT_EQ(producer.header().capacity, kCapacity);
    EXPECT_EQ(producer.header().max_record_length, kMaxRecord);
    EXPECT_EQ(producer.header().creator_pid, static_cast<uint32_t>(getpid()));

    struct stat status;
    ASSERT_EQ(stat(path.c_str(), &status), 0);
    EXPECT_EQ(static_cast<uint64_t>(status.st_size), SHMRING_HEADER_LENGTH + kCapacity);
    EXPECT_EQ(status.st_mode & 0777, 0600u);

    Result<RingFile> opened = RingFile::open(path);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    RingFile& consumer = opened.value();
    EXPECT_EQ(consumer.header().capacity, kCapacity);
    EXPECT_EQ(consumer.header().max_record_length, kMaxRecord);
    EXPECT_EQ(live_mappings(), before + 2);
    EXPECT_TRUE(is_live_mapping(consumer.base(), consumer.size()));
    EXPECT_FALSE(is_live_mapping(consumer.base(), consumer.size() - 1));

    // Two mappings of one file: the same memory, header and data area alike.
    set_word<SHMRING_TAIL_OFFSET>(producer.base(), 4096);
    static_cast<unsigned char*>(producer.base())[SHMRING_HEADER_LENGTH + kCapacity - 1] = 0xAB;
    EXPECT_EQ(get_word<SHMRING_TAIL_OFFSET>(consumer.base()), 4096u);
    EXPECT_EQ(static_cast<unsigned char*>(consumer.base())[SHMRING_HEADER_LENGTH + kCapacity - 1],
              0xAB);
  }
  EXPECT_EQ(live_mappings(), before) << "RingFile's destructor unmaps";
}

TEST(RingFile, CreateInDevShm) {
  ShmName name;
  Result<RingFile> created = RingFile::create(name.path(), SHMRING_MIN_CAPACITY, 8);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(RingFile::open(name.path()).ok());
  ASSERT_TRUE(unlink_path(name.path()).ok());
  EXPECT_FALSE(exists(name.path()));
  Status again = unlink_path(name.path());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "ENOENT");
  EXPECT_EQ(again.error().syscall, "unlink");
  EXPECT_EQ(again.error().path, name.path());
}

TEST(RingFile, ExclusiveCreateRefusesAnExistingPath) {
  TempDir dir;
  const std::string path = dir.file("ring");
  ASSERT_TRUE(RingFile::create(path, kCapacity, kMaxRecord).ok());
  Result<RingFile> again = RingFile::create(path, kCapacity, kMaxRecord);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "EEXIST");
  EXPECT_EQ(again.error().sys_errno, EEXIST);
  EXPECT_EQ(again.error().syscall, "link");  // the ready ring is named by link(2), atomically
  EXPECT_EQ(again.error().path, path);
  EXPECT_NE(again.error().message.find(path), std::string::npos);

  // A symlink counts as existing (O_EXCL never follows it): nothing is created at its target.
  const std::string link = dir.file("link");
  ASSERT_EQ(symlink(dir.file("target").c_str(), link.c_str()), 0);
  EXPECT_EQ(RingFile::create(link, kCapacity, kMaxRecord).error().code, "EEXIST");
  EXPECT_FALSE(exists(dir.file("target")));
}

TEST(RingFile, NonExclusiveCreateReplacesAtomically) {
  TempDir dir;
  const std::string path = dir.file("ring");
  Result<RingFile> first = RingFile::create(path, 1024, 64);
  ASSERT_TRUE(first.ok());
  set_word<SHMRING_TAIL_OFFSET>(first.value().base(), 800);

  Result<RingFile> second = RingFile::create(path, 8192, 512, 0640, /*exclusive=*/false);
  ASSERT_TRUE(second.ok()) << second.error().message;
  // The old mapping still sees the old ring, untouched (no truncation under a live mapping).
  EXPECT_EQ(get_word<SHMRING_CAPACITY_OFFSET>(first.value().base()), 1024u);
  EXPECT_EQ(get_word<SHMRING_TAIL_OFFSET>(first.value().base()), 800u);
  // New openers get the new one.
  Result<RingFile> opened = RingFile::open(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened.value().header().capacity, 8192u);
  EXPECT_EQ(get_word<SHMRING_TAIL_OFFSET>(opened.value().base()), 0u);
  // No temporary file is left behind.
  std::string listing;
  FILE* ls = popen(("ls -A '" + dir.path() + "'").c_str(), "r");
  ASSERT_NE(ls, nullptr);
  char buffer[256];
  while (fgets(buffer, sizeof buffer, ls) != nullptr) listing += buffer;
  pclose(ls);
  EXPECT_EQ(listing, "ring\n") << "no temporary file left behind";
  // A symlink, a directory or a device is never replaced.
  const std::string link = dir.file("link");
  ASSERT_EQ(symlink(path.c_str(), link.c_str()), 0);
  EXPECT_EQ(RingFile::create(link, 64, 8, 0600, false).error().code, "ERR_SYMLINK");
  ASSERT_EQ(mkdir(dir.file("sub").c_str(), 0700), 0);
  EXPECT_EQ(RingFile::create(dir.file("sub"), 64, 8, 0600, false).error().code,
            "ERR_NOT_REGULAR_FILE");
  // Replacing a non-ring file works too; the directory entry, not the file, is replaced.
  make_file(dir.file("plain"), {1, 2, 3});
  EXPECT_TRUE(RingFile::create(dir.file("plain"), 64, 8, 0600, false).ok());
  EXPECT_TRUE(RingFile::open(dir.file("plain")).ok());
}

TEST(RingFile, RefusedCreateLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.file("ring");
  Result<RingFile> bad_capacity = RingFile::create(path, 1000, 8);
  ASSERT_FALSE(bad_capacity.ok());
  EXPECT_EQ(bad_capacity.error().code, "ERR_BAD_CAPACITY");
  EXPECT_EQ(bad_capacity.error().value, 1000u);
  EXPECT_EQ(bad_capacity.error().path, path);
  EXPECT_EQ(RingFile::create(path, 1024, 1024).error().code, "ERR_BAD_MAX_RECORD_LENGTH");
  EXPECT_EQ(RingFile::create(path, 1024, 8, 010000).error().code, "ERR_BAD_ARGUMENT");
  EXPECT_EQ(RingFile::create(path, 1024, 8, 04777).error().field, "mode");
  EXPECT_EQ(RingFile::create(path, 1024, 8, 0400).error().code, "ERR_BAD_ARGUMENT");
  EXPECT_EQ(RingFile::create("", 1024, 8).error().code, "ERR_BAD_PATH");
  EXPECT_FALSE(exists(path));
  // A missing directory is the kernel's ENOENT.
  EXPECT_EQ(RingFile::create(dir.file("missing/ring"), 1024, 8).error().code, "ENOENT");
}

TEST(RingFile, ModeIsExactWhateverTheUmask) {
  TempDir dir;
  const mode_t old_umask = umask(0277);
  Result<RingFile> created = RingFile::create(dir.file("ring"), 1024, 8, 0660);
  umask(old_umask);
  ASSERT_TRUE(created.ok()) << created.error().message;
  struct stat status;
  ASSERT_EQ(stat(dir.file("ring").c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0660u);
}

TEST(RingFile, SecondLockOfARoleThroughOneRingFileIsRefused) {
  TempDir dir;
  Result<RingFile> created = RingFile::create(dir.file("ring"), 1024, 8);
  ASSERT_TRUE(created.ok());
  RingFile& file = created.value();
  ASSERT_TRUE(file.lock_role(Role::kConsumer).ok());
  Status again = file.lock_role(Role::kConsumer);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "ERR_ROLE_TAKEN");
  EXPECT_EQ(again.error().value, static_cast<uint64_t>(getpid()));
  ASSERT_TRUE(file.unlock_role(Role::kConsumer).ok());
  EXPECT_TRUE(file.lock_role(Role::kConsumer).ok());
}

TEST(RingFile, ReplacingARingInUseIsRefused) {
  TempDir dir;
  const std::string path = dir.file("ring");
  Result<RingFile> live = RingFile::create(path, 1024, 8);
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(live.value().lock_role(Role::kProducer).ok());
  Result<RingFile> replaced = RingFile::create(path, 1024, 8, 0600, /*exclusive=*/false);
  ASSERT_FALSE(replaced.ok());
  EXPECT_EQ(replaced.error().code, "ERR_IN_USE");
  EXPECT_EQ(replaced.error().field, "producerPid");
  ASSERT_TRUE(live.value().unlock_role(Role::kProducer).ok());
  EXPECT_TRUE(RingFile::create(path, 1024, 8, 0600, /*exclusive=*/false).ok());
}

TEST(RingFile, AbandonedTemporaryIsRemovedLockedOneKept) {
  TempDir dir;
  const std::string abandoned = dir.file(".shmring-tmp-1-0");
  const std::string building = dir.file(".shmring-tmp-1-1");
  make_file(abandoned, ring_image(1024));
  make_file(building, ring_image(1024));
  // A creator still building holds the write lock on byte 0 of its temporary.
  const int builder = open(building.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(builder, 0);
  struct flock lock;
  std::memset(&lock, 0, sizeof lock);
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 1;
  ASSERT_EQ(fcntl(builder, F_OFD_SETLK, &lock), 0);
  ASSERT_TRUE(RingFile::create(dir.file("ring"), 1024, 8).ok());
  EXPECT_FALSE(exists(abandoned));
  EXPECT_TRUE(exists(building));
  close(builder);
}

TEST(RingFile, AnonymousRingIsSealedAndReopenable) {
  Result<RingFile> created = RingFile::create_anonymous(4096, 64);
  ASSERT_TRUE(created.ok()) << created.error().message;
  RingFile& ring = created.value();
  EXPECT_EQ(ring.seals(), static_cast<uint32_t>(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW));
  EXPECT_NE(ftruncate(ring.fd(), 0), 0);
  EXPECT_EQ(errno, EPERM);
  Result<RingFile> reopened = RingFile::open_fd(ring.fd());
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_EQ(reopened.value().header().capacity, 4096u);
  ASSERT_TRUE(ring.lock_role(Role::kProducer).ok());
  EXPECT_EQ(reopened.value().lock_role(Role::kProducer).error().code, "ERR_ROLE_TAKEN");
  Result<RingFile> by_path = RingFile::open(ring.path());
  EXPECT_TRUE(by_path.ok()) << by_path.error().message;
  EXPECT_EQ(RingFile::open_fd(-1).error().code, "ERR_BAD_ARGUMENT");
}

TEST(RingFile, OpenMissing) {
  TempDir dir;
  Result<RingFile> opened = RingFile::open(dir.file("nothing"));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, "ENOENT");
  EXPECT_EQ(opened.error().path, dir.file("nothing"));
  EXPECT_EQ(opened.error().message,
            "ENOENT: no such file or directory, open '" + dir.file("nothing") + "'");
}

TEST(RingFile, OpenRefusesSymlink) {
  TempDir dir;
  const std::string target = dir.file("ring");
  ASSERT_TRUE(RingFile::create(target, kCapacity, kMaxRecord).ok());
  const std::string link = dir.file("link");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  Result<RingFile> opened = RingFile::open(link);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, "ERR_SYMLINK");
  EXPECT_EQ(opened.error().sys_errno, ELOOP);
  EXPECT_EQ(opened.error().path, link);
}

TEST(RingFile, OpenRefusesDirectoryAndFifo) {
  TempDir dir;
  Result<RingFile> directory = RingFile::open(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().code, "ERR_NOT_REGULAR_FILE");
  EXPECT_NE(directory.error().message.find("directory"), std::string::npos);

  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Result<RingFile> pipe = RingFile::open(fifo);  // O_RDWR on a FIFO does not block on Linux
  ASSERT_FALSE(pipe.ok());
  EXPECT_EQ(pipe.error().code, "ERR_NOT_REGULAR_FILE");
  EXPECT_NE(pipe.error().message.find("FIFO"), std::string::npos);

  Result<RingFile> device = RingFile::open("/dev/null");
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.error().code, "ERR_NOT_REGULAR_FILE");
}

TEST(RingFile, OpenTruncatedFiles) {
  TempDir dir;
  const size_t before = live_mappings();
  const std::vector<unsigned char> image = ring_image(64);
  for (size_t length : {size_t{0}, size_t{10}, size_t{SHMRING_HEADER_LENGTH},
                        size_t{SHMRING_HEADER_LENGTH + 63}}) {
    const std::string path = dir.file("short-" + std::to_string(length));
    make_file(path, std::vector<unsigned char>(image.begin(), image.begin() + length));
    Result<RingFile> opened = RingFile::open(path);
    ASSERT_FALSE(opened.ok()) << length;
    EXPECT_EQ(opened.error().code, "ERR_TRUNCATED") << opened.error().message;
    EXPECT_EQ(opened.error().field, "size");
    EXPECT_EQ(opened.error().value, length);
    EXPECT_EQ(opened.error().path, path);
    EXPECT_NE(opened.error().message.find(path), std::string::npos);
  }
  EXPECT_EQ(live_mappings(), before) << "nothing was mapped";
}

TEST(RingFile, OpenSizeMismatch) {
  TempDir dir;
  const size_t before = live_mappings();
  const std::string path = dir.file("ring");
  ASSERT_TRUE(RingFile::create(path, kCapacity, kMaxRecord).ok());
  // Grown by someone else: the header says 4096 + 4096, the file is bigger.
  ASSERT_EQ(truncate(path.c_str(), SHMRING_HEADER_LENGTH + kCapacity + 4096), 0);
  Result<RingFile> grown = RingFile::open(path);
  ASSERT_FALSE(grown.ok());
  EXPECT_EQ(grown.error().code, "ERR_SIZE_MISMATCH");
  EXPECT_EQ(grown.error().value, SHMRING_HEADER_LENGTH + kCapacity + 4096);
  EXPECT_EQ(grown.error().expected_number, SHMRING_HEADER_LENGTH + kCapacity);
  // Shrunk: the header promises more than the file has; we must not map (or touch) past EOF.
  ASSERT_EQ(truncate(path.c_str(), SHMRING_HEADER_LENGTH + 128), 0);
  Result<RingFile> shrunk = RingFile::open(path);
  ASSERT_FALSE(shrunk.ok());
  EXPECT_EQ(shrunk.error().code, "ERR_SIZE_MISMATCH");
  EXPECT_EQ(live_mappings(), before);
}

TEST(RingFile, OpenRefusesEveryBadHeaderBeforeMapping) {
  TempDir dir;
  const size_t before = live_mappings();
  struct Case {
    const char* code;
    void (*spoil)(void* header);
  };
  const Case cases[] = {
      {"ERR_BAD_MAGIC", [](void* h) { set_word<SHMRING_MAGIC_LO_OFFSET>(h, 0); }},
      {"ERR_NOT_READY", [](void* h) { set_word<SHMRING_READY_OFFSET>(h, 0); }},
      {"ERR_BAD_VERSION", [](void* h) { set_word<SHMRING_VERSION_OFFSET>(h, 7); }},
      {"ERR_BAD_HEADER_LENGTH", [](void* h) { set_word<SHMRING_HEADER_LENGTH_OFFSET>(h, 0); }},
      {"ERR_BAD_CAPACITY", [](void* h) { set_word<SHMRING_CAPACITY_OFFSET>(h, 65); }},
      {"ERR_BAD_MAX_RECORD_LENGTH",
       [](void* h) { set_word<SHMRING_MAX_RECORD_LENGTH_OFFSET>(h, 1 << 20); }},
      {"ERR_BAD_FLAGS", [](void* h) { set_word<SHMRING_FLAGS_OFFSET>(h, 0x100); }},
  };
  for (const Case& c : cases) {
    std::vector<unsigned char> image = ring_image(256);
    c.spoil(image.data());
    const std::string path = dir.file(c.code);
    make_file(path, image);
    Result<RingFile> opened = RingFile::open(path);
    ASSERT_FALSE(opened.ok()) << c.code;
    EXPECT_EQ(opened.error().code, c.code) << opened.error().message;
    EXPECT_FALSE(opened.error().field.empty());
    EXPECT_TRUE(opened.error().has_value);
  }
  EXPECT_EQ(live_mappings(), before);
}

TEST(RingFile, OpenWithoutPermission) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores file permissions";
  TempDir dir;
  const std::string path = dir.file("ring");
  ASSERT_TRUE(RingFile::create(path, kCapacity, kMaxRecord, 0400).ok());
  EXPECT_EQ(RingFile::open(path).error().code, "EACCES");
}

TEST(Mapping, ReleaseIsExactlyOnce) {
  TempDir dir;
  const size_t before = live_mappings();
  Result<RingFile> created = RingFile::create(dir.file("ring"), kCapacity, kMaxRecord);
  ASSERT_TRUE(created.ok());
  RingFile file = std::move(created.value());
  void* base = file.base();
  const size_t size = file.size();
  file.release_mapping();
  file.close_fd();
  EXPECT_EQ(file.fd(), -1);
  file.close_fd();  // idempotent
  { RingFile moved = std::move(file); }  // destroying it must not unmap: the mapping was handed off
  EXPECT_EQ(live_mappings(), before + 1);
  EXPECT_TRUE(is_live_mapping(base, size));
  EXPECT_FALSE(unmap(base, size - 1)) << "a wrong length is not our mapping";
  EXPECT_TRUE(unmap(base, size));
  EXPECT_FALSE(unmap(base, size)) << "second release is a no-op";
  EXPECT_EQ(live_mappings(), before);
  EXPECT_FALSE(is_live_mapping(base, size));
}

TEST(Mapping, ReleasePagesKeepsTheRangeAndTheFile) {
  TempDir dir;
  const std::string path = dir.file("ring");
  const size_t before = live_mappings();
  Result<RingFile> created = RingFile::create(path, kCapacity, kMaxRecord);
  ASSERT_TRUE(created.ok());
  RingFile file = std::move(created.value());
  file.release_mapping();
  uint8_t* base = static_cast<uint8_t*>(file.base());
  const size_t size = file.size();
  base[SHMRING_HEADER_LENGTH + 8] = 0x5a;  // a MAP_SHARED write: in the file at once

  ASSERT_TRUE(release_pages(base, size));
  EXPECT_EQ(live_mappings(), before) << "a released range no longer maps its file";
  EXPECT_FALSE(is_live_mapping(base, size));
  EXPECT_FALSE(release_pages(base, size)) << "second release is a no-op";
  // The range stays valid: zeros, writable, and nothing of it reaches the file.
  for (size_t offset = 0; offset < size; offset += 4096) EXPECT_EQ(base[offset], 0) << offset;
  EXPECT_EQ(base[SHMRING_HEADER_LENGTH + 8], 0);
  base[SHMRING_HEADER_LENGTH + 16] = 0x77;
  uint8_t on_disk[24] = {};
  ASSERT_EQ(pread(file.fd(), on_disk, sizeof on_disk, SHMRING_HEADER_LENGTH), static_cast<ssize_t>(sizeof on_disk));
  EXPECT_EQ(on_disk[8], 0x5a);
  EXPECT_EQ(on_disk[16], 0);
  // The file is still a valid ring (its header was never touched by the release).
  EXPECT_TRUE(RingFile::open(path).ok());

  EXPECT_TRUE(unmap(base, size)) << "the reserved range is still ours to unmap";
  EXPECT_FALSE(unmap(base, size));
  EXPECT_FALSE(release_pages(base, size)) << "nothing to release once unmapped";
}

TEST(Mapping, PrefaultMapsEveryPageAndChangesNothing) {
  TempDir dir;
  const std::string path = dir.file("ring");
  Result<RingFile> created = RingFile::create(path, kCapacity, kMaxRecord);
  ASSERT_TRUE(created.ok());
  RingFile& file = created.value();
  uint8_t* base = static_cast<uint8_t*>(file.base());
  base[SHMRING_HEADER_LENGTH + 8] = 0x5a;
  uint8_t header_before[SHMRING_HEADER_LENGTH];
  std::memcpy(header_before, base, sizeof header_before);

  ASSERT_TRUE(prefault(base, file.size()).ok());
  // Every page is resident now (mincore), and no byte changed.
  const size_t pages = file.size() / 4096;
  std::vector<unsigned char> resident(pages);
  ASSERT_EQ(mincore(base, file.size(), resident.data()), 0);
  for (size_t page = 0; page < pages; page++) EXPECT_TRUE(resident[page] & 1) << "page " << page;
  EXPECT_EQ(std::memcmp(header_before, base, sizeof header_before), 0);
  EXPECT_EQ(base[SHMRING_HEADER_LENGTH + 8], 0x5a);
  for (size_t offset = SHMRING_HEADER_LENGTH + 4096; offset < file.size(); offset += 4096) EXPECT_EQ(base[offset], 0) << offset;
}

TEST(Mapping, PrefaultOfATruncatedFileIsAnErrorNotSigbus) {
  TempDir dir;
  const std::string path = dir.file("ring");
  Result<RingFile> created = RingFile::create(path, kCapacity, kMaxRecord);
  ASSERT_TRUE(created.ok());
  RingFile& file = created.value();
  // A hostile peer truncates the file under the mapping: touching the pages past the end would be
  // SIGBUS; madvise reports it instead. (Before Linux 5.14 prefault falls back to touching the
  // pages, which is SIGBUS here as any write to the ring would be: see README, truncation.)
  void* probe = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(probe, MAP_FAILED);
  const bool populate_write = madvise(probe, 4096, 23 /* MADV_POPULATE_WRITE */) == 0;
  munmap(probe, 4096);
  if (!populate_write) GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE";
  ASSERT_EQ(ftruncate(file.fd(), SHMRING_HEADER_LENGTH), 0);
  Status status = prefault(file.base(), file.size());
  EXPECT_FALSE(status.ok());
}

TEST(Msync, RangesAndFlush) {
  TempDir dir;
  Result<RingFile> created = RingFile::create(dir.file("ring"), kCapacity, kMaxRecord);
  ASSERT_TRUE(created.ok());
  RingFile& file = created.value();
  std::memset(static_cast<char*>(file.base()) + SHMRING_HEADER_LENGTH, 0x5A, kCapacity);
  set_word<SHMRING_TAIL_OFFSET>(file.base(), kCapacity);
  EXPECT_TRUE(msync_range(file.base(), file.size(), 0, file.size(), true).ok());
  EXPECT_TRUE(msync_range(file.base(), file.size(), 4100, 10, false).ok());  // unaligned start
  EXPECT_TRUE(msync_range(file.base(), file.size(), file.size(), 0, true).ok());
  Status past_end = msync_range(file.base(), file.size(), 4096, file.size(), true);
  ASSERT_FALSE(past_end.ok());
  EXPECT_EQ(past_end.error().code, "ERR_OUT_OF_RANGE");
  EXPECT_FALSE(msync_range(file.base(), file.size(), file.size() + 1, 0, true).ok());
  EXPECT_FALSE(msync_range(file.base(), file.size(), 8, SIZE_MAX, true).ok()) << "no overflow";
  ASSERT_TRUE(flush(file.base(), file.size()).ok());

  // What was flushed is in the file, as read through the file descriptor.
  uint32_t tail = 0;
  ASSERT_EQ(pread(file.fd(), &tail, sizeof tail, SHMRING_TAIL_OFFSET), 4);
  EXPECT_EQ(tail, kCapacity);
  unsigned char last = 0;
  ASSERT_EQ(pread(file.fd(), &last, 1, SHMRING_HEADER_LENGTH + kCapacity - 1), 1);
  EXPECT_EQ(last, 0x5A);
}

}  // namespace
}  // namespace shmring
