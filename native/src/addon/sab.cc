// The one switch point between the two ways of making a SharedArrayBuffer over external memory:
//
// * Node-API's node_api_create_external_sharedarraybuffer, wherever the headers we are compiled
//   against declare it (experimental Node-API: Node 22.23+, 24.22+, 26; see sab_node_api.h).
// * raw V8 otherwise (Node 20): v8::SharedArrayBuffer::NewBackingStore with our deleter.
//
// nativeInfo().sabPath (addon constant `sabPath`) says which one the loaded addon uses. Reading a
// SharedArrayBuffer's memory (GetSharedArrayBuffer) stays on V8 in both builds: Node-API has no
// equivalent of the std::shared_ptr<BackingStore> a waiter thread holds to keep a word mapped.
//
// The V8 parts rely on two facts of Node's implementation that every V8-using addon relies on:
// napi_value is a v8::Local<v8::Value> (same size, same bits; Node's own v8impl converts them the
// same way), and the isolate of the calling thread is v8::Isolate::GetCurrent(). The V8 API used
// (NewBackingStore with a deleter, SharedArrayBuffer::New(isolate, shared_ptr<BackingStore>),
// GetBackingStore) has been stable since V8 8 and compiles against Node 20 to 26.
#include "sab.h"

#include <v8.h>

#include "sab_node_api.h"

#include <cstring>
#include <string>

namespace shmring::addon {

namespace {

static_assert(sizeof(v8::Local<v8::Value>) == sizeof(napi_value),
              "napi_value must be a v8::Local<v8::Value> for the raw V8 path");

v8::Local<v8::Value> ToV8(napi_value value) {
  v8::Local<v8::Value> local;
  std::memcpy(static_cast<void*>(&local), &value, sizeof value);
  return local;
}

napi_value FromV8(v8::Local<v8::Value> local) {
  napi_value value;
  std::memcpy(&value, static_cast<const void*>(&local), sizeof value);
  return value;
}

// The deleter's only state: which release function to call. Heap-allocated per buffer and freed
// by the deleter itself, so nothing is shared between buffers or threads.
struct ReleaseData {
  MemoryRelease release;
  size_t length;  // for the Node-API finalizer, which is not told the length
};

// Runs once per buffer, on the thread that drops the last reference: the main thread, a worker,
// or a V8 background thread during isolate teardown. ReleaseData is owned by this call alone and
// `release` is thread-safe (shmring::unmap takes the registry's mutex). Called from C++ with no
// handler above it: nothing may escape (std::terminate), so a failed release (it cannot fail short
// of the registry's mutex failing) leaves the mapping to the process.
void Release(void* data, ReleaseData* release_data) noexcept {
  try {
    release_data->release(data, release_data->length);
  } catch (...) {
  }
  delete release_data;
}

// V8's BackingStore deleter signature.
void DeleteBackingStore(void* data, size_t /*length*/, void* deleter_data) noexcept {
  Release(data, static_cast<ReleaseData*>(deleter_data));
}

// Node-API's node_api_noenv_finalize signature.
void FinalizeSharedArrayBuffer(void* data, void* hint) noexcept {
  Release(data, static_cast<ReleaseData*>(hint));
}

Napi::Value CreateWithNodeApi(Napi::Env env, void* base, size_t length, MemoryRelease release) {
  ReleaseData* release_data = new ReleaseData{release, length};
  napi_value result = nullptr;
  const napi_status status = NodeApiCreateExternalSharedArrayBuffer(
      env, base, length, FinalizeSharedArrayBuffer, release_data, &result);
  if (status == napi_ok) return Napi::Value(env, result);
  // Refused before anything was made (the environment cannot run JS, at teardown; a bad argument;
  // a runtime without external buffers): the memory is still ours to release. Any other failure
  // may have come after Node handed the memory to a backing store whose deleter will release it;
  // releasing here too could then unmap an address reused since, so the mapping (and 16 bytes)
  // are left to the process instead.
  if (status == napi_pending_exception || status == napi_cannot_run_js ||
      status == napi_invalid_arg || status == napi_no_external_buffers_allowed) {
    delete release_data;
    release(base, length);
  }
  // Takes over a JS exception Node left pending, if any; otherwise says what failed.
  if (Napi::Env(env).IsExceptionPending()) throw Napi::Error::New(env);
  Napi::Error error =
      Napi::Error::New(env, "shmring: node_api_create_external_sharedarraybuffer failed (status " +
                                std::to_string(static_cast<int>(status)) + ")");
  error.Value().Set("code", "ERR_NATIVE");
  throw error;
}

Napi::Value CreateWithV8(Napi::Env env, void* base, size_t length, MemoryRelease release) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  // From here V8 owns the memory: if anything below fails, V8 runs the deleter, never us twice.
  std::unique_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(
      base, length, DeleteBackingStore, new ReleaseData{release, length});
  v8::Local<v8::SharedArrayBuffer> buffer =
      v8::SharedArrayBuffer::New(isolate, std::shared_ptr<v8::BackingStore>(std::move(store)));
  // The Local lives in the HandleScope Node-API opened for the current callback, which is exactly
  // as long as the napi_value we return may be used.
  return Napi::Value(env, FromV8(buffer));
}

}  // namespace

Napi::Value CreateSharedArrayBuffer(Napi::Env env, void* base, size_t length,
                                    MemoryRelease release) {
  return kNodeApiExternalSharedArrayBuffer ? CreateWithNodeApi(env, base, length, release)
                                           : CreateWithV8(env, base, length, release);
}

const char* SharedArrayBufferPath() { return kNodeApiExternalSharedArrayBuffer ? "node-api" : "v8"; }

bool GetSharedArrayBuffer(Napi::Value value, SharedMemory* memory) {
  if (value.IsEmpty()) return false;
  v8::Local<v8::Value> local = ToV8(static_cast<napi_value>(value));
  if (local.IsEmpty() || !local->IsSharedArrayBuffer()) return false;
  v8::Local<v8::SharedArrayBuffer> buffer = local.As<v8::SharedArrayBuffer>();
  memory->keep_alive = buffer->GetBackingStore();
  memory->data = static_cast<uint8_t*>(memory->keep_alive->Data());
  // The buffer's length, not the store's: for a growable SharedArrayBuffer the store may be larger
  // than what is accessible now; its accessible length only ever grows, so checking against the
  // current one is safe.
  memory->length = buffer->ByteLength();
  if (memory->data == nullptr) memory->length = 0;  // a zero-length buffer may have no memory
  return true;
}

}  // namespace shmring::addon
