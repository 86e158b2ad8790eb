// init_header / validate_header: every refusal of FORMAT.md §3, with its field, value and
// expectation, and the order in which the attacher checks.
#include <cstdio>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "shmring/header.h"
#include "test_util.h"

namespace shmring {
namespace {

using testing::get_word;
using testing::set_word;

constexpr uint32_t kCapacity = 1024;
constexpr uint64_t kRegionSize = uint64_t{SHMRING_HEADER_LENGTH} + kCapacity;

// A header page, 4-aligned like a mapping. validate_header reads only the header, so the data
// area never needs to exist in these tests: the region size is passed separately.
struct HeaderPage {
  alignas(64) unsigned char bytes[SHMRING_HEADER_LENGTH];
  HeaderPage() { std::memset(bytes, 0, sizeof bytes); }
  bool all_zero() const {
    for (unsigned char byte : bytes) {
      if (byte != 0) return false;
    }
    return true;
  }
};

HeaderPage valid_page() {
  HeaderPage page;
  EXPECT_TRUE(init_header(page.bytes, kCapacity, 256, 4242).ok());
  return page;
}

void expect_refusal(const Result<HeaderInfo>& result, const char* code, const char* field,
                    uint64_t value) {
  ASSERT_FALSE(result.ok()) << "expected " << code;
  const Error& error = result.error();
  EXPECT_EQ(error.code, code) << error.message;
  EXPECT_EQ(error.field, field) << error.message;
  EXPECT_TRUE(error.has_value);
  EXPECT_EQ(error.value, value) << error.message;
  EXPECT_FALSE(error.expected.empty());
  // The message names the field, the value found and the expectation.
  EXPECT_NE(error.message.find(field), std::string::npos) << error.message;
  char hex[16];
  snprintf(hex, sizeof hex, "0x%08x", static_cast<uint32_t>(value));
  EXPECT_TRUE(error.message.find(std::to_string(value)) != std::string::npos ||
              error.message.find(hex) != std::string::npos)
      << error.message;
  EXPECT_NE(error.message.find(error.expected), std::string::npos) << error.message;
}

TEST(Header, InitWritesEveryFieldAndReadyLast) {
  HeaderPage page = valid_page();
  EXPECT_EQ(get_word<SHMRING_MAGIC_LO_OFFSET>(page.bytes), SHMRING_MAGIC_LO);
  EXPECT_EQ(get_word<SHMRING_MAGIC_HI_OFFSET>(page.bytes), SHMRING_MAGIC_HI);
  EXPECT_EQ(get_word<SHMRING_VERSION_OFFSET>(page.bytes), SHMRING_VERSION);
  EXPECT_EQ(get_word<SHMRING_HEADER_LENGTH_OFFSET>(page.bytes), SHMRING_HEADER_LENGTH);
  EXPECT_EQ(get_word<SHMRING_CAPACITY_OFFSET>(page.bytes), kCapacity);
  EXPECT_EQ(get_word<SHMRING_MAX_RECORD_LENGTH_OFFSET>(page.bytes), 256u);
  EXPECT_EQ(get_word<SHMRING_FLAGS_OFFSET>(page.bytes), 0u);
  EXPECT_EQ(get_word<SHMRING_CREATOR_PID_OFFSET>(page.bytes), 4242u);
  EXPECT_EQ(get_word<SHMRING_READY_OFFSET>(page.bytes), SHMRING_READY_VALUE);
  // The magic is the 8 bytes "SHMRING\0".
  EXPECT_EQ(std::memcmp(page.bytes, "SHMRING\0", 8), 0);
  // Everything outside the metadata block stays zero: positions, states, doorbells, reserved.
  for (size_t offset = SHMRING_BLOCK_LENGTH; offset < SHMRING_HEADER_LENGTH; ++offset) {
    ASSERT_EQ(page.bytes[offset], 0) << "offset " << offset;
  }
}

TEST(Header, ValidateAcceptsWhatInitWrote) {
  HeaderPage page = valid_page();
  Result<HeaderInfo> info = validate_header(page.bytes, kRegionSize);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info.value().capacity, kCapacity);
  EXPECT_EQ(info.value().max_record_length, 256u);
  EXPECT_EQ(info.value().creator_pid, 4242u);
}

TEST(Header, GeometryBoundsThatFitExactly) {
  for (uint64_t capacity : {uint64_t{SHMRING_MIN_CAPACITY}, uint64_t{SHMRING_MAX_CAPACITY}}) {
    HeaderPage page;
    const uint64_t largest_record = capacity - SHMRING_RECORD_HEADER_LENGTH;
    ASSERT_TRUE(init_header(page.bytes, capacity, largest_record, 1).ok());
    Result<HeaderInfo> info = validate_header(page.bytes, SHMRING_HEADER_LENGTH + capacity);
    ASSERT_TRUE(info.ok()) << info.error().message;
    EXPECT_EQ(info.value().max_record_length, largest_record);
  }
}

TEST(Header, InitRefusesBadGeometryAndWritesNothing) {
  struct Case {
    uint64_t capacity;
    uint64_t max_record_length;
    const char* code;
    const char* field;
    uint64_t value;
  };
  const Case cases[] = {
      {0, 8, "ERR_BAD_CAPACITY", "capacity", 0},
      {100, 8, "ERR_BAD_CAPACITY", "capacity", 100},
      {SHMRING_MIN_CAPACITY / 2, 8, "ERR_BAD_CAPACITY", "capacity", SHMRING_MIN_CAPACITY / 2},
      {uint64_t{SHMRING_MAX_CAPACITY} * 2, 8, "ERR_BAD_CAPACITY", "capacity",
       uint64_t{SHMRING_MAX_CAPACITY} * 2},
      {uint64_t{1} << 40, 8, "ERR_BAD_CAPACITY", "capacity", uint64_t{1} << 40},  // not truncated
      {1024, 0, "ERR_BAD_MAX_RECORD_LENGTH", "maxRecordLength", 0},
      {1024, 1024 - 7, "ERR_BAD_MAX_RECORD_LENGTH", "maxRecordLength", 1024 - 7},
      {1024, uint64_t{1} << 33, "ERR_BAD_MAX_RECORD_LENGTH", "maxRecordLength", uint64_t{1} << 33},
  };
  for (const Case& c : cases) {
    HeaderPage page;
    Status status = init_header(page.bytes, c.capacity, c.max_record_length, 1);
    ASSERT_FALSE(status.ok()) << c.capacity << "/" << c.max_record_length;
    EXPECT_EQ(status.error().code, c.code);
    EXPECT_EQ(status.error().field, c.field);
    EXPECT_EQ(status.error().value, c.value);
    EXPECT_TRUE(page.all_zero()) << "a refused init must not write";
  }
}

TEST(Header, TruncatedRegion) {
  HeaderPage page = valid_page();
  for (uint64_t size : {uint64_t{0}, uint64_t{100}, uint64_t{SHMRING_HEADER_LENGTH},
                        uint64_t{SHMRING_HEADER_LENGTH} + SHMRING_MIN_CAPACITY - 1}) {
    Result<HeaderInfo> result = validate_header(page.bytes, size);
    expect_refusal(result, "ERR_TRUNCATED", "size", size);
  }
}

TEST(Header, ZeroPageIsNotARing) {
  HeaderPage page;
  Result<HeaderInfo> result = validate_header(page.bytes, kRegionSize);
  expect_refusal(result, "ERR_BAD_MAGIC", "magicLo", 0);
  EXPECT_TRUE(result.error().expected_is_number);
  EXPECT_EQ(result.error().expected_number, SHMRING_MAGIC_LO);
}

TEST(Header, MagicAndReadyAreShownInHex) {
  HeaderPage page;
  std::memset(page.bytes, 0x41, sizeof page.bytes);
  Result<HeaderInfo> result = validate_header(page.bytes, kRegionSize);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, "ring header: magicLo is 0x41414141, expected 0x524d4853");
  EXPECT_EQ(result.error().expected, "0x524d4853");
  EXPECT_EQ(result.error().value, 0x41414141u);
}

TEST(Header, BadMagicWithReadySet) {
  HeaderPage page = valid_page();
  set_word<SHMRING_MAGIC_HI_OFFSET>(page.bytes, 0x12345678);
  expect_refusal(validate_header(page.bytes, kRegionSize), "ERR_BAD_MAGIC", "magicHi", 0x12345678);
}

TEST(Header, BadMagicWithoutReady) {
  HeaderPage page = valid_page();
  set_word<SHMRING_READY_OFFSET>(page.bytes, 0);
  set_word<SHMRING_MAGIC_LO_OFFSET>(page.bytes, 7);
  // Ready missing and magic wrong: "not a ring", not "not ready".
  expect_refusal(validate_header(page.bytes, kRegionSize), "ERR_BAD_MAGIC", "magicLo", 7);
}

TEST(Header, NotReady) {
  HeaderPage page = valid_page();
  set_word<SHMRING_READY_OFFSET>(page.bytes, 0);
  Result<HeaderInfo> result = validate_header(page.bytes, kRegionSize);
  expect_refusal(result, "ERR_NOT_READY", "ready", 0);
  EXPECT_EQ(result.error().expected_number, SHMRING_READY_VALUE);
  // A half-written ready value is not ready either.
  set_word<SHMRING_READY_OFFSET>(page.bytes, SHMRING_READY_VALUE ^ 1);
  expect_refusal(validate_header(page.bytes, kRegionSize), "ERR_NOT_READY", "ready",
                 SHMRING_READY_VALUE ^ 1);
}

TEST(Header, BadVersion) {
  HeaderPage page = valid_page();
  set_word<SHMRING_VERSION_OFFSET>(page.bytes, 2);
  Result<HeaderInfo> result = validate_header(page.bytes, kRegionSize);
  expect_refusal(result, "ERR_BAD_VERSION", "version", 2);
  EXPECT_EQ(result.error().expected_number, SHMRING_VERSION);
}

TEST(Header, BadHeaderLength) {
  HeaderPage page = valid_page();
  set_word<SHMRING_HEADER_LENGTH_OFFSET>(page.bytes, 8192);
  expect_refusal(validate_header(page.bytes, kRegionSize), "ERR_BAD_HEADER_LENGTH", "headerLength",
                 8192);
}

TEST(Header, BadCapacity) {
  for (uint32_t capacity : {0u, 32u, 100u, 1000u, 0x80000000u, 0xFFFFFFFFu}) {
    HeaderPage page = valid_page();
    set_word<SHMRING_CAPACITY_OFFSET>(page.bytes, capacity);
    Result<HeaderInfo> result = validate_header(page.bytes, kRegionSize);
    expect_refusal(result, "ERR_BAD_CAPACITY", "capacity", capacity);
    EXPECT_FALSE(result.error().expected_is_number);
    EXPECT_NE(result.error().expected.find("power of two"), std::string::npos);
  }
}

TEST(Header, SizeMismatch) {
  HeaderPage page = valid_page();
  // Bigger than the header says, and smaller (but still above the minimum).
  for (uint64_t size : {kRegionSize + 4096, kRegionSize - 512, uint64_t{1} << 40}) {
    Result<HeaderInfo> result = validate_header(page.bytes, size);
    expect_refusal(result, "ERR_SIZE_MISMATCH", "size", size);
    EXPECT_TRUE(result.error().expected_is_number);
    EXPECT_EQ(result.error().expected_number, kRegionSize);
  }
}

TEST(Header, LyingCapacityIsCaughtBySize) {
  // A header claiming the largest capacity on a small region: refused before anyone maps 1 GiB.
  HeaderPage page = valid_page();
  set_word<SHMRING_CAPACITY_OFFSET>(page.bytes, SHMRING_MAX_CAPACITY);
  expect_refusal(validate_header(page.bytes, kRegionSize), "ERR_SIZE_MISMATCH", "size", kRegionSize);
}

TEST(Header, BadMaxRecordLength) {
  for (uint32_t length : {0u, kCapacity - 7, kCapacity, 0xFFFFFFFFu}) {
    HeaderPage page = valid_page();
    set_word<SHMRING_MAX_RECORD_LENGTH_OFFSET>(page.bytes, length);
    expect_refusal(validate_header(page.bytes, kRegionSize), "ERR_BAD_MAX_RECORD_LENGTH",
                   "maxRecordLength", length);
  }
}

TEST(Header, BadFlags) {
  HeaderPage page = valid_page();
  set_word<SHMRING_FLAGS_OFFSET>(page.bytes, 1);
  Result<HeaderInfo> result = validate_header(page.bytes, kRegionSize);
  expect_refusal(result, "ERR_BAD_FLAGS", "flags", 1);
  EXPECT_EQ(result.error().expected_number, 0u);
}

TEST(Header, ChecksInFormatOrder) {
  // Several bad fields at once: the first in FORMAT.md §3's order is the one reported.
  HeaderPage page = valid_page();
  set_word<SHMRING_FLAGS_OFFSET>(page.bytes, 1);
  set_word<SHMRING_MAX_RECORD_LENGTH_OFFSET>(page.bytes, 0);
  set_word<SHMRING_VERSION_OFFSET>(page.bytes, 9);
  EXPECT_EQ(validate_header(page.bytes, kRegionSize).error().code, "ERR_BAD_VERSION");
  set_word<SHMRING_VERSION_OFFSET>(page.bytes, SHMRING_VERSION);
  EXPECT_EQ(validate_header(page.bytes, kRegionSize).error().code, "ERR_BAD_MAX_RECORD_LENGTH");
  set_word<SHMRING_MAX_RECORD_LENGTH_OFFSET>(page.bytes, 8);
  EXPECT_EQ(validate_header(page.bytes, kRegionSize).error().code, "ERR_BAD_FLAGS");
  // The size is checked before anything is read.
  EXPECT_EQ(validate_header(page.bytes, 10).error().code, "ERR_TRUNCATED");
}

}  // namespace
}  // namespace shmring
