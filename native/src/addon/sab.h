// The one place that makes and reads SharedArrayBuffers over memory we own. Everything V8-specific
// lives in sab.cc (and the experimental Node-API call in sab_node_api.cc); the rest of the addon is
// plain Node-API (node-addon-api).
#ifndef SHMRING_ADDON_SAB_H
#define SHMRING_ADDON_SAB_H

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace v8 {
class BackingStore;
}

namespace shmring::addon {

// Releases memory handed to CreateSharedArrayBuffer (for ring files: shmring::unmap).
using MemoryRelease = void (*)(void* base, size_t length);

// Makes a REAL SharedArrayBuffer over [base, base + length) and takes ownership of that memory:
// `release(base, length)` runs exactly once, when the last reference in any isolate (the main
// thread's, or a worker's the buffer was posted to) is gone, on whichever thread that happens, so
// `release` must be thread-safe. A Napi::ArrayBuffer over the same memory would not do: Node 20
// copies it on postMessage and refuses Atomics.wait on it (docs in /work/shared/DESIGN.md §1).
// If creation fails, `release` has run (or, in a case Node-API leaves ambiguous, the memory stays
// mapped) and the error is thrown.
Napi::Value CreateSharedArrayBuffer(Napi::Env env, void* base, size_t length, MemoryRelease release);

// How CreateSharedArrayBuffer makes buffers in this build: "node-api"
// (node_api_create_external_sharedarraybuffer) or "v8" (raw V8, for Node without it).
const char* SharedArrayBufferPath();

// A SharedArrayBuffer's memory, and a reference that keeps it alive (and mapped) for as long as
// the view is held, whatever happens to the JS object: the thing a waiter thread must hold.
struct SharedMemory {
  uint8_t* data = nullptr;
  size_t length = 0;
  std::shared_ptr<v8::BackingStore> keep_alive;
};

// If `value` is a SharedArrayBuffer, fills `memory` and returns true; otherwise returns false.
bool GetSharedArrayBuffer(Napi::Value value, SharedMemory* memory);

}  // namespace shmring::addon

#endif  // SHMRING_ADDON_SAB_H
