#include "ring_file_wrap.h"

#include <cstring>
#include <utility>

#include "addon_state.h"
#include "js_error.h"
#include "sab.h"
#include "shmring/mapping.h"

namespace shmring::addon {

namespace {

void ReleaseMapping(void* base, size_t length) {
  // Called by V8 once the last SharedArrayBuffer reference is gone (any thread).
  shmring::unmap(base, length);
}

shmring::Role RoleArgument(const Napi::CallbackInfo& info) {
  Napi::Value value = info[0];
  if (value.IsString()) {
    const std::string role = value.As<Napi::String>().Utf8Value();
    if (role == "producer") return shmring::Role::kProducer;
    if (role == "consumer") return shmring::Role::kConsumer;
  }
  ThrowArgumentError(info.Env(), JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", "role", value,
                     "'producer' or 'consumer'");
}

}  // namespace

Napi::Function RingFileWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<RingFileWrap>::DefineClass(
      env, "RingFile",
      {
          InstanceAccessor<&RingFileWrap::Guarded<&RingFileWrap::Buffer>>("buffer", napi_enumerable),
          InstanceAccessor<&RingFileWrap::Guarded<&RingFileWrap::Path>>("path", napi_enumerable),
          InstanceAccessor<&RingFileWrap::Guarded<&RingFileWrap::Size>>("size", napi_enumerable),
          InstanceAccessor<&RingFileWrap::Guarded<&RingFileWrap::Fd>>("fd", napi_enumerable),
          InstanceMethod<&RingFileWrap::Guarded<&RingFileWrap::LockRole>>("lockRole"),
          InstanceMethod<&RingFileWrap::Guarded<&RingFileWrap::UnlockRole>>("unlockRole"),
          InstanceMethod<&RingFileWrap::Guarded<&RingFileWrap::RoleHeld>>("roleHeld"),
          InstanceMethod<&RingFileWrap::Guarded<&RingFileWrap::Flush>>("flush"),
          InstanceMethod<&RingFileWrap::Guarded<&RingFileWrap::Prefault>>("prefault"),
          InstanceMethod<&RingFileWrap::Guarded<&RingFileWrap::Close>>("close"),
          InstanceAccessor<&RingFileWrap::Guarded<&RingFileWrap::Seals>>("seals", napi_enumerable),
          StaticMethod<&shmring::addon::Guarded<&RingFileWrap::CreateAnonymous>>("createAnonymous"),
          StaticMethod<&shmring::addon::Guarded<&RingFileWrap::OpenFd>>("openFd"),
      });
}

Napi::Object RingFileWrap::NewInstance(Napi::Env env, shmring::RingFile file) {
  AddonState* state = GetState(env);
  state->pending_ring_file = std::make_unique<shmring::RingFile>(std::move(file));
  // If the constructor throws before taking it, the file (fd and mapping) is closed here.
  struct ClearSlot {
    AddonState* state;
    ~ClearSlot() { state->pending_ring_file.reset(); }
  } clear_slot{state};
  return state->ring_file_constructor.New({});
}

RingFileWrap::RingFileWrap(const Napi::CallbackInfo& info) : ObjectWrap<RingFileWrap>(info) {
  Napi::Env env = info.Env();
  AddonState* state = GetState(env);
  if (!state->pending_ring_file) {
    Napi::TypeError error = Napi::TypeError::New(
        env, "shmring: RingFile cannot be constructed directly; use createRingFile() or openRingFile()");
    error.Value().Set("code", "ERR_ILLEGAL_CONSTRUCTOR");
    throw error;
  }
  file_ = std::move(*state->pending_ring_file);
  state->pending_ring_file.reset();

  // Hand the mapping to a SharedArrayBuffer; from here V8 decides when it is unmapped.
  file_.release_mapping();
  Napi::Value buffer = CreateSharedArrayBuffer(env, file_.base(), file_.size(), ReleaseMapping);
  buffer_ = Napi::Persistent(buffer);
  // Raw Node-API (no throw): only a hint to the collector, a failure changes nothing else.
  const int64_t size = static_cast<int64_t>(file_.size());
  int64_t total = 0;
  if (napi_adjust_external_memory(env, size, &total) == napi_ok) counted_external_bytes_ = size;
}

RingFileWrap::~RingFileWrap() { StopCountingExternalMemory(Env()); }

void RingFileWrap::StopCountingExternalMemory(napi_env env) {
  if (counted_external_bytes_ == 0) return;
  int64_t total = 0;
  (void)napi_adjust_external_memory(env, -counted_external_bytes_, &total);
  counted_external_bytes_ = 0;
}

void RingFileWrap::ThrowIfClosed(Napi::Env env, const char* operation) const {
  if (!closed_) return;
  Napi::Error error = Napi::Error::New(
      env, std::string("shmring: ring file ") + file_.path() + " is closed (" + operation + ")");
  error.Value().Set("code", "ERR_CLOSED");
  error.Value().Set("path", file_.path());
  throw error;
}

Napi::Value RingFileWrap::Buffer(const Napi::CallbackInfo& info) {
  ThrowIfClosed(info.Env(), "buffer");
  return buffer_.Value();  // the same SharedArrayBuffer object on every access
}

Napi::Value RingFileWrap::Path(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), file_.path());
}

Napi::Value RingFileWrap::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(file_.size()));
}

Napi::Value RingFileWrap::Fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), file_.fd());  // -1 once closed
}

Napi::Value RingFileWrap::Seals(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), closed_ ? 0 : file_.seals());
}

Napi::Value RingFileWrap::CreateAnonymous(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // The geometry arrives from TypeScript already checked (ringGeometry); checked again by the core.
  if (!info[0].IsNumber() || !info[1].IsNumber()) {
    ThrowArgumentError(env, JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", "capacity", info[0],
                       "numbers (capacity, maxRecordLength)");
  }
  const double capacity = info[0].As<Napi::Number>().DoubleValue();
  const double max_record_length = info[1].As<Napi::Number>().DoubleValue();
  if (!(capacity >= 0 && capacity <= 4294967296.0) ||
      !(max_record_length >= 0 && max_record_length <= 4294967296.0)) {
    ThrowArgumentError(env, JsErrorKind::kRangeError, "ERR_BAD_ARGUMENT", "capacity", info[0],
                       "a ring geometry");
  }
  return NewInstance(env, ValueOrThrow(env, shmring::RingFile::create_anonymous(
                                                static_cast<uint64_t>(capacity),
                                                static_cast<uint64_t>(max_record_length))));
}

Napi::Value RingFileWrap::OpenFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double fd = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(fd >= 0 && fd <= 2147483647.0) || static_cast<double>(static_cast<int>(fd)) != fd) {
    ThrowArgumentError(env, JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", "fd", info[0],
                       "an open descriptor (an integer >= 0)");
  }
  return NewInstance(env, ValueOrThrow(env, shmring::RingFile::open_fd(static_cast<int>(fd))));
}

void RingFileWrap::LockRole(const Napi::CallbackInfo& info) {
  const shmring::Role role = RoleArgument(info);
  ThrowIfClosed(info.Env(), "lockRole");
  Check(info.Env(), file_.lock_role(role));
}

void RingFileWrap::UnlockRole(const Napi::CallbackInfo& info) {
  const shmring::Role role = RoleArgument(info);
  ThrowIfClosed(info.Env(), "unlockRole");
  Check(info.Env(), file_.unlock_role(role));
}

Napi::Value RingFileWrap::RoleHeld(const Napi::CallbackInfo& info) {
  const shmring::Role role = RoleArgument(info);
  ThrowIfClosed(info.Env(), "roleHeld");
  return Napi::Boolean::New(info.Env(), ValueOrThrow(info.Env(), file_.role_held(role)));
}

void RingFileWrap::Flush(const Napi::CallbackInfo& info) {
  ThrowIfClosed(info.Env(), "flush");
  // Safe to touch the mapping: buffer_ holds the SharedArrayBuffer strongly until close().
  Check(info.Env(), shmring::flush(file_.base(), file_.size()));
}

void RingFileWrap::Prefault(const Napi::CallbackInfo& info) {
  ThrowIfClosed(info.Env(), "prefault");
  // As in Flush: buffer_ keeps the mapping alive until close().
  Check(info.Env(), shmring::prefault(file_.base(), file_.size()));
}

void RingFileWrap::Close(const Napi::CallbackInfo& info) {
  if (closed_) return;
  closed_ = true;
  file_.close_fd();  // unlocks both roles, then closes
  // The owner's "I am done": the file's pages go now, not when a collection finds the buffer
  // unreachable (1000 closed and unlinked 1 MiB rings held 1 GB of Shmem, issue 11.4). Every view
  // of the buffer, in any thread, reads zeros from here on; none can fault. Done while buffer_
  // still holds the SharedArrayBuffer, so its deleter (the real munmap) cannot run concurrently.
  shmring::release_pages(file_.base(), file_.size());
  StopCountingExternalMemory(info.Env());
  buffer_.Reset();  // the address range now lives exactly as long as JS references to the buffer
}

}  // namespace shmring::addon
