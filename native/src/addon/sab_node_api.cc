// The only code compiled with NAPI_EXPERIMENTAL (see sab_node_api.h for why it is alone). It
// includes Node's C headers only, and NAPI_VERSION stays what the build says (8): experimental
// declarations are added, nothing else changes for the rest of the addon.
#define NAPI_EXPERIMENTAL
#define NODE_API_EXPERIMENTAL_NO_WARNING
#include "sab_node_api.h"

namespace shmring::addon {

#ifdef NODE_API_EXPERIMENTAL_HAS_CREATE_EXTERNAL_SHAREDARRAYBUFFER

const bool kNodeApiExternalSharedArrayBuffer = true;

napi_status NodeApiCreateExternalSharedArrayBuffer(napi_env env, void* data, size_t length,
                                                   NoEnvFinalize finalize, void* hint,
                                                   napi_value* result) {
  return node_api_create_external_sharedarraybuffer(env, data, length, finalize, hint, result);
}

#else

const bool kNodeApiExternalSharedArrayBuffer = false;

napi_status NodeApiCreateExternalSharedArrayBuffer(napi_env /*env*/, void* /*data*/,
                                                   size_t /*length*/, NoEnvFinalize /*finalize*/,
                                                   void* /*hint*/, napi_value* /*result*/) {
  return napi_generic_failure;
}

#endif

}  // namespace shmring::addon
