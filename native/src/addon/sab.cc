// SharedArrayBuffer over external memory with raw V8 (Node 20 has no Node-API for it).
//
// Node-API has no way to make a SharedArrayBuffer over memory it did not allocate until
// `node_api_create_external_sharedarraybuffer` (experimental, in Node releases newer than 20,
// behind NAPI_EXPERIMENTAL; feature macro NODE_API_EXPERIMENTAL_HAS_CREATE_EXTERNAL_SHAREDARRAYBUFFER).
// Building with -DNAPI_EXPERIMENTAL -DSHMRING_USE_NODE_API_EXTERNAL_SAB switches creation to it
// below; reading a SharedArrayBuffer's backing store (GetSharedArrayBuffer) stays on V8, because
// Node-API has no equivalent of the std::shared_ptr<BackingStore> a waiter thread needs.
//
// The V8 path relies on two facts of Node's implementation that every V8-using addon relies on:
// napi_value is a v8::Local<v8::Value> (same size, same bits; Node's own v8impl converts them the
// same way), and the isolate of the calling thread is v8::Isolate::GetCurrent(). It compiles
// against Node 20's headers and the V8 API it uses (NewBackingStore with a deleter,
// SharedArrayBuffer::New(isolate, shared_ptr<BackingStore>), GetBackingStore) has been stable
// since V8 8.
#include "sab.h"

#include <v8.h>

#include <cstring>

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
  size_t length;  // for finalizers that are not told the length (the Node-API path)
};

// Runs once per backing store (V8's contract), on the thread that drops the last reference: the
// main thread, a worker, or a V8 background thread during isolate teardown. ReleaseData is owned
// by this call alone and `release` is thread-safe (shmring::unmap takes the registry's mutex).
// Called by V8 from C++ with no handler above it: nothing may escape (std::terminate), so a failed
// release (it cannot fail short of the registry's mutex failing) leaves the mapping to the process.
void DeleteBackingStore(void* data, size_t length, void* deleter_data) noexcept {
  ReleaseData* release_data = static_cast<ReleaseData*>(deleter_data);
  try {
    release_data->release(data, length);
  } catch (...) {
  }
  delete release_data;
}

}  // namespace

Napi::Value CreateSharedArrayBuffer(Napi::Env env, void* base, size_t length,
                                    MemoryRelease release) {
#if defined(SHMRING_USE_NODE_API_EXTERNAL_SAB) && \
    defined(NODE_API_EXPERIMENTAL_HAS_CREATE_EXTERNAL_SHAREDARRAYBUFFER)
  // The switch point: Node-API's own external SharedArrayBuffer, where the running Node has it.
  // Its finalizer (data, hint) may also run on any thread once the last reference is gone.
  ReleaseData* release_data = new ReleaseData{release, length};
  napi_value result = nullptr;
  napi_status status = node_api_create_external_sharedarraybuffer(
      env, base, length,
      [](void* data, void* hint) {
        ReleaseData* owned = static_cast<ReleaseData*>(hint);
        owned->release(data, owned->length);
        delete owned;
      },
      release_data, &result);
  if (status != napi_ok) {
    delete release_data;
    release(base, length);
    NAPI_THROW(Napi::Error::New(env, "node_api_create_external_sharedarraybuffer failed"),
               Napi::Value());
  }
  return Napi::Value(env, result);
#else
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  // From here V8 owns the memory: if anything below fails, V8 runs the deleter, never us twice.
  std::unique_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(
      base, length, DeleteBackingStore, new ReleaseData{release, length});
  v8::Local<v8::SharedArrayBuffer> buffer =
      v8::SharedArrayBuffer::New(isolate, std::shared_ptr<v8::BackingStore>(std::move(store)));
  // The Local lives in the HandleScope Node-API opened for the current callback, which is exactly
  // as long as the napi_value we return may be used.
  return Napi::Value(env, FromV8(buffer));
#endif
}

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
