#include "waiter.h"

#include <cmath>
#include <optional>
#include <system_error>
#include <utility>

#include "boundary.h"
#include "js_error.h"
#include "shmring/atomics.h"
#include "shmring/futex.h"

namespace shmring::addon {

struct AsyncWait {
  explicit AsyncWait(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}

  // Set on the JS thread before the wait is queued, read-only afterwards. `memory` keeps the
  // word mapped until the JS thread has received the completion (it is reset only there).
  SharedMemory memory;
  uint32_t* word = nullptr;
  uint32_t expected = 0;
  double timeout_ms = 0;
  std::chrono::steady_clock::time_point submitted;

  // Private futex word the waiter thread also sleeps on (futex_waitv); cancel sets it to 1.
  uint32_t cancel_word = 0;

  // Written by the waiter thread before it posts the completion, read on the JS thread after:
  // the thread-safe function's queue (a mutex) orders the two.
  shmring::WaitResult result = shmring::WaitResult::kOk;
  std::optional<shmring::Error> error;

  // JS thread only.
  Napi::Promise::Deferred deferred;
  bool settled = false;
};

namespace {

void RunWait(AsyncWait& wait) {
  // The timeout counts from futexWaitAsync(), not from when a thread picked the wait up.
  double remaining_ms = wait.timeout_ms;
  if (std::isfinite(remaining_ms)) {
    const double elapsed_ms = std::chrono::duration<double, std::milli>(
                                  std::chrono::steady_clock::now() - wait.submitted)
                                  .count();
    remaining_ms = remaining_ms > elapsed_ms ? remaining_ms - elapsed_ms : 0;
  }
  Result<WaitResult> outcome =
      shmring::futex_wait_cancellable(wait.word, wait.expected, &wait.cancel_word, remaining_ms);
  if (outcome.ok()) {
    wait.result = outcome.value();
  } else {
    wait.error = outcome.error();
  }
}

}  // namespace

void DeliverWaitResult(Napi::Env env, Napi::Function /*unused*/, WaiterPool* pool,
                       std::shared_ptr<AsyncWait>* completed) {
  std::unique_ptr<std::shared_ptr<AsyncWait>> owned(completed);
  // Teardown: Node drains the queue with a null env. Nothing may touch JS (or the pool) then.
  if (env == nullptr || pool == nullptr || pool->shut_down_) return;
  // Called from Node's thread-safe-function machinery: nothing may be thrown back into it.
  CallAtBoundary(env, [&] { pool->Deliver(env, **owned); });
}

void WaiterPool::Deliver(Napi::Env env, AsyncWait& wait) {
  // The thread is done with the word: let the mapping go whenever JS lets go of the buffer.
  wait.memory.keep_alive.reset();
  if (wait.settled) return;  // cancelled earlier: the promise already said so
  MarkSettled(env, wait);
  if (wait.error) {
    wait.deferred.Reject(CoreErrorToJs(env, *wait.error).Value());
    return;
  }
  // 'not-equal' from the thread means the word changed between futexWaitAsync() (which saw it
  // equal, or it would have answered 'not-equal' at once) and the thread reaching the kernel: the
  // change the caller waits for happened after the wait began. Atomics.waitAsync, which enqueues
  // synchronously, reports that as 'ok', and so do we, so the answer does not depend on how fast a
  // thread got scheduled.
  const shmring::WaitResult result =
      wait.result == shmring::WaitResult::kNotEqual ? shmring::WaitResult::kOk : wait.result;
  wait.deferred.Resolve(Napi::String::New(env, shmring::wait_result_name(result)));
}

WaiterPool* WaiterPool::Create(Napi::Env env) {
  // Owned here until the thread-safe function exists and owns it (a worker terminated during
  // module initialisation makes Completion::New throw).
  std::unique_ptr<WaiterPool> owned(new WaiterPool());
  WaiterPool* pool = owned.get();
  pool->env_ = env;
  // No JS callback: DeliverWaitResult settles promises itself. Unlimited queue (a waiter thread
  // never blocks on posting), one "thread" reference held by the pool until Shutdown.
  pool->completion_ = Completion::New(env, "shmring.futexWaitAsync", 0, 1, pool,
                                      OnCompletionFinalized, static_cast<void*>(nullptr));
  owned.release();
  // Idle: the loop is only kept alive while a wait is unsettled (Ref in Submit).
  pool->completion_.Unref(env);
  // Registered after the thread-safe function was created, so that it runs before Node's own
  // teardown of it (cleanup hooks run in reverse order of registration).
  if (napi_add_env_cleanup_hook(env, OnEnvCleanup, pool) == napi_ok) {
    pool->cleanup_hook_registered_ = true;
  }
  // Probe futex_waitv now, on the JS thread: cancel() must know which mode the threads use.
  (void)shmring::futex_waitv_available();
  return pool;
}

Napi::Object WaiterPool::Submit(Napi::Env env, SharedMemory memory, size_t byte_offset,
                                uint32_t expected, double timeout_ms) {
  if (shut_down_) {
    Napi::Error error = Napi::Error::New(env, "shmring: futexWaitAsync after environment teardown");
    error.Value().Set("code", "ERR_CLOSED");
    throw error;
  }
  auto wait = std::make_shared<AsyncWait>(env);
  wait->word = reinterpret_cast<uint32_t*>(memory.data + byte_offset);
  wait->memory = std::move(memory);
  wait->expected = expected;
  wait->timeout_ms = timeout_ms;
  wait->submitted = std::chrono::steady_clock::now();

  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", wait->deferred.Promise());

  // Answers known now settle now (as Atomics.waitAsync does), without a thread hop.
  if (atomics::load_seq_cst(wait->word) != expected) {
    wait->settled = true;
    wait->deferred.Resolve(Napi::String::New(env, "not-equal"));
  } else if (timeout_ms <= 0) {  // NaN compares false: it means "no limit"
    wait->settled = true;
    wait->deferred.Resolve(Napi::String::New(env, "timed-out"));
  } else {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ReapExitedLocked();
      queue_.push_back(wait);
      // Each idle thread takes one queued wait; more waits than idle threads need a new thread.
      if (queue_.size() > idle_workers_) {
        workers_.emplace_back();
        Worker* worker = &workers_.back();
        try {
          worker->thread = std::thread(&WaiterPool::ThreadMain, this, worker);
          ++live_workers_;
        } catch (const std::system_error& failure) {
          workers_.pop_back();
          queue_.pop_back();
          Napi::Error error = Napi::Error::New(
              env, std::string("shmring: cannot start a waiter thread: ") + failure.what());
          error.Value().Set("code", "ERR_THREAD");
          throw error;
        }
      } else {
        work_available_.notify_one();
      }
    }
    if (unsettled_++ == 0) completion_.Ref(env);
  }

  // cancel() holds only a weak reference: once settled and delivered, the wait (and its hold on
  // the mapping) is freed even if JS keeps the cancel function.
  std::weak_ptr<AsyncWait> weak = wait;
  handle.Set("cancel", Napi::Function::New(
                           env,
                           [this, weak](const Napi::CallbackInfo& info) {
                             CallAtBoundary(info.Env(), [&] {
                               if (std::shared_ptr<AsyncWait> pending = weak.lock()) {
                                 Cancel(info.Env(), pending);
                               }
                             });
                           },
                           "cancel"));
  return handle;
}

void WaiterPool::MarkSettled(Napi::Env env, AsyncWait& wait) {
  // Before the promise is touched: resolving fails (throws) when the environment is being torn
  // down, and the bookkeeping must hold even then.
  wait.settled = true;
  if (--unsettled_ == 0) completion_.Unref(env);  // nothing pending: let the process exit
}

void WaiterPool::Cancel(Napi::Env env, const std::shared_ptr<AsyncWait>& wait) {
  if (wait->settled) return;  // already resolved (or cancelled): cancel is idempotent
  MarkSettled(env, *wait);
  // Unsettled until now means the completion has not been delivered, so memory.keep_alive still
  // holds the word's mapping: waking it below (fallback mode) is safe. Wake the thread through its
  // private cancel word. With futex_waitv the kernel compares that word atomically with going to
  // sleep, so a cancel racing the start of the wait is never lost; no wake-up is sent to the ring
  // word, and other waiters on it (other processes) see nothing. Done before resolving, which
  // may throw at teardown.
  shmring::futex_cancel(&wait->cancel_word, wait->word);
  wait->deferred.Resolve(Napi::String::New(env, "cancelled"));
}

void WaiterPool::ThreadMain(Worker* self) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    while (queue_.empty() && !stopping_) {
      ++idle_workers_;
      const bool has_work = work_available_.wait_for(
          lock, kIdleRetirement, [this] { return !queue_.empty() || stopping_; });
      --idle_workers_;
      if (!has_work && live_workers_ > 1) {  // retire, keeping one thread warm
        --live_workers_;
        self->exited = true;
        return;
      }
    }
    if (stopping_) {  // queued waits were dropped by Shutdown
      --live_workers_;
      self->exited = true;
      return;
    }
    std::shared_ptr<AsyncWait> wait = std::move(queue_.front());
    queue_.pop_front();
    self->current = wait;
    lock.unlock();

    // Nothing may escape a std::thread's function (std::terminate). A failure here can only be an
    // allocation failure; the wait then ends as a spurious 'ok', which every caller already
    // handles by checking the word again.
    try {
      RunWait(*wait);
    } catch (...) {
      wait->result = shmring::WaitResult::kOk;
    }

    // One reference travels through the completion queue to the JS thread. napi_closing means
    // the environment is being torn down: nobody will read the result.
    try {
      auto* completed = new std::shared_ptr<AsyncWait>(std::move(wait));
      if (completion_.NonBlockingCall(completed) != napi_ok) delete completed;
    } catch (...) {
      // Out of memory: the promise stays pending until cancel() or teardown, like a lost wake-up
      // of a timeout-less wait; the wait's resources are released with `wait`.
    }

    lock.lock();
    self->current.reset();
  }
}

void WaiterPool::ReapExitedLocked() {
  // Threads that retired have returned from ThreadMain (they set `exited` as their last act under
  // the mutex), so join() returns at once.
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->exited) {
      if (it->thread.joinable()) it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void WaiterPool::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  std::deque<std::shared_ptr<AsyncWait>> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);  // never started: nothing to wake
    for (Worker& worker : workers_) {
      // keep_alive is JS-thread state (we are on the JS thread): if it is gone, the completion was
      // delivered and the thread is no longer waiting on the word.
      if (worker.current && worker.current->memory.keep_alive) {
        shmring::futex_cancel(&worker.current->cancel_word, worker.current->word);
      }
    }
  }
  work_available_.notify_all();
  // Every thread either finishes its cancelled wait or leaves its idle loop, then exits.
  for (Worker& worker : workers_) {
    if (worker.thread.joinable()) worker.thread.join();
  }
  workers_.clear();
}

// Both teardown callbacks are called by Node from C with no handler above them: nothing may
// escape (joining a thread can in theory throw std::system_error).
void WaiterPool::OnEnvCleanup(void* arg) {
  WaiterPool* pool = static_cast<WaiterPool*>(arg);
  pool->cleanup_hook_registered_ = false;
  try {
    pool->Shutdown();
  } catch (...) {
  }
  // Our reference to the thread-safe function: once released, Node finalizes it, which calls
  // OnCompletionFinalized and deletes the pool.
  pool->completion_.Release();
}

void WaiterPool::OnCompletionFinalized(Napi::Env /*env*/, void* /*unused*/, WaiterPool* pool) {
  // Also reached first if Node tears the thread-safe function down before our cleanup hook ran.
  try {
    pool->Shutdown();
  } catch (...) {
  }
  if (pool->cleanup_hook_registered_) {
    napi_remove_env_cleanup_hook(pool->env_, OnEnvCleanup, pool);
    pool->cleanup_hook_registered_ = false;
  }
  delete pool;
}

}  // namespace shmring::addon
