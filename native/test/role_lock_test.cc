// Role locks: OFD locks per open file description, released by close and by the death of the
// holding process (including SIGKILL).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "shmring/ring_file.h"
#include "test_util.h"

namespace shmring {
namespace {

using testing::set_word;
using testing::TempDir;

class RoleLock : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("ring");
    Result<RingFile> created = RingFile::create(path_, 1024, 64);
    ASSERT_TRUE(created.ok()) << created.error().message;
    first_ = std::make_unique<RingFile>(std::move(created.value()));
  }

  RingFile open_again() {
    Result<RingFile> opened = RingFile::open(path_);
    EXPECT_TRUE(opened.ok());
    return std::move(opened.value());
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<RingFile> first_;
};

TEST_F(RoleLock, SecondDescriptionInTheSameProcessIsRefused) {
  ASSERT_TRUE(first_->lock_role(Role::kProducer).ok());
  // The holder publishes its pid (the ring protocol does this on attach).
  set_word<SHMRING_PRODUCER_PID_OFFSET>(first_->base(), 31337);

  RingFile second = open_again();
  Status taken = second.lock_role(Role::kProducer);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, "ERR_ROLE_TAKEN");
  EXPECT_EQ(taken.error().field, "producerPid");
  EXPECT_TRUE(taken.error().has_value);
  EXPECT_EQ(taken.error().value, 31337u);
  EXPECT_EQ(taken.error().path, path_);
  EXPECT_NE(taken.error().message.find("31337"), std::string::npos) << taken.error().message;
  EXPECT_NE(taken.error().message.find("producer"), std::string::npos);

  // Liveness as seen by each description: held by someone else for the second, not for the holder.
  EXPECT_TRUE(second.role_held(Role::kProducer).value());
  EXPECT_FALSE(first_->role_held(Role::kProducer).value());
  // Locking again through the holder's own RingFile is refused too: OFD locks never conflict
  // within one description, so the RingFile keeps track of the roles it holds (issue 11.1).
  EXPECT_EQ(first_->lock_role(Role::kProducer).error().code, "ERR_ROLE_TAKEN");

  // The other role is independent.
  EXPECT_FALSE(second.role_held(Role::kConsumer).value());
  ASSERT_TRUE(second.lock_role(Role::kConsumer).ok());
  EXPECT_TRUE(first_->role_held(Role::kConsumer).value());
  set_word<SHMRING_CONSUMER_PID_OFFSET>(second.base(), 777);
  Status consumer_taken = first_->lock_role(Role::kConsumer);
  ASSERT_FALSE(consumer_taken.ok());
  EXPECT_EQ(consumer_taken.error().field, "consumerPid");
  EXPECT_EQ(consumer_taken.error().value, 777u);
}

TEST_F(RoleLock, UnlockAndCloseRelease) {
  ASSERT_TRUE(first_->lock_role(Role::kConsumer).ok());
  RingFile second = open_again();
  EXPECT_FALSE(second.lock_role(Role::kConsumer).ok());
  ASSERT_TRUE(first_->unlock_role(Role::kConsumer).ok());
  EXPECT_FALSE(second.role_held(Role::kConsumer).value());
  ASSERT_TRUE(second.lock_role(Role::kConsumer).ok());
  EXPECT_FALSE(first_->lock_role(Role::kConsumer).ok());
  EXPECT_TRUE(first_->unlock_role(Role::kProducer).ok()) << "unlocking what is not held is fine";

  // Closing the holder's descriptor drops its locks, even though its mapping is still there.
  second.close_fd();
  EXPECT_FALSE(first_->role_held(Role::kConsumer).value());
  EXPECT_TRUE(first_->lock_role(Role::kConsumer).ok());
}

TEST_F(RoleLock, ClosingAnotherDescriptorKeepsTheLock) {
  // Unlike POSIX record locks, closing some other fd of the same file in the same process does not
  // drop an OFD lock: a library opening the file for a peek cannot silently unlock a role.
  ASSERT_TRUE(first_->lock_role(Role::kProducer).ok());
  {
    RingFile peek = open_again();
    peek.close_fd();
  }
  RingFile second = open_again();
  EXPECT_TRUE(second.role_held(Role::kProducer).value());
}

// A child process takes a role, reports over a pipe, then exits (or is killed). Returns its pid.
pid_t spawn_holder(const std::string& path, Role role, int ready_pipe[2], int release_pipe[2]) {
  const pid_t child = fork();
  if (child != 0) return child;
  // Child: only async-signal-safe calls and _exit from here.
  close(ready_pipe[0]);
  close(release_pipe[1]);
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  char status = 'x';
  if (fd >= 0) {
    struct flock request = {};
    request.l_type = F_WRLCK;
    request.l_whence = SEEK_SET;
    request.l_start = role == Role::kProducer ? SHMRING_PRODUCER_LOCK_OFFSET
                                              : SHMRING_CONSUMER_LOCK_OFFSET;
    request.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &request) == 0) {
      const uint32_t pid = static_cast<uint32_t>(getpid());
      pwrite(fd, &pid, sizeof pid,
             role == Role::kProducer ? SHMRING_PRODUCER_PID_OFFSET : SHMRING_CONSUMER_PID_OFFSET);
      status = 'l';
    }
  }
  if (write(ready_pipe[1], &status, 1) != 1) _exit(2);
  char go;
  (void)!read(release_pipe[0], &go, 1);  // until the parent says so (or closes the pipe)
  _exit(0);
}

TEST_F(RoleLock, ChildExitReleasesTheLock) {
  int ready_pipe[2];
  int release_pipe[2];
  ASSERT_EQ(pipe(ready_pipe), 0);
  ASSERT_EQ(pipe(release_pipe), 0);
  const pid_t child = spawn_holder(path_, Role::kConsumer, ready_pipe, release_pipe);
  ASSERT_GT(child, 0);
  close(ready_pipe[1]);
  close(release_pipe[0]);
  char status = 0;
  ASSERT_EQ(read(ready_pipe[0], &status, 1), 1);
  ASSERT_EQ(status, 'l') << "child could not lock";

  EXPECT_TRUE(first_->role_held(Role::kConsumer).value());
  Status taken = first_->lock_role(Role::kConsumer);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, "ERR_ROLE_TAKEN");
  EXPECT_EQ(taken.error().value, static_cast<uint64_t>(child)) << "names the child's pid";

  ASSERT_EQ(write(release_pipe[1], "g", 1), 1);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
  EXPECT_FALSE(first_->role_held(Role::kConsumer).value());
  EXPECT_TRUE(first_->lock_role(Role::kConsumer).ok());
  close(ready_pipe[0]);
  close(release_pipe[1]);
}

TEST_F(RoleLock, SigkillReleasesTheLock) {
  int ready_pipe[2];
  int release_pipe[2];
  ASSERT_EQ(pipe(ready_pipe), 0);
  ASSERT_EQ(pipe(release_pipe), 0);
  const pid_t child = spawn_holder(path_, Role::kProducer, ready_pipe, release_pipe);
  ASSERT_GT(child, 0);
  close(ready_pipe[1]);
  close(release_pipe[0]);
  char status = 0;
  ASSERT_EQ(read(ready_pipe[0], &status, 1), 1);
  ASSERT_EQ(status, 'l');
  EXPECT_TRUE(first_->role_held(Role::kProducer).value());

  ASSERT_EQ(kill(child, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);
  // The kernel dropped the dead holder's lock: no stuck role after a crash.
  EXPECT_FALSE(first_->role_held(Role::kProducer).value());
  EXPECT_TRUE(first_->lock_role(Role::kProducer).ok());
  close(ready_pipe[0]);
  close(release_pipe[1]);
}

TEST_F(RoleLock, AMappingKeepsTheDescriptionAndItsLocks) {
  // The kernel fact behind RingFile::close_fd's explicit unlock: a bare close() of a description
  // that is still mapped leaves its OFD lock in place until the mapping goes.
  const int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(lock_role(fd, Role::kProducer, path_).ok());
  void* mapping = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(mapping, MAP_FAILED);
  close(fd);
  EXPECT_TRUE(first_->role_held(Role::kProducer).value()) << "still held through the mapping";
  munmap(mapping, 4096);
  EXPECT_FALSE(first_->role_held(Role::kProducer).value()) << "released with the last reference";
}

TEST(RoleLockErrors, BadDescriptor) {
  Status status = lock_role(-1, Role::kProducer, "/nowhere");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "EBADF");
  EXPECT_FALSE(role_lock_held(-1, Role::kConsumer, "/nowhere").ok());
}

}  // namespace
}  // namespace shmring
