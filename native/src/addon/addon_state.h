// Per-environment state of the addon. The addon is context-aware: the main thread and every worker
// thread that loads it get their own (Node-API instance data); nothing JS-related is global. The
// only process-wide state is the core's mapping registry, which is thread-safe.
#ifndef SHMRING_ADDON_STATE_H
#define SHMRING_ADDON_STATE_H

#include <napi.h>

#include <memory>

#include "shmring/ring_file.h"

namespace shmring::addon {

class WaiterPool;

struct AddonState {
  // The RingFile class of this environment.
  Napi::FunctionReference ring_file_constructor;
  // Hand-over slot from createRingFile/openRingFile to the RingFile constructor, which refuses to
  // run without one (so `new RingFile()` from JS cannot make a wrapper around nothing).
  std::unique_ptr<shmring::RingFile> pending_ring_file;
  // futexWaitAsync's waiter threads. Owned by its thread-safe function, which deletes it when
  // Node finalizes that at environment teardown (see waiter.h); valid while JS can call us.
  WaiterPool* waiters = nullptr;
};

inline AddonState* GetState(Napi::Env env) { return env.GetInstanceData<AddonState>(); }

}  // namespace shmring::addon

#endif  // SHMRING_ADDON_STATE_H
