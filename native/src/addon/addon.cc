// The shmring Node addon: a thin layer over the core (native/src/core). It converts and checks
// arguments, calls the core, and turns its errors into JS errors with `code`, `field`, `value`,
// `expected` (js_error.h). It is never called per record: the ring protocol runs in TypeScript over
// the SharedArrayBuffer this addon maps.
//
// Exports (src/native.ts declares the same surface for TypeScript):
//   createRingFile(path, capacity, maxRecordLength, mode, exclusive) -> RingFile
//   openRingFile(path) -> RingFile
//   RingFile: buffer, path, size, fd, lockRole(role), unlockRole(role), roleHeld(role), flush(), close()
//   shmPath(name) -> string;  unlink(path)
//   futexWait(sab, byteOffset, expected, timeoutMs) -> 'ok' | 'not-equal' | 'timed-out'
//   futexWake(sab, byteOffset, count?) -> number
//   futexWaitAsync(sab, byteOffset, expected, timeoutMs) -> { promise, cancel() }
//   liveMappings() -> number;  isRingFileBuffer(sab) -> boolean;  constants: { NAME: value }
//   sabPath: 'node-api' | 'v8' (how ring-file buffers are made; sab.cc)
//   detachAtExit(sab, role) -> handle;  cancelDetachAtExit(handle)   (exit_hook.h)
#include <napi.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "addon_state.h"
#include "boundary.h"
#include "exit_hook.h"
#include "js_error.h"
#include "ring_file_wrap.h"
#include "sab.h"
#include "shmring/atomics.h"
#include "shmring/futex.h"
#include "shmring/header.h"
#include "shmring/mapping.h"
#include "shmring/ring_file.h"
#include "waiter.h"

namespace shmring::addon {

namespace {

constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

// ---- arguments naming a futex word: (sab, byteOffset) -------------------------------------------

struct WordArguments {
  SharedMemory memory;  // holds the buffer's backing store for as long as we use the word
  size_t byte_offset = 0;
  uint32_t* word = nullptr;
};

WordArguments WordArgumentsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WordArguments arguments;
  if (!GetSharedArrayBuffer(info[0], &arguments.memory)) {
    ThrowArgumentError(env, JsErrorKind::kTypeError, "ERR_NOT_SHARED", "buffer", info[0],
                       "a SharedArrayBuffer");
  }
  const size_t length = arguments.memory.length;
  Napi::Value offset_value = info[1];
  const std::string expected =
      length >= sizeof(uint32_t)
          ? "a multiple of 4 in [0, " + std::to_string(length - sizeof(uint32_t)) + "]"
          : "nothing: the buffer is shorter than one 32-bit word";
  if (!offset_value.IsNumber()) {
    ThrowArgumentError(env, JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", "byteOffset",
                       offset_value, "a number");
  }
  const double offset = offset_value.As<Napi::Number>().DoubleValue();
  // All comparisons in double before converting: NaN and huge values never reach an integer cast.
  if (!(offset >= 0) || std::trunc(offset) != offset || length < sizeof(uint32_t) ||
      offset > static_cast<double>(length - sizeof(uint32_t)) ||
      static_cast<uint64_t>(offset) % sizeof(uint32_t) != 0) {
    ThrowArgumentError(env, JsErrorKind::kRangeError, "ERR_OUT_OF_RANGE", "byteOffset",
                       offset_value, expected);
  }
  arguments.byte_offset = static_cast<size_t>(offset);
  uint8_t* address = arguments.memory.data + arguments.byte_offset;
  // Buffers are at least 8-aligned (V8's allocator, or a page for a mapping); checked anyway,
  // since a misaligned futex word is EINVAL and a misaligned atomic is undefined behaviour.
  if (reinterpret_cast<uintptr_t>(address) % alignof(uint32_t) != 0) {
    ThrowArgumentError(env, JsErrorKind::kRangeError, "ERR_OUT_OF_RANGE", "byteOffset",
                       offset_value, "an offset of a 4-aligned address");
  }
  arguments.word = reinterpret_cast<uint32_t*>(address);
  return arguments;
}

// The value the word must hold for the wait to sleep: an int32 (as read through an Int32Array) or
// a uint32 (as `>>> 0` makes it); both name the same 32 bits.
uint32_t ExpectedArgument(const Napi::CallbackInfo& info, size_t index) {
  const int64_t value = IntegerArgument(info, index, "expected", INT32_MIN, UINT32_MAX);
  return static_cast<uint32_t>(value);
}

// Like Atomics.wait: undefined or NaN mean no limit; Infinity too; negative means zero.
double TimeoutArgument(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value value = info[index];
  if (value.IsUndefined()) return INFINITY;
  if (!value.IsNumber()) {
    ThrowArgumentError(info.Env(), JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", "timeoutMs", value,
                       "a number of milliseconds (or Infinity)");
  }
  const double timeout = value.As<Napi::Number>().DoubleValue();
  if (std::isnan(timeout)) return INFINITY;
  return timeout < 0 ? 0 : timeout;
}

// ---- ring files ----------------------------------------------------------------------------------

Napi::Value CreateRingFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = StringArgument(info, 0, "path");
  // Any non-negative safe integer reaches the core, which names the exact value it refuses.
  const int64_t capacity = IntegerArgument(info, 1, "capacity", 0, kMaxSafeInteger, "ERR_BAD_CAPACITY");
  const int64_t max_record_length = IntegerArgument(info, 2, "maxRecordLength", 0, kMaxSafeInteger,
                                                    "ERR_BAD_MAX_RECORD_LENGTH");
  const int64_t mode =
      info[3].IsUndefined() ? 0600 : IntegerArgument(info, 3, "mode", 0, 07777, "ERR_BAD_MODE");
  const bool exclusive = info[4].IsUndefined() ? true : BooleanArgument(info, 4, "exclusive");
  shmring::RingFile file = ValueOrThrow(
      env, shmring::RingFile::create(path, static_cast<uint64_t>(capacity),
                                     static_cast<uint64_t>(max_record_length),
                                     static_cast<uint32_t>(mode), exclusive));
  return RingFileWrap::NewInstance(env, std::move(file));
}

Napi::Value OpenRingFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = StringArgument(info, 0, "path");
  return RingFileWrap::NewInstance(env, ValueOrThrow(env, shmring::RingFile::open(path)));
}

Napi::Value ShmPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::String::New(env, ValueOrThrow(env, shmring::shm_path(StringArgument(info, 0, "name"))));
}

void Unlink(const Napi::CallbackInfo& info) {
  Check(info.Env(), shmring::unlink_path(StringArgument(info, 0, "path")));
}

// ---- futex ---------------------------------------------------------------------------------------

// Synchronous: blocks this thread (meant for worker threads and blocking reads). Not interruptible
// by worker.terminate(): V8 cannot interrupt a thread inside a system call, so a terminating
// worker waits for the wake or the timeout. Use a finite timeout, or futexWaitAsync, there.
Napi::Value FutexWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WordArguments word = WordArgumentsOf(info);
  const uint32_t expected = ExpectedArgument(info, 2);
  const double timeout_ms = TimeoutArgument(info, 3);
  const WaitResult result = ValueOrThrow(env, shmring::futex_wait(word.word, expected, timeout_ms));
  return Napi::String::New(env, shmring::wait_result_name(result));
}

Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WordArguments word = WordArgumentsOf(info);
  int count = INT_MAX;  // like Atomics.notify: undefined or Infinity wake everybody
  Napi::Value count_value = info[2];
  if (!count_value.IsUndefined() &&
      !(count_value.IsNumber() && std::isinf(count_value.As<Napi::Number>().DoubleValue()) &&
        count_value.As<Napi::Number>().DoubleValue() > 0)) {
    const int64_t requested = IntegerArgument(info, 2, "count", 0, kMaxSafeInteger);
    count = requested > INT_MAX ? INT_MAX : static_cast<int>(requested);
  }
  return Napi::Number::New(env, ValueOrThrow(env, shmring::futex_wake(word.word, count)));
}

Napi::Value FutexWaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WordArguments word = WordArgumentsOf(info);
  const uint32_t expected = ExpectedArgument(info, 2);
  const double timeout_ms = TimeoutArgument(info, 3);
  return GetState(env)->waiters->Submit(env, std::move(word.memory), word.byte_offset, expected,
                                        timeout_ms);
}

// ---- introspection -----------------------------------------------------------------------------

Napi::Value LiveMappings(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(shmring::live_mappings()));
}

Napi::Value IsRingFileBuffer(const Napi::CallbackInfo& info) {
  SharedMemory memory;
  const bool ours = GetSharedArrayBuffer(info[0], &memory) &&
                    shmring::is_live_mapping(memory.data, memory.length);
  return Napi::Boolean::New(info.Env(), ours);
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  size_t count = 0;
  const shmring::LayoutConstant* table = shmring::layout_constants(&count);
  for (size_t i = 0; i < count; ++i) {
    constants.Set(table[i].name, Napi::Number::New(env, table[i].value));
  }
  constants.Freeze();
  return constants;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonState* state = new AddonState();
  env.SetInstanceData<AddonState>(state);  // deleted by Node at environment teardown
  Napi::Function ring_file = RingFileWrap::DefineClass(env);
  state->ring_file_constructor = Napi::Persistent(ring_file);
  state->waiters = WaiterPool::Create(env);

  exports.Set("RingFile", ring_file);
  exports.Set("createRingFile", Napi::Function::New<Guarded<CreateRingFile>>(env, "createRingFile"));
  exports.Set("openRingFile", Napi::Function::New<Guarded<OpenRingFile>>(env, "openRingFile"));
  exports.Set("shmPath", Napi::Function::New<Guarded<ShmPath>>(env, "shmPath"));
  exports.Set("unlink", Napi::Function::New<Guarded<Unlink>>(env, "unlink"));
  exports.Set("futexWait", Napi::Function::New<Guarded<FutexWait>>(env, "futexWait"));
  exports.Set("futexWake", Napi::Function::New<Guarded<FutexWake>>(env, "futexWake"));
  exports.Set("futexWaitAsync", Napi::Function::New<Guarded<FutexWaitAsync>>(env, "futexWaitAsync"));
  exports.Set("liveMappings", Napi::Function::New<Guarded<LiveMappings>>(env, "liveMappings"));
  exports.Set("isRingFileBuffer", Napi::Function::New<Guarded<IsRingFileBuffer>>(env, "isRingFileBuffer"));
  exports.Set("detachAtExit", Napi::Function::New<Guarded<DetachAtExit>>(env, "detachAtExit"));
  exports.Set("cancelDetachAtExit", Napi::Function::New<Guarded<CancelDetachAtExit>>(env, "cancelDetachAtExit"));
  exports.Set("constants", Constants(env));
  exports.Set("sabPath", Napi::String::New(env, SharedArrayBufferPath()));
  return exports;
}

}  // namespace shmring::addon

// Context-aware (Node-API modules are initialised once per environment: main thread and each
// worker that loads the addon), so worker threads can use it.
static Napi::Object InitShmring(Napi::Env env, Napi::Object exports) {
  // A worker terminated while it loads the addon fails here: require() then throws (or nothing
  // happens, at teardown), never std::terminate.
  return shmring::addon::CallAtBoundary(env, [&] { return shmring::addon::Init(env, exports); });
}
NODE_API_MODULE(shmring, InitShmring)
