// The ring files of test/vectors (a hand-written generator, the TypeScript library and the Go peer
// made them) decoded by the C++ side: the core's validate_header for the header, and a record walker
// that follows FORMAT.md §5 (the core has none: the per-record path is TypeScript and Go) for the
// positions, records and end of stream. Each file's .json says what every peer must find, or which
// error and field it must refuse it with (FORMAT.md §9).
#include <dirent.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "shmring/atomics.h"
#include "shmring/error.h"
#include "shmring/header.h"
#include "shmring/layout.h"

namespace {

// ---- a JSON reader for the vectors' own files (objects, arrays, strings, unsigned integers, booleans)

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
  bool boolean = false;
  uint64_t number = 0;
  std::string text;
  std::vector<Json> items;
  std::map<std::string, Json> members;

  bool has(const std::string& key) const { return members.count(key) != 0; }
  const Json& operator[](const std::string& key) const {
    auto found = members.find(key);
    if (found == members.end()) throw std::runtime_error("missing key " + key);
    return found->second;
  }
};

class JsonReader {
 public:
  explicit JsonReader(std::string text) : text_(std::move(text)) {}

  Json document() {
    Json value = parse();
    skip_space();
    if (at_ != text_.size()) fail("trailing characters");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("JSON: " + what + " at " + std::to_string(at_));
  }
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  void expect(char c) {
    skip_space();
    if (at_ >= text_.size() || text_[at_] != c) fail(std::string("expected '") + c + "'");
    ++at_;
  }
  bool take(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool take_word(const char* word) {
    skip_space();
    size_t length = std::strlen(word);
    if (text_.compare(at_, length, word) != 0) return false;
    at_ += length;
    return true;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (at_ < text_.size() && text_[at_] != '"') {
      char c = text_[at_++];
      if (c == '\\') {
        if (at_ >= text_.size()) fail("bad escape");
        char escaped = text_[at_++];
        if (escaped == 'n') {
          out += '\n';
        } else if (escaped == 'u') {
          // The vectors are ASCII; \u00XX is all JSON.stringify emits for control characters.
          out += static_cast<char>(std::stoi(text_.substr(at_, 4), nullptr, 16));
          at_ += 4;
        } else {
          out += escaped;
        }
      } else {
        out += c;
      }
    }
    expect('"');
    return out;
  }
  Json parse() {
    Json value;
    skip_space();
    if (at_ >= text_.size()) fail("unexpected end");
    char c = text_[at_];
    if (c == '{') {
      value.kind = Json::Kind::kObject;
      ++at_;
      if (take('}')) return value;
      do {
        std::string key = string();
        expect(':');
        value.members[key] = parse();
      } while (take(','));
      expect('}');
    } else if (c == '[') {
      value.kind = Json::Kind::kArray;
      ++at_;
      if (take(']')) return value;
      do value.items.push_back(parse());
      while (take(','));
      expect(']');
    } else if (c == '"') {
      value.kind = Json::Kind::kString;
      value.text = string();
    } else if (take_word("true") || take_word("false")) {
      value.kind = Json::Kind::kBool;
      value.boolean = text_[at_ - 1] == 'e' && text_[at_ - 2] == 'u';
    } else if (take_word("null")) {
      value.kind = Json::Kind::kNull;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      value.kind = Json::Kind::kNumber;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
        value.number = value.number * 10 + static_cast<uint64_t>(text_[at_++] - '0');
      }
    } else {
      fail(std::string("unexpected '") + c + "'");
    }
    return value;
  }

  std::string text_;
  size_t at_ = 0;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The repository root, from the layout header's path the build passes to the tests.
std::string vectors_dir() {
  std::string layout = SHMRING_LAYOUT_H_PATH;
  const std::string suffix = "native/include/shmring/layout.h";
  return layout.substr(0, layout.size() - suffix.size()) + "test/vectors/";
}

// ---- the record walker: FORMAT.md §5, for a ring nobody else is using --------------------------

struct Decoded {
  struct Record {
    uint32_t type;
    std::string payload_hex;
  };
  std::vector<Record> records;
  bool ended = false;
  bool failed = false;
  std::string field;  // the field at fault when failed
  uint64_t value = 0;
};

uint32_t data_word(const unsigned char* data, uint32_t offset) {
  uint32_t word;
  std::memcpy(&word, data + offset, sizeof word);
  return word;
}

std::string hex_of(const unsigned char* bytes, uint32_t length) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (uint32_t i = 0; i < length; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

Decoded walk(void* base, const shmring::HeaderInfo& info) {
  Decoded out;
  auto refuse = [&out](const char* field, uint64_t value) {
    out.failed = true;
    out.field = field;
    out.value = value;
    return out;
  };
  const uint32_t capacity = info.capacity;
  const auto* data = static_cast<const unsigned char*>(base) + SHMRING_HEADER_LENGTH;
  // Attach: head 8-aligned, tail within capacity ahead of it, the producer's state one of three.
  const uint32_t head = shmring::atomics::load_acquire(shmring::header_word<SHMRING_HEAD_OFFSET>(base));
  if (head % SHMRING_RECORD_ALIGNMENT != 0) return refuse("head", head);
  const uint32_t tail = shmring::atomics::load_acquire(shmring::header_word<SHMRING_TAIL_OFFSET>(base));
  if (tail - head > capacity || tail % SHMRING_RECORD_ALIGNMENT != 0) return refuse("tail", tail);
  const uint32_t producer_state =
      shmring::atomics::load_seq_cst(shmring::header_word<SHMRING_PRODUCER_STATE_OFFSET>(base));
  if (producer_state > SHMRING_ROLE_CLOSED) return refuse("producerState", producer_state);

  uint32_t position = head;
  while (position != tail) {
    const uint32_t offset = position & (capacity - 1);
    const uint32_t available = tail - position;
    const uint32_t length = data_word(data, offset);  // each header word read once, then checked
    const uint32_t type = data_word(data, offset + 4);
    const uint32_t to_end = capacity - offset;
    if (type == SHMRING_PADDING_TYPE) {
      if (length != to_end - SHMRING_RECORD_HEADER_LENGTH || to_end > available) {
        return refuse("padding.length", length);
      }
      position += to_end;
      continue;
    }
    if (length > info.max_record_length) return refuse("record.length", length);
    if (type > SHMRING_MAX_TYPE) return refuse("record.type", type);
    const uint64_t slot = (uint64_t{length} + SHMRING_RECORD_HEADER_LENGTH + 7) & ~uint64_t{7};
    if (uint64_t{offset} + SHMRING_RECORD_HEADER_LENGTH + length > capacity || slot > available) {
      return refuse("record.length", length);
    }
    out.records.push_back({type, hex_of(data + offset + SHMRING_RECORD_HEADER_LENGTH, length)});
    position += static_cast<uint32_t>(slot);
  }
  // End of stream: CLOSED, and (the tail reloaded after the state) everything read.
  out.ended = producer_state == SHMRING_ROLE_CLOSED &&
              shmring::atomics::load_acquire(shmring::header_word<SHMRING_TAIL_OFFSET>(base)) == position;
  return out;
}

std::vector<std::string> vector_names() {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(vectors_dir().c_str()), closedir);
  if (!dir) return names;
  while (dirent* entry = readdir(dir.get())) {
    std::string name = entry->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) names.push_back(name);
  }
  return names;
}

TEST(Vectors, EveryVectorDecodesAsItsJsonSays) {
  const std::vector<std::string> names = vector_names();
  ASSERT_GE(names.size(), 20u) << "vectors in " << vectors_dir();
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const Json expected = JsonReader(read_file(vectors_dir() + name)).document();
    const std::string bytes = read_file(vectors_dir() + expected["file"].text);
    // A 4-aligned private copy: the header words are read as uint32_t.
    std::vector<uint32_t> region((bytes.size() + 3) / 4);
    std::memcpy(region.data(), bytes.data(), bytes.size());

    shmring::Result<shmring::HeaderInfo> header = shmring::validate_header(region.data(), bytes.size());
    Decoded decoded;
    if (header.ok()) {
      const Json& fields = expected["header"];
      EXPECT_EQ(header.value().capacity, fields["capacity"].number);
      EXPECT_EQ(header.value().max_record_length, fields["maxRecordLength"].number);
      EXPECT_EQ(header.value().creator_pid, fields["creatorPid"].number);
      EXPECT_EQ(*shmring::header_word<SHMRING_HEAD_OFFSET>(region.data()), expected["head"].number);
      EXPECT_EQ(*shmring::header_word<SHMRING_TAIL_OFFSET>(region.data()), expected["tail"].number);
      EXPECT_EQ(*shmring::header_word<SHMRING_PRODUCER_STATE_OFFSET>(region.data()),
                expected["producerState"].number);
      EXPECT_EQ(*shmring::header_word<SHMRING_CONSUMER_STATE_OFFSET>(region.data()),
                expected["consumerState"].number);
      decoded = walk(region.data(), header.value());
    }

    if (expected.has("error")) {
      const Json& error = expected["error"];
      std::string field = error["field"].text;
      if (error.has("fieldByLanguage") && error["fieldByLanguage"].has("cpp")) {
        field = error["fieldByLanguage"]["cpp"].text;
      }
      if (!header.ok()) {
        EXPECT_EQ(header.error().code, error["code"].text);
        EXPECT_EQ(header.error().field, field);
        if (error.has("value")) {
          EXPECT_EQ(header.error().value, error["value"].number);
        }
      } else {
        EXPECT_EQ("ERR_CORRUPT", error["code"].text) << "the header was accepted";
        EXPECT_TRUE(decoded.failed);
        EXPECT_EQ(decoded.field, field);
        if (error.has("value")) {
          EXPECT_EQ(decoded.value, error["value"].number);
        }
      }
      continue;
    }
    ASSERT_TRUE(header.ok()) << header.error().message;
    ASSERT_FALSE(decoded.failed) << decoded.field << " " << decoded.value;
    const Json& records = expected["records"];
    ASSERT_EQ(decoded.records.size(), records.items.size());
    for (size_t i = 0; i < decoded.records.size(); ++i) {
      EXPECT_EQ(decoded.records[i].type, records.items[i]["type"].number) << "record " << i;
      EXPECT_EQ(decoded.records[i].payload_hex, records.items[i]["payload"].text) << "record " << i;
    }
    EXPECT_EQ(decoded.ended, expected["ended"].boolean);
  }
}

}  // namespace
