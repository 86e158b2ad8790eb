#include "js_error.h"

#include <cmath>

#include "boundary.h"

namespace shmring::addon {

namespace {

Napi::Error MakeError(Napi::Env env, JsErrorKind kind, const std::string& message) {
  switch (kind) {
    case JsErrorKind::kTypeError:
      return Napi::TypeError::New(env, message);
    case JsErrorKind::kRangeError:
      return Napi::RangeError::New(env, message);
    case JsErrorKind::kError:
      break;
  }
  return Napi::Error::New(env, message);
}

std::string Describe(Napi::Value value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsNumber()) {
    const double number = value.As<Napi::Number>().DoubleValue();
    if (std::isnan(number)) return "NaN";
    if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
    return value.ToString().Utf8Value();
  }
  if (value.IsString()) {
    std::string text = value.As<Napi::String>().Utf8Value();
    if (text.size() > 64) text = text.substr(0, 64) + "...";
    return "'" + text + "'";
  }
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
  if (value.IsFunction()) return "a function";
  if (value.IsArrayBuffer()) return "an ArrayBuffer";
  if (value.IsTypedArray()) return "a typed array";
  if (value.IsObject()) return "an object";
  return "a value of another type";
}

}  // namespace

void ThrowToJs(napi_env env, const Napi::Error& error) noexcept {
  bool pending = false;
  // Cannot ask: the environment is gone as far as JS is concerned. Another pending exception: JS
  // sees that one (throwing a second is refused by Node-API anyway).
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return;
  napi_value value = nullptr;
  try {
    value = error.Value();  // unwraps a non-object JS exception node-addon-api had to box
  } catch (...) {
    // Value() failed, so the environment cannot run JS: nobody is left to tell.
    return;
  }
  // Fails only when the environment cannot run JS any more (teardown): nothing to tell then.
  if (value != nullptr) (void)napi_throw(env, value);
}

void ThrowToJs(napi_env env, const char* message) noexcept {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return;
  // Raw Node-API only: each step reports a status instead of throwing; any failure means teardown.
  napi_value text = nullptr;
  napi_value code = nullptr;
  napi_value error = nullptr;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_string_utf8(env, "ERR_NATIVE", NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok) {
    return;
  }
  (void)napi_throw(env, error);
}

Napi::Error CoreErrorToJs(Napi::Env env, const shmring::Error& error) {
  // Usage refusals of the core are range errors; the rest (format, system, role) plain errors.
  const JsErrorKind kind = error.code == "ERR_OUT_OF_RANGE" ? JsErrorKind::kRangeError
                                                            : JsErrorKind::kError;
  Napi::Error js_error = MakeError(env, kind, "shmring: " + error.message);
  Napi::Object object = js_error.Value();
  object.Set("code", error.code);
  if (!error.field.empty()) object.Set("field", error.field);
  // Values are at most 2^64 - 1 (a file size); as a double they are exact up to 2^53, far beyond
  // any size or header word.
  if (error.has_value) object.Set("value", static_cast<double>(error.value));
  if (!error.expected.empty()) object.Set("expected", error.expected);
  if (!error.path.empty()) object.Set("path", error.path);
  if (error.sys_errno != 0) object.Set("errno", -error.sys_errno);
  if (!error.syscall.empty()) object.Set("syscall", error.syscall);
  return js_error;
}

void ThrowCoreError(Napi::Env env, const shmring::Error& error) {
  throw CoreErrorToJs(env, error);
}

void ThrowArgumentError(Napi::Env env, JsErrorKind kind, const char* code, const std::string& field,
                        Napi::Value value, const std::string& expected) {
  Napi::Error js_error = MakeError(
      env, kind, "shmring: argument " + field + " is " + Describe(value) + ", expected " + expected);
  Napi::Object object = js_error.Value();
  object.Set("code", code);
  object.Set("field", field);
  object.Set("value", value.IsEmpty() ? env.Undefined() : value);
  object.Set("expected", expected);
  throw js_error;
}

std::string StringArgument(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = info[index];
  if (!value.IsString()) {
    ThrowArgumentError(info.Env(), JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", name, value,
                       "a string");
  }
  // Utf8Value keeps embedded NULs (the length is explicit), so the core can refuse them.
  return value.As<Napi::String>().Utf8Value();
}

bool BooleanArgument(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = info[index];
  if (!value.IsBoolean()) {
    ThrowArgumentError(info.Env(), JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", name, value,
                       "a boolean");
  }
  return value.As<Napi::Boolean>().Value();
}

int64_t IntegerArgument(const Napi::CallbackInfo& info, size_t index, const char* name,
                        int64_t min, int64_t max, const char* range_code) {
  Napi::Value value = info[index];
  if (!value.IsNumber()) {
    ThrowArgumentError(info.Env(), JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", name, value,
                       "a number");
  }
  const double number = value.As<Napi::Number>().DoubleValue();
  // Compared as doubles before any conversion: casting NaN, infinities or out-of-range doubles to
  // an integer type is undefined behaviour.
  if (!(number >= static_cast<double>(min) && number <= static_cast<double>(max)) ||
      std::trunc(number) != number) {
    ThrowArgumentError(info.Env(), JsErrorKind::kRangeError, range_code, name, value,
                       "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<int64_t>(number);
}

}  // namespace shmring::addon
