// Shared-memory names and file paths: what shm_path and check_path accept and refuse.
#include <string>

#include <gtest/gtest.h>

#include "shmring/ring_file.h"

namespace shmring {
namespace {

TEST(Names, ValidNameMapsIntoDevShm) {
  Result<std::string> path = shm_path("orders.ring");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path.value(), "/dev/shm/orders.ring");
  EXPECT_EQ(shm_path(std::string(255, 'a')).value(), "/dev/shm/" + std::string(255, 'a'));
  EXPECT_TRUE(shm_path("...").ok());   // only "." and ".." are special
  EXPECT_TRUE(shm_path(".hidden").ok());
}

TEST(Names, RefusedNames) {
  const std::string refused[] = {
      "",
      "a/b",
      "/abs",
      "trailing/",
      ".",
      "..",
      std::string("nul\0byte", 8),
      std::string(256, 'a'),
  };
  for (const std::string& name : refused) {
    Result<std::string> path = shm_path(name);
    ASSERT_FALSE(path.ok()) << "accepted '" << name << "'";
    EXPECT_EQ(path.error().code, "ERR_BAD_NAME");
    EXPECT_EQ(path.error().field, "name");
    if (!name.empty() && name.size() <= 64 && name.find('\0') == std::string::npos) {
      EXPECT_NE(path.error().message.find("'" + name + "'"), std::string::npos)
          << "the message names the name: " << path.error().message;
    }
  }
}

TEST(Names, HugeNameIsShortenedInTheMessage) {
  Result<std::string> path = shm_path(std::string(100000, 'x'));
  ASSERT_FALSE(path.ok());
  EXPECT_LT(path.error().message.size(), 300u);
  EXPECT_NE(path.error().message.find("100000 bytes"), std::string::npos);
}

TEST(Names, CheckPath) {
  EXPECT_TRUE(check_path("/dev/shm/x").ok());
  EXPECT_TRUE(check_path("relative/file").ok());
  EXPECT_EQ(check_path("").error().code, "ERR_BAD_PATH");
  EXPECT_EQ(check_path(std::string("/tmp/a\0b", 8)).error().code, "ERR_BAD_PATH");
}

}  // namespace
}  // namespace shmring
