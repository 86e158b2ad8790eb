// Node-API's external SharedArrayBuffer, reached from sab.cc (the one switch point between it and
// raw V8). It is experimental Node-API, declared only under NAPI_EXPERIMENTAL, so it lives in its
// own translation unit (sab_node_api.cc) that sees nothing but Node's C headers: defining
// NAPI_EXPERIMENTAL where node-addon-api's inline C++ is compiled would give those inline functions
// two different definitions in one program.
#ifndef SHMRING_ADDON_SAB_NODE_API_H
#define SHMRING_ADDON_SAB_NODE_API_H

#include <node_api.h>

#include <cstddef>

namespace shmring::addon {

// Whether the Node headers this addon was compiled against declare
// node_api_create_external_sharedarraybuffer (NODE_API_EXPERIMENTAL_HAS_CREATE_EXTERNAL_SHAREDARRAYBUFFER:
// Node 22.23, 24.22 and 26 do; Node 20 does not).
extern const bool kNodeApiExternalSharedArrayBuffer;

// A finalizer with no env: called once, on any thread, when the last reference in any isolate is
// gone (the buffer may outlive the environment that made it).
using NoEnvFinalize = void (*)(void* data, void* hint);

// node_api_create_external_sharedarraybuffer; napi_generic_failure when not declared.
napi_status NodeApiCreateExternalSharedArrayBuffer(napi_env env, void* data, size_t length,
                                                   NoEnvFinalize finalize, void* hint,
                                                   napi_value* result);

}  // namespace shmring::addon

#endif  // SHMRING_ADDON_SAB_NODE_API_H
