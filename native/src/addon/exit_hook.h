// detachAtExit / cancelDetachAtExit: a role that a terminated worker thread would leave attached.
//
// worker.terminate() runs no more JavaScript in the worker, so the process 'exit' hook of
// src/side.ts cannot leave the role for an in-memory ring's side that is still open, and the role
// would stay ATTACHED for good (a successor is refused with ERR_ROLE_TAKEN; the peer waits). Node
// still runs the environment's cleanup hooks when it tears the worker down, so such a side
// registers one here: at teardown it detaches the role (pid 0, then state ATTACHED -> DETACHED),
// as close() with detach would, minus the wake: a parked peer notices at its next park slice
// (docs/FORMAT.md §6). Closing the side cancels it; a side that became unreachable without close()
// is detached when its handle is finalized (it can never be used again).
#ifndef SHMRING_ADDON_EXIT_HOOK_H
#define SHMRING_ADDON_EXIT_HOOK_H

#include <napi.h>

namespace shmring::addon {

// detachAtExit(sab, role: 'producer' | 'consumer') -> handle (an external), or undefined
Napi::Value DetachAtExit(const Napi::CallbackInfo& info);
// cancelDetachAtExit(handle): the side left its role itself. Idempotent. Neither throws: a failure
// (a worker being torn down) returns undefined, which src/side.ts reads as "no hook".
Napi::Value CancelDetachAtExit(const Napi::CallbackInfo& info);

}  // namespace shmring::addon

#endif  // SHMRING_ADDON_EXIT_HOOK_H
