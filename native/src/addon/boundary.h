// The line no C++ exception crosses. Every function Node calls into (entry points, accessors, the
// cancel function, completion callbacks) runs its body through CallAtBoundary, which turns whatever
// the body throws into a pending JS exception, or into nothing when the environment can no longer
// run JS (a worker being terminated, process.exit(): every Node-API call that needs JS fails then).
//
// Why not rely on node-addon-api's own catch: when it cannot rethrow into JS it throws a new
// Napi::Error from inside its catch handler, which unwinds through V8's C frames and ends in
// std::terminate (`terminate called after throwing an instance of 'Napi::Error'`, issue 10.1).
// NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (binding.gyp, CMakeLists.txt) stops that inside
// node-addon-api; this header makes our own code independent of it, and also covers the case
// where a JS exception is already pending (the first one wins, the later one is dropped).
#ifndef SHMRING_ADDON_BOUNDARY_H
#define SHMRING_ADDON_BOUNDARY_H

#include <napi.h>

#include <exception>
#include <type_traits>
#include <utility>

namespace shmring::addon {

// Makes `error` the pending JS exception, unless one is pending already or the environment cannot
// run JS any more. Never throws.
void ThrowToJs(napi_env env, const Napi::Error& error) noexcept;
// The same for a non-JS C++ exception: a JS Error with code ERR_NATIVE and `message`.
void ThrowToJs(napi_env env, const char* message) noexcept;

// Runs `body()`; if it throws, the exception becomes a pending JS exception (see ThrowToJs) and an
// empty value is returned (for Node-API: "an exception is pending", or nothing at teardown).
template <typename Body>
auto CallAtBoundary(napi_env env, Body&& body) noexcept -> decltype(body()) {
  using Result = decltype(body());
  try {
    return std::forward<Body>(body)();
  } catch (const Napi::Error& error) {
    ThrowToJs(env, error);
  } catch (const std::exception& error) {
    ThrowToJs(env, error.what());
  } catch (...) {
    ThrowToJs(env, "unknown C++ exception");
  }
  if constexpr (std::is_void_v<Result>) {
    return;
  } else {
    return Result();
  }
}

// A plain entry point behind the boundary, in the form node-addon-api's templates take:
// Napi::Function::New<Guarded<CreateRingFile>>(env, "createRingFile").
template <auto Function>
auto Guarded(const Napi::CallbackInfo& info) -> decltype(Function(info)) {
  return CallAtBoundary(info.Env(), [&] { return Function(info); });
}

}  // namespace shmring::addon

#endif  // SHMRING_ADDON_BOUNDARY_H
