#include "shmring/header.h"

#include <string>

#include "shmring/atomics.h"

namespace shmring {

namespace {

constexpr const char* kGeometryContext = "ring geometry";
constexpr const char* kHeaderContext = "ring header";

std::string capacity_expectation() {
  return "a power of two in [" + std::to_string(SHMRING_MIN_CAPACITY) + ", " +
         std::to_string(SHMRING_MAX_CAPACITY) + "]";
}

bool capacity_in_range(uint64_t capacity) {
  return is_power_of_two(capacity) && capacity >= SHMRING_MIN_CAPACITY &&
         capacity <= SHMRING_MAX_CAPACITY;
}

// Precondition: capacity_in_range(capacity), so capacity > RECORD_HEADER_LENGTH.
Status check_max_record_length(const char* context, uint64_t capacity, uint64_t max_record_length) {
  const uint64_t largest = capacity - SHMRING_RECORD_HEADER_LENGTH;
  if (max_record_length == 0 || max_record_length > largest) {
    return Error::field_text("ERR_BAD_MAX_RECORD_LENGTH", context, "maxRecordLength",
                             max_record_length,
                             "in [1, " + std::to_string(largest) + "] (capacity - " +
                                 std::to_string(SHMRING_RECORD_HEADER_LENGTH) + ")");
  }
  return Status::success();
}

}  // namespace

Status check_geometry(uint64_t capacity, uint64_t max_record_length) {
  if (!capacity_in_range(capacity)) {
    return Error::field_text("ERR_BAD_CAPACITY", kGeometryContext, "capacity", capacity,
                             capacity_expectation());
  }
  return check_max_record_length(kGeometryContext, capacity, max_record_length);
}

Status init_header(void* base, uint64_t capacity, uint64_t max_record_length,
                   uint32_t creator_pid) {
  Status geometry = check_geometry(capacity, max_record_length);
  if (!geometry.ok()) return geometry;

  // Relaxed stores: nobody may read these before READY, and the store-release of READY below
  // orders all of them before it (FORMAT.md §3, §7 step 5). Atomic rather than plain only because
  // a hostile or confused peer could read concurrently, and a racing plain access is UB in C++.
  using atomics::store_relaxed;
  store_relaxed(header_word<SHMRING_MAGIC_LO_OFFSET>(base), SHMRING_MAGIC_LO);
  store_relaxed(header_word<SHMRING_MAGIC_HI_OFFSET>(base), SHMRING_MAGIC_HI);
  store_relaxed(header_word<SHMRING_VERSION_OFFSET>(base), SHMRING_VERSION);
  store_relaxed(header_word<SHMRING_HEADER_LENGTH_OFFSET>(base), SHMRING_HEADER_LENGTH);
  store_relaxed(header_word<SHMRING_CAPACITY_OFFSET>(base), static_cast<uint32_t>(capacity));
  store_relaxed(header_word<SHMRING_MAX_RECORD_LENGTH_OFFSET>(base),
                static_cast<uint32_t>(max_record_length));
  store_relaxed(header_word<SHMRING_FLAGS_OFFSET>(base), 0);
  store_relaxed(header_word<SHMRING_CREATOR_PID_OFFSET>(base), creator_pid);
  // Positions, states, pids, flags and doorbells start at zero: the region is zero-filled (a new
  // file from ftruncate is), and ROLE_DETACHED is 0 (static_assert in header.h).
  atomics::store_release(header_word<SHMRING_READY_OFFSET>(base), SHMRING_READY_VALUE);
  return Status::success();
}

Result<HeaderInfo> validate_header(const void* header, uint64_t region_size) {
  using atomics::load_relaxed;

  // 1. Big enough to hold a header and the smallest data area; checked before any word is read,
  //    so a caller may pass a mapping of exactly region_size bytes.
  constexpr uint64_t kMinimumSize = uint64_t{SHMRING_HEADER_LENGTH} + SHMRING_MIN_CAPACITY;
  if (region_size < kMinimumSize) {
    return Error::field_text("ERR_TRUNCATED", kHeaderContext, "size", region_size,
                             "at least " + std::to_string(kMinimumSize) +
                                 " bytes (header + minimum capacity)");
  }

  // 2. READY first, with acquire: only then are the metadata words the creator's.
  const uint32_t ready = atomics::load_acquire(header_word<SHMRING_READY_OFFSET>(header));
  const uint32_t magic_lo = load_relaxed(header_word<SHMRING_MAGIC_LO_OFFSET>(header));
  const uint32_t magic_hi = load_relaxed(header_word<SHMRING_MAGIC_HI_OFFSET>(header));
  auto bad_magic = [&]() -> Error {
    if (magic_lo != SHMRING_MAGIC_LO) {
      return Error::field_hex("ERR_BAD_MAGIC", kHeaderContext, "magicLo", magic_lo,
                              SHMRING_MAGIC_LO);
    }
    return Error::field_hex("ERR_BAD_MAGIC", kHeaderContext, "magicHi", magic_hi,
                            SHMRING_MAGIC_HI);
  };
  const bool magic_ok = magic_lo == SHMRING_MAGIC_LO && magic_hi == SHMRING_MAGIC_HI;
  if (ready != SHMRING_READY_VALUE) {
    // Not a ring at all, or a ring whose creator has not finished (or died) initialising it.
    if (!magic_ok) return bad_magic();
    return Error::field_hex("ERR_NOT_READY", kHeaderContext, "ready", ready,
                            SHMRING_READY_VALUE);
  }

  // 3. Every metadata field, each read once into a local: the file may be rewritten under us by
  //    another process, and a value checked must be the value used.
  if (!magic_ok) return bad_magic();
  const uint32_t version = load_relaxed(header_word<SHMRING_VERSION_OFFSET>(header));
  if (version != SHMRING_VERSION) {
    return Error::field_number("ERR_BAD_VERSION", kHeaderContext, "version", version,
                               SHMRING_VERSION);
  }
  const uint32_t header_length = load_relaxed(header_word<SHMRING_HEADER_LENGTH_OFFSET>(header));
  if (header_length != SHMRING_HEADER_LENGTH) {
    return Error::field_number("ERR_BAD_HEADER_LENGTH", kHeaderContext, "headerLength",
                               header_length, SHMRING_HEADER_LENGTH);
  }
  const uint32_t capacity = load_relaxed(header_word<SHMRING_CAPACITY_OFFSET>(header));
  if (!capacity_in_range(capacity)) {
    return Error::field_text("ERR_BAD_CAPACITY", kHeaderContext, "capacity", capacity,
                             capacity_expectation());
  }
  const uint64_t expected_size = uint64_t{SHMRING_HEADER_LENGTH} + capacity;
  if (region_size != expected_size) {
    Error error = Error::field_number("ERR_SIZE_MISMATCH", kHeaderContext, "size", region_size,
                                      expected_size);
    error.message += " (headerLength + capacity " + std::to_string(capacity) + ")";
    return error;
  }
  const uint32_t max_record_length =
      load_relaxed(header_word<SHMRING_MAX_RECORD_LENGTH_OFFSET>(header));
  Status record_length = check_max_record_length(kHeaderContext, capacity, max_record_length);
  if (!record_length.ok()) return record_length.error();
  const uint32_t flags = load_relaxed(header_word<SHMRING_FLAGS_OFFSET>(header));
  if (flags != 0) {
    return Error::field_number("ERR_BAD_FLAGS", kHeaderContext, "flags", flags, 0);
  }

  HeaderInfo info;
  info.capacity = capacity;
  info.max_record_length = max_record_length;
  info.creator_pid = load_relaxed(header_word<SHMRING_CREATOR_PID_OFFSET>(header));
  return info;
}

const LayoutConstant* layout_constants(size_t* count) {
  // Names only: every value comes from layout.h through the macro, so nothing is duplicated.
#define SHMRING_CONSTANT(name) {#name, SHMRING_##name}
  static const LayoutConstant kConstants[] = {
      SHMRING_CONSTANT(MAGIC_LO),
      SHMRING_CONSTANT(MAGIC_HI),
      SHMRING_CONSTANT(VERSION),
      SHMRING_CONSTANT(READY_VALUE),
      SHMRING_CONSTANT(BLOCK_LENGTH),
      SHMRING_CONSTANT(HEADER_LENGTH),
      SHMRING_CONSTANT(MIN_CAPACITY),
      SHMRING_CONSTANT(MAX_CAPACITY),
      SHMRING_CONSTANT(RECORD_ALIGNMENT),
      SHMRING_CONSTANT(RECORD_HEADER_LENGTH),
      SHMRING_CONSTANT(MAX_TYPE),
      SHMRING_CONSTANT(PADDING_TYPE),
      SHMRING_CONSTANT(MAGIC_LO_OFFSET),
      SHMRING_CONSTANT(MAGIC_HI_OFFSET),
      SHMRING_CONSTANT(VERSION_OFFSET),
      SHMRING_CONSTANT(HEADER_LENGTH_OFFSET),
      SHMRING_CONSTANT(CAPACITY_OFFSET),
      SHMRING_CONSTANT(MAX_RECORD_LENGTH_OFFSET),
      SHMRING_CONSTANT(FLAGS_OFFSET),
      SHMRING_CONSTANT(CREATOR_PID_OFFSET),
      SHMRING_CONSTANT(READY_OFFSET),
      SHMRING_CONSTANT(TAIL_OFFSET),
      SHMRING_CONSTANT(HEAD_OFFSET),
      SHMRING_CONSTANT(PRODUCER_STATE_OFFSET),
      SHMRING_CONSTANT(PRODUCER_PID_OFFSET),
      SHMRING_CONSTANT(PRODUCER_HEARTBEAT_OFFSET),
      SHMRING_CONSTANT(PRODUCER_WAITING_OFFSET),
      SHMRING_CONSTANT(DATA_DOORBELL_OFFSET),
      SHMRING_CONSTANT(CONSUMER_STATE_OFFSET),
      SHMRING_CONSTANT(CONSUMER_PID_OFFSET),
      SHMRING_CONSTANT(CONSUMER_HEARTBEAT_OFFSET),
      SHMRING_CONSTANT(CONSUMER_WAITING_OFFSET),
      SHMRING_CONSTANT(SPACE_DOORBELL_OFFSET),
      SHMRING_CONSTANT(ROLE_DETACHED),
      SHMRING_CONSTANT(ROLE_ATTACHED),
      SHMRING_CONSTANT(ROLE_CLOSED),
      SHMRING_CONSTANT(PRODUCER_LOCK_OFFSET),
      SHMRING_CONSTANT(CONSUMER_LOCK_OFFSET),
  };
#undef SHMRING_CONSTANT
  *count = sizeof kConstants / sizeof kConstants[0];
  return kConstants;
}

}  // namespace shmring
