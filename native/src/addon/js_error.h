// Turning core errors and bad arguments into JS errors. Every error thrown by the addon has a
// `code`; where one value was wrong also `field`, `value` (the value found) and `expected` (a
// string), all named in the message too; file errors have `path`, and system-call failures
// `errno` (negative, as in Node's fs errors) and `syscall`.
#ifndef SHMRING_ADDON_JS_ERROR_H
#define SHMRING_ADDON_JS_ERROR_H

#include <napi.h>

#include <cstdint>
#include <string>

#include "shmring/error.h"

namespace shmring::addon {

// Which JS constructor: usage mistakes in arguments are TypeError / RangeError, like Node's own.
enum class JsErrorKind { kError, kTypeError, kRangeError };

// The JS error for a core error (for promise rejections), and throwing it.
Napi::Error CoreErrorToJs(Napi::Env env, const shmring::Error& error);
[[noreturn]] void ThrowCoreError(Napi::Env env, const shmring::Error& error);

// An argument of the wrong type (code ERR_BAD_ARGUMENT) or outside its range (`code`, usually
// ERR_OUT_OF_RANGE). `value` is the JS value received.
[[noreturn]] void ThrowArgumentError(Napi::Env env, JsErrorKind kind, const char* code,
                                     const std::string& field, Napi::Value value,
                                     const std::string& expected);

// Returns the value or throws the error as a JS exception.
template <typename T>
T ValueOrThrow(Napi::Env env, shmring::Result<T>&& result) {
  if (!result.ok()) ThrowCoreError(env, result.error());
  return std::move(result.value());
}

inline void Check(Napi::Env env, const shmring::Status& status) {
  if (!status.ok()) ThrowCoreError(env, status.error());
}

// ---- argument conversion: every value from JS is checked before it is used -------------------

std::string StringArgument(const Napi::CallbackInfo& info, size_t index, const char* name);

bool BooleanArgument(const Napi::CallbackInfo& info, size_t index, const char* name);

// A Number holding an integer in [min, max] (both <= 2^53). Not a Number: TypeError
// ERR_BAD_ARGUMENT; NaN, fractional or out of range: RangeError with `range_code`.
int64_t IntegerArgument(const Napi::CallbackInfo& info, size_t index, const char* name,
                        int64_t min, int64_t max, const char* range_code = "ERR_OUT_OF_RANGE");

}  // namespace shmring::addon

#endif  // SHMRING_ADDON_JS_ERROR_H
