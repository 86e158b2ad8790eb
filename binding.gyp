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
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"
      ],
      # node-gyp's defaults (Node's common.gypi) say -fno-exceptions and C++17 as gnu++17.
      # -O3 dropped for the -O2 asked for below.
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
