#include "shmring/error.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shmring {

const char* errno_name(int errnum) {
  switch (errnum) {
#define SHMRING_ERRNO(name) \
  case name:                \
    return #name;
    SHMRING_ERRNO(EPERM)
    SHMRING_ERRNO(ENOENT)
    SHMRING_ERRNO(ESRCH)
    SHMRING_ERRNO(EINTR)
    SHMRING_ERRNO(EIO)
    SHMRING_ERRNO(ENXIO)
    SHMRING_ERRNO(E2BIG)
    SHMRING_ERRNO(EBADF)
    SHMRING_ERRNO(EAGAIN)
    SHMRING_ERRNO(ENOMEM)
    SHMRING_ERRNO(EACCES)
    SHMRING_ERRNO(EFAULT)
    SHMRING_ERRNO(EBUSY)
    SHMRING_ERRNO(EEXIST)
    SHMRING_ERRNO(EXDEV)
    SHMRING_ERRNO(ENODEV)
    SHMRING_ERRNO(ENOTDIR)
    SHMRING_ERRNO(EISDIR)
    SHMRING_ERRNO(EINVAL)
    SHMRING_ERRNO(ENFILE)
    SHMRING_ERRNO(EMFILE)
    SHMRING_ERRNO(ETXTBSY)
    SHMRING_ERRNO(EFBIG)
    SHMRING_ERRNO(ENOSPC)
    SHMRING_ERRNO(ESPIPE)
    SHMRING_ERRNO(EROFS)
    SHMRING_ERRNO(EMLINK)
    SHMRING_ERRNO(ERANGE)
    SHMRING_ERRNO(EDEADLK)
    SHMRING_ERRNO(ENAMETOOLONG)
    SHMRING_ERRNO(ENOLCK)
    SHMRING_ERRNO(ENOSYS)
    SHMRING_ERRNO(ENOTEMPTY)
    SHMRING_ERRNO(ELOOP)
    SHMRING_ERRNO(EOVERFLOW)
    SHMRING_ERRNO(ENOTSUP)
    SHMRING_ERRNO(ETIMEDOUT)
    SHMRING_ERRNO(EDQUOT)
    SHMRING_ERRNO(ESTALE)
#undef SHMRING_ERRNO
    default:
      return nullptr;
  }
}

Error Error::system(int errnum, const char* syscall, const std::string& path) {
  Error error;
  const char* name = errno_name(errnum);
  error.code = name != nullptr ? name : "E" + std::to_string(errnum);
  error.sys_errno = errnum;
  error.syscall = syscall;
  error.path = path;
  // Node's wording for fs errors, so the two read alike in a log: "ENOENT: no such file or
  // directory, open '/dev/shm/x'". strerror is not thread-safe; strerror_r (GNU form) is.
  char buffer[128];
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  const char* text = strerror_r(errnum, buffer, sizeof buffer);
#else
  const char* text = strerror_r(errnum, buffer, sizeof buffer) == 0 ? buffer : "unknown error";
#endif
  std::string lowered = text;
  if (!lowered.empty()) lowered[0] = static_cast<char>(std::tolower(lowered[0]));
  error.message = error.code + ": " + lowered + ", " + syscall;
  if (!path.empty()) error.message += " '" + path + "'";
  return error;
}

Error Error::field_number(const char* code, const std::string& context, const char* field,
                          uint64_t value, uint64_t expected) {
  Error error = field_text(code, context, field, value, std::to_string(expected));
  error.expected_is_number = true;
  error.expected_number = expected;
  return error;
}

Error Error::field_text(const char* code, const std::string& context, const char* field,
                        uint64_t value, const std::string& expected) {
  Error error;
  error.code = code;
  error.field = field;
  error.has_value = true;
  error.value = value;
  error.expected = expected;
  error.message = context + ": " + field + " is " + std::to_string(value) + ", expected " + expected;
  return error;
}

namespace {

std::string hex32(uint32_t value) {
  char text[16];
  snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

}  // namespace

Error Error::field_hex(const char* code, const std::string& context, const char* field,
                       uint32_t value, uint32_t expected) {
  Error error;
  error.code = code;
  error.field = field;
  error.has_value = true;
  error.value = value;
  error.expected_is_number = true;
  error.expected_number = expected;
  error.expected = hex32(expected);
  error.message = context + ": " + field + " is " + hex32(value) + ", expected " + error.expected;
  return error;
}

Error Error::plain(const char* code, std::string message) {
  Error error;
  error.code = code;
  error.message = std::move(message);
  return error;
}

Error& Error::at_path(const char* what, const std::string& path_of_file) {
  path = path_of_file;
  message = std::string(what) + " " + path_of_file + ": " + message;
  return *this;
}

}  // namespace shmring
