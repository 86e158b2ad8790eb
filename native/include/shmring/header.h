// The ring header (docs/FORMAT.md §1, §3): compile-time checks of layout.h, typed access to header
// words, creation (init_header) and the attacher's validation (validate_header).
#ifndef SHMRING_HEADER_H
#define SHMRING_HEADER_H

#include <cstddef>
#include <cstdint>
#include <string>

#include "shmring/error.h"
#include "shmring/layout.h"

namespace shmring {

// ---- compile-time layout checks ---------------------------------------------------------------
// layout.h is the single source of truth; these asserts make a bad edit of it fail the build of the
// C++ side instead of corrupting rings at run time.

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "ring words are little-endian and read natively; a big-endian port must byte-swap");

constexpr bool is_power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// Every field is a naturally aligned uint32 word.
#define SHMRING_ASSERT_WORD(offset) \
  static_assert((offset) % sizeof(uint32_t) == 0, #offset " must be 4-aligned")
SHMRING_ASSERT_WORD(SHMRING_MAGIC_LO_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_MAGIC_HI_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_VERSION_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_HEADER_LENGTH_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_CAPACITY_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_MAX_RECORD_LENGTH_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_FLAGS_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_CREATOR_PID_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_READY_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_TAIL_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_HEAD_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_PRODUCER_STATE_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_PRODUCER_PID_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_PRODUCER_HEARTBEAT_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_PRODUCER_WAITING_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_DATA_DOORBELL_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_CONSUMER_STATE_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_CONSUMER_PID_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_CONSUMER_HEARTBEAT_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_CONSUMER_WAITING_OFFSET);
SHMRING_ASSERT_WORD(SHMRING_SPACE_DOORBELL_OFFSET);
#undef SHMRING_ASSERT_WORD

// One writer and one write rate per 128-byte block: metadata, tail, head, producer control,
// consumer control, in that order, each exactly one block after the previous one.
static_assert(SHMRING_BLOCK_LENGTH == 128, "blocks are two 64-byte lines (adjacent-line prefetch)");
static_assert(SHMRING_TAIL_OFFSET == 1 * SHMRING_BLOCK_LENGTH, "tail opens the second block");
static_assert(SHMRING_HEAD_OFFSET == SHMRING_TAIL_OFFSET + SHMRING_BLOCK_LENGTH,
              "head must not share a block with tail (false sharing between the two hot words)");
static_assert(SHMRING_PRODUCER_STATE_OFFSET == SHMRING_HEAD_OFFSET + SHMRING_BLOCK_LENGTH,
              "producer control block follows head");
static_assert(SHMRING_CONSUMER_STATE_OFFSET == SHMRING_PRODUCER_STATE_OFFSET + SHMRING_BLOCK_LENGTH,
              "consumer control block follows the producer's");

// Each word lies inside its writer's block.
constexpr bool in_block(uint32_t offset, uint32_t block_start) {
  return offset >= block_start && offset + sizeof(uint32_t) <= block_start + SHMRING_BLOCK_LENGTH;
}
static_assert(in_block(SHMRING_MAGIC_LO_OFFSET, 0) && in_block(SHMRING_MAGIC_HI_OFFSET, 0) &&
                  in_block(SHMRING_VERSION_OFFSET, 0) && in_block(SHMRING_HEADER_LENGTH_OFFSET, 0) &&
                  in_block(SHMRING_CAPACITY_OFFSET, 0) &&
                  in_block(SHMRING_MAX_RECORD_LENGTH_OFFSET, 0) &&
                  in_block(SHMRING_FLAGS_OFFSET, 0) && in_block(SHMRING_CREATOR_PID_OFFSET, 0) &&
                  in_block(SHMRING_READY_OFFSET, 0),
              "metadata words live in block 0");
static_assert(in_block(SHMRING_PRODUCER_PID_OFFSET, SHMRING_PRODUCER_STATE_OFFSET) &&
                  in_block(SHMRING_PRODUCER_HEARTBEAT_OFFSET, SHMRING_PRODUCER_STATE_OFFSET) &&
                  in_block(SHMRING_PRODUCER_WAITING_OFFSET, SHMRING_PRODUCER_STATE_OFFSET) &&
                  in_block(SHMRING_DATA_DOORBELL_OFFSET, SHMRING_PRODUCER_STATE_OFFSET),
              "producer control words live in the producer control block");
static_assert(in_block(SHMRING_CONSUMER_PID_OFFSET, SHMRING_CONSUMER_STATE_OFFSET) &&
                  in_block(SHMRING_CONSUMER_HEARTBEAT_OFFSET, SHMRING_CONSUMER_STATE_OFFSET) &&
                  in_block(SHMRING_CONSUMER_WAITING_OFFSET, SHMRING_CONSUMER_STATE_OFFSET) &&
                  in_block(SHMRING_SPACE_DOORBELL_OFFSET, SHMRING_CONSUMER_STATE_OFFSET),
              "consumer control words live in the consumer control block");

// The header is one 4 KiB page, so the data area of a file mapping is page-aligned.
static_assert(SHMRING_HEADER_LENGTH == 4096, "the header is one 4 KiB page");
static_assert(SHMRING_HEADER_LENGTH % SHMRING_BLOCK_LENGTH == 0, "header is whole blocks");
static_assert(SHMRING_CONSUMER_STATE_OFFSET + SHMRING_BLOCK_LENGTH <= SHMRING_HEADER_LENGTH,
              "every block fits in the header");

// Role locks are single bytes of the header page, one per role.
static_assert(SHMRING_PRODUCER_LOCK_OFFSET != SHMRING_CONSUMER_LOCK_OFFSET, "one lock byte per role");
static_assert(SHMRING_PRODUCER_LOCK_OFFSET < SHMRING_HEADER_LENGTH &&
                  SHMRING_CONSUMER_LOCK_OFFSET < SHMRING_HEADER_LENGTH,
              "lock bytes lie inside the header (the file always has them)");

// Capacity bounds: powers of two so offsets are `position & (capacity - 1)`; at most 2^30 so that
// `tail - head` (at most capacity) never reaches 2^31 and every offset is a positive int32 in JS,
// C and Go; the region size HEADER_LENGTH + capacity fits in 32 bits with room to spare.
static_assert(is_power_of_two(SHMRING_MIN_CAPACITY) && is_power_of_two(SHMRING_MAX_CAPACITY),
              "capacity bounds are powers of two");
static_assert(SHMRING_MIN_CAPACITY <= SHMRING_MAX_CAPACITY, "capacity range is not empty");
static_assert(SHMRING_MAX_CAPACITY <= (1u << 30), "capacity <= 2^30 keeps tail - head unambiguous");
static_assert(uint64_t{SHMRING_HEADER_LENGTH} + SHMRING_MAX_CAPACITY <= UINT32_MAX,
              "the largest region size fits in uint32");
static_assert(SHMRING_MIN_CAPACITY % SHMRING_RECORD_ALIGNMENT == 0, "capacity is whole record slots");
static_assert(SHMRING_MIN_CAPACITY > SHMRING_RECORD_HEADER_LENGTH,
              "the smallest ring holds a record header and a payload byte");

// Records: 8-byte aligned, 8-byte header.
static_assert(is_power_of_two(SHMRING_RECORD_ALIGNMENT), "record alignment is a power of two");
static_assert(SHMRING_RECORD_HEADER_LENGTH % SHMRING_RECORD_ALIGNMENT == 0,
              "the payload starts aligned");
static_assert(SHMRING_MAX_TYPE < SHMRING_PADDING_TYPE, "padding is not a user type");

static_assert(SHMRING_ROLE_DETACHED != SHMRING_ROLE_ATTACHED &&
                  SHMRING_ROLE_ATTACHED != SHMRING_ROLE_CLOSED &&
                  SHMRING_ROLE_DETACHED != SHMRING_ROLE_CLOSED,
              "role states are distinct");
static_assert(SHMRING_ROLE_DETACHED == 0, "a zero-filled new region starts with both roles detached");

// ---- word access ------------------------------------------------------------------------------

// The uint32 word at a header offset. `Offset` is a template argument so that its alignment and
// range are checked at compile time; there is no run-time offset arithmetic on header words.
template <uint32_t Offset>
inline uint32_t* header_word(void* base) {
  static_assert(Offset % sizeof(uint32_t) == 0 && Offset + sizeof(uint32_t) <= SHMRING_HEADER_LENGTH,
                "header word offset out of range or misaligned");
  return reinterpret_cast<uint32_t*>(static_cast<unsigned char*>(base) + Offset);
}
template <uint32_t Offset>
inline const uint32_t* header_word(const void* base) {
  static_assert(Offset % sizeof(uint32_t) == 0 && Offset + sizeof(uint32_t) <= SHMRING_HEADER_LENGTH,
                "header word offset out of range or misaligned");
  return reinterpret_cast<const uint32_t*>(static_cast<const unsigned char*>(base) + Offset);
}

// ---- creation and validation --------------------------------------------------------------------

// The immutable metadata of a validated ring.
struct HeaderInfo {
  uint32_t capacity = 0;
  uint32_t max_record_length = 0;
  uint32_t creator_pid = 0;
};

// Checks a capacity and maxRecordLength a creator was asked for (FORMAT.md §1): capacity a power of
// two in [MIN_CAPACITY, MAX_CAPACITY]; 0 < maxRecordLength <= capacity - RECORD_HEADER_LENGTH.
// Takes uint64 so that a caller's out-of-range value is reported as given, not truncated.
Status check_geometry(uint64_t capacity, uint64_t max_record_length);

// Writes the metadata of a new ring into `base` (HEADER_LENGTH + capacity bytes that the caller
// has zero-filled, e.g. a fresh ftruncate'd file) and store-releases READY last, so an attacher that
// load-acquires READY sees every field. Refuses a bad geometry without writing anything.
Status init_header(void* base, uint64_t capacity, uint64_t max_record_length, uint32_t creator_pid);

// The attacher's checks of FORMAT.md §3, in its order, on a header page of a region of
// `region_size` bytes. `header` may be the mapping itself or a 4-aligned copy of the first
// HEADER_LENGTH bytes (ring_file.cc validates a pread copy before it maps anything).
// Codes: ERR_TRUNCATED, ERR_BAD_MAGIC, ERR_NOT_READY, ERR_BAD_VERSION, ERR_BAD_HEADER_LENGTH,
// ERR_BAD_CAPACITY, ERR_SIZE_MISMATCH, ERR_BAD_MAX_RECORD_LENGTH, ERR_BAD_FLAGS; each names the
// field (`size` for the region size), the value found and what was expected.
Result<HeaderInfo> validate_header(const void* header, uint64_t region_size);

// ---- the constants of layout.h, by name ---------------------------------------------------------

struct LayoutConstant {
  const char* name;  // without the SHMRING_ prefix: "TAIL_OFFSET"
  uint32_t value;
};

// Every SHMRING_* value of layout.h (the include guard excepted). The addon exports them as
// `constants`; native/test/constants_test.cc parses layout.h and proves this table is complete.
const LayoutConstant* layout_constants(size_t* count);

}  // namespace shmring

#endif  // SHMRING_HEADER_H
