// Errors of the shmring core: a code a program can switch on, the offending field and value, what
// was expected, and a message that names all of them. The core never throws; it returns Status or
// Result<T>. Bindings (the Node addon) turn an Error into their own error type on the way out.
//
// Codes:
//   ERR_*      refusals of the core itself (bad header field, bad name, role taken, ...)
//   E*         a system call failed; `code` is the errno name (ENOENT, EEXIST, EACCES, ...),
//              `sys_errno` the number and `syscall` the call, like Node's own fs errors.
#ifndef SHMRING_ERROR_H
#define SHMRING_ERROR_H

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace shmring {

struct Error {
  std::string code;     // "ERR_BAD_CAPACITY", "ENOENT", ...
  std::string message;  // complete sentence naming path, field, value and expectation
  std::string field;    // header field or argument name; empty when not about one field
  std::string path;     // file involved; empty when none
  std::string syscall;  // failing system call for E* codes; empty otherwise
  int sys_errno = 0;    // errno for E* codes; 0 otherwise

  bool has_value = false;  // `value` is meaningful
  uint64_t value = 0;      // value found (header field, file size, holder pid, ...)

  // What was expected: a number (expected_is_number) or a description ("a power of two in ...").
  bool expected_is_number = false;
  uint64_t expected_number = 0;
  std::string expected;  // always set when there is an expectation (the number in decimal too)

  // A system-call failure: code = errno name; message like Node's "ENOENT: no such file or
  // directory, open '/dev/shm/x'".
  static Error system(int errnum, const char* syscall, const std::string& path);

  // A refusal about one field: "<context>: <field> is <value>, expected <expected>".
  static Error field_number(const char* code, const std::string& context, const char* field,
                            uint64_t value, uint64_t expected);
  static Error field_text(const char* code, const std::string& context, const char* field,
                          uint64_t value, const std::string& expected);
  // The same for a 32-bit word better read in hex (magic, ready): "magicLo is 0x41414141, ...".
  static Error field_hex(const char* code, const std::string& context, const char* field,
                         uint32_t value, uint32_t expected);

  // A refusal with only a code and a message.
  static Error plain(const char* code, std::string message);

  // Prefixes the message with "<what> <path>: " and records the path.
  Error& at_path(const char* what, const std::string& path_of_file);
};

// The name of an errno value ("ENOENT"), or "E<number>" for one this table does not know.
const char* errno_name(int errnum);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design, like Result
  static Status success() { return Status(); }

  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }
  Error& error() { return *error_; }

 private:
  std::optional<Error> error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit so `return value;` works
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit so `return error;` works

  bool ok() const { return std::holds_alternative<T>(state_); }
  T& value() { return std::get<T>(state_); }
  const T& value() const { return std::get<T>(state_); }
  const Error& error() const { return std::get<Error>(state_); }
  Error& error() { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

}  // namespace shmring

#endif  // SHMRING_ERROR_H
