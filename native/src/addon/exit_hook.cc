// See exit_hook.h. Everything here runs on the thread of the environment that registered it (the
// cleanup hook and the finalizer too), so the bookkeeping needs no lock; only the role words are
// shared, and they are touched through shmring/atomics.h.
#include "exit_hook.h"

#include <cstdint>
#include <string>

#include "js_error.h"
#include "sab.h"
#include "shmring/atomics.h"
#include "shmring/layout.h"

namespace shmring::addon {

namespace {

// Marks our externals, so cancelDetachAtExit never trusts an external made by someone else.
constexpr napi_type_tag kExitDetachTag = {0x73686d72696e6721ULL, 0x6465746163686578ULL};

struct ExitDetach {
  napi_env env = nullptr;
  SharedMemory memory;  // keeps the buffer alive while the hook may still write to it
  uint32_t* state = nullptr;
  uint32_t* pid = nullptr;
  bool armed = false;         // the cleanup hook is registered
  bool handle_alive = true;   // the JS external is not finalized yet
};

// Leaves the role as close() with detach does: pid first, then the state. Only from ATTACHED: the
// side never left it (leaving cancels this), and no one else can take an attached role.
void DetachRole(ExitDetach* detach) {
  if (atomics::load_seq_cst(detach->state) != SHMRING_ROLE_ATTACHED) return;
  atomics::store_relaxed(detach->pid, 0);
  atomics::compare_exchange_seq_cst(detach->state, SHMRING_ROLE_ATTACHED, SHMRING_ROLE_DETACHED);
}

void OnEnvCleanup(void* arg) {
  auto* detach = static_cast<ExitDetach*>(arg);
  detach->armed = false;
  DetachRole(detach);
  detach->memory.keep_alive.reset();
  if (!detach->handle_alive) delete detach;
}

void OnHandleFinalize(napi_env env, void* data, void* /*hint*/) {
  auto* detach = static_cast<ExitDetach*>(data);
  detach->handle_alive = false;
  if (detach->armed) {
    // The side is unreachable without having left its role: nobody can use or close it any more.
    napi_remove_env_cleanup_hook(env, OnEnvCleanup, detach);
    detach->armed = false;
    DetachRole(detach);
  }
  delete detach;
}

}  // namespace

namespace {

Napi::Value DetachAtExitOrThrow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SharedMemory memory;
  if (!GetSharedArrayBuffer(info[0], &memory)) {
    ThrowArgumentError(env, JsErrorKind::kTypeError, "ERR_NOT_SHARED", "buffer", info[0],
                       "a SharedArrayBuffer");
  }
  const std::string role = StringArgument(info, 1, "role");
  size_t state_offset = 0;
  size_t pid_offset = 0;
  if (role == "producer") {
    state_offset = SHMRING_PRODUCER_STATE_OFFSET;
    pid_offset = SHMRING_PRODUCER_PID_OFFSET;
  } else if (role == "consumer") {
    state_offset = SHMRING_CONSUMER_STATE_OFFSET;
    pid_offset = SHMRING_CONSUMER_PID_OFFSET;
  } else {
    ThrowArgumentError(env, JsErrorKind::kTypeError, "ERR_BAD_ARGUMENT", "role", info[1],
                       "'producer' or 'consumer'");
  }
  if (memory.length < SHMRING_HEADER_LENGTH) {
    ThrowArgumentError(env, JsErrorKind::kRangeError, "ERR_TRUNCATED", "buffer", info[0],
                       "a ring (at least the " + std::to_string(SHMRING_HEADER_LENGTH) +
                           "-byte header)");
  }
  auto* detach = new ExitDetach();
  detach->env = env;
  detach->state = reinterpret_cast<uint32_t*>(memory.data + state_offset);
  detach->pid = reinterpret_cast<uint32_t*>(memory.data + pid_offset);
  detach->memory = std::move(memory);
  napi_value handle = nullptr;
  if (napi_create_external(env, detach, OnHandleFinalize, nullptr, &handle) != napi_ok) {
    delete detach;
    throw Napi::Error::New(env, "shmring: detachAtExit: cannot create its handle");
  }
  // From here the finalizer owns `detach`.
  if (napi_type_tag_object(env, handle, &kExitDetachTag) != napi_ok ||
      napi_add_env_cleanup_hook(env, OnEnvCleanup, detach) != napi_ok) {
    throw Napi::Error::New(env, "shmring: detachAtExit: cannot register the cleanup hook");
  }
  detach->armed = true;
  return Napi::Value(env, handle);
}

}  // namespace

// Best effort, and never throws past this frame (STYLE.md 14): a worker that is being torn down
// fails every N-API call, and an exception that cannot reach JS would end in std::terminate. The
// caller treats undefined as "no hook" (the JS 'exit' hook still covers every exit but terminate()).
Napi::Value DetachAtExit(const Napi::CallbackInfo& info) {
  try {
    return DetachAtExitOrThrow(info);
  } catch (...) {
    return Napi::Value();
  }
}

Napi::Value CancelDetachAtExit(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  napi_value handle = info[0];
  napi_valuetype type = napi_undefined;
  bool tagged = false;
  // Anything but one of our handles is ignored: this is only ever called by src/side.ts.
  if (napi_typeof(env, handle, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, handle, &kExitDetachTag, &tagged) != napi_ok || !tagged) {
    return Napi::Value();
  }
  void* data = nullptr;
  if (napi_get_value_external(env, handle, &data) != napi_ok) return Napi::Value();
  auto* detach = static_cast<ExitDetach*>(data);
  if (detach->armed) {
    napi_remove_env_cleanup_hook(env, OnEnvCleanup, detach);
    detach->armed = false;
  }
  return Napi::Value();
}

}  // namespace shmring::addon
