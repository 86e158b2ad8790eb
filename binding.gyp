# The Node addon build/Release/shmring.node, built by node-gyp from `npm install`
# (scripts/build-native.mjs passes --nodedir=<the running Node's prefix>, so nothing is downloaded).
# CMakeLists.txt builds the same addon through cmake-js, and the core alone for its tests.
{
  "targets": [
    {
      "target_name": "shmring",
      "sources": [
        "native/src/core/error.cc",
        "native/src/core/futex.cc",
        "native/src/core/header.cc",
        "native/src/core/mapping.cc",
        "native/src/core/ring_file.cc",
        "native/src/addon/addon.cc",
        "native/src/addon/exit_hook.cc",
        "native/src/addon/js_error.cc",
        "native/src/addon/ring_file_wrap.cc",
        "native/src/addon/sab.cc",
        "native/src/addon/sab_node_api.cc",
        "native/src/addon/waiter.cc"
      ],
      "include_dirs": [
        "native/include",
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # One error mode: C++ exceptions, converted to JS exceptions at the boundary (std::
        # exceptions too, rather than terminating the process).
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        # At teardown (worker.terminate(), process.exit()) an error that cannot be thrown into JS
        # is dropped instead of ending in std::terminate (node-addon-api doc/error_handling.md).
        # Our own entry points also never let an exception out (native/src/addon/boundary.h).
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      # node-gyp's defaults (Node's common.gypi) say -fno-exceptions and gnu++17 (Node 20, 22) or
      # gnu++20 (Node 24, 26). -O3 dropped for the -O2 asked for below.
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_cc": ["-fexceptions", "-O2", "-Wall", "-Wextra"],
      "conditions": [
        # Our code is C++17; V8's headers (sab.cc includes v8.h) need C++20 from Node 24 on
        # (NODE_MODULE_VERSION 137; node-gyp reads it from the target Node's config).
        ["node_module_version >= 137", {"cflags_cc": ["-std=c++20"]}, {"cflags_cc": ["-std=c++17"]}]
      ],
      # Never unloaded: Node dlclose()s an addon when the last environment that loaded it (a worker)
      # is torn down, but V8 runs a SharedArrayBuffer's deleter, which is our code, later (at
      # isolate teardown, or in another thread the buffer was posted to). Unloaded, that is a jump
      # into unmapped memory (SIGSEGV in v8::internal::BackingStore::~BackingStore).
      "ldflags": ["-Wl,-z,nodelete"]
    }
  ]
}
