// futexWaitAsync: futex waits on dedicated native threads, settled on the JS thread.
//
// Why not the libuv pool (Napi::AsyncWorker): a futex wait holds its thread for as long as it
// waits, and the pool has 4 threads by default; DESIGN.md §1 measured 4 pending waits delaying an
// unrelated fs.readFile by a second. So each pending wait gets a thread of its own from this pool,
// which grows on demand, reuses idle threads and retires them after a while.
//
// Lifetime rules:
// * A wait holds the SharedArrayBuffer's backing store (std::shared_ptr<v8::BackingStore>) until
//   its thread is done with the word, so the mapping cannot be unmapped under a sleeping thread.
// * The event loop is kept alive (the thread-safe function is ref'd) only while at least one wait
//   is unsettled; after resolution or cancel nothing of ours keeps the process alive.
// * cancel() settles the promise with 'cancelled' at once and wakes the thread through its own
//   cancel word (futex_waitv), so no wake-up of the ring word is needed or lost.
// * Environment teardown (process exit, worker.terminate()): an env cleanup hook cancels every
//   wait and joins every thread. The pool object itself is deleted by the thread-safe function's
//   finalizer, after the last queued completion was delivered or dropped, whichever of Node's
//   teardown steps runs first; both paths are idempotent.
#ifndef SHMRING_ADDON_WAITER_H
#define SHMRING_ADDON_WAITER_H

#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "sab.h"

namespace shmring::addon {

struct AsyncWait;
class WaiterPool;

// Runs on the JS thread for every completed wait (env is null during teardown).
void DeliverWaitResult(Napi::Env env, Napi::Function unused, WaiterPool* pool,
                       std::shared_ptr<AsyncWait>* completed);

class WaiterPool {
 public:
  // Creates the pool of this environment (JS thread, once, at module initialisation).
  static WaiterPool* Create(Napi::Env env);

  // Starts waiting on the 4-aligned word at `byte_offset` of `memory` (checked by the caller)
  // while it equals `expected`, for at most `timeout_ms`. Returns { promise, cancel }.
  Napi::Object Submit(Napi::Env env, SharedMemory memory, size_t byte_offset, uint32_t expected,
                      double timeout_ms);

 private:
  friend void DeliverWaitResult(Napi::Env, Napi::Function, WaiterPool*, std::shared_ptr<AsyncWait>*);
  using Completion =
      Napi::TypedThreadSafeFunction<WaiterPool, std::shared_ptr<AsyncWait>, DeliverWaitResult>;

  struct Worker {
    std::thread thread;
    std::shared_ptr<AsyncWait> current;  // the wait it is running, for Shutdown's cancel
    bool exited = false;                 // returned from ThreadMain; join() will not block
  };

  WaiterPool() = default;
  void ThreadMain(Worker* self);
  // JS thread: settles a wait whose completion arrived (DeliverWaitResult).
  void Deliver(Napi::Env env, AsyncWait& wait);
  // Marks a wait settled and drops the event-loop reference when none is left; never throws.
  void MarkSettled(Napi::Env env, AsyncWait& wait);
  void Cancel(Napi::Env env, const std::shared_ptr<AsyncWait>& wait);
  void ReapExitedLocked();
  void Shutdown();

  static void OnEnvCleanup(void* pool);
  static void OnCompletionFinalized(Napi::Env env, void* unused, WaiterPool* pool);

  Completion completion_;
  napi_env env_ = nullptr;
  bool cleanup_hook_registered_ = false;

  // JS thread only.
  size_t unsettled_ = 0;  // the thread-safe function is ref'd exactly while this is > 0
  bool shut_down_ = false;

  // Shared with the waiter threads, under mutex_.
  std::mutex mutex_;
  std::condition_variable work_available_;
  std::deque<std::shared_ptr<AsyncWait>> queue_;
  std::list<Worker> workers_;  // a list: Worker addresses stay valid while threads run
  size_t live_workers_ = 0;
  size_t idle_workers_ = 0;
  bool stopping_ = false;

  // An idle thread retires after this long without work, unless it is the last one.
  static constexpr std::chrono::seconds kIdleRetirement{30};
};

}  // namespace shmring::addon

#endif  // SHMRING_ADDON_WAITER_H
