#!/usr/bin/env bash
# Native checks of shmring, all offline (no header or package downloads):
#   1. the C++ core's GoogleTest suite under ASan + UBSan   (build-native-asan/)
#   2. the same suite under TSan                             (build-native-tsan/)
#   3. the Node addon built through cmake-js against the local Node headers, then loaded
#                                                            (build-cmakejs/)
# Exits non-zero on the first failure. Usage: scripts/native-test.sh [asan|tsan|cmakejs ...]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

jobs="$(nproc 2>/dev/null || echo 2)"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

# Sanitizer findings must fail the run, not scroll by.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

step() { printf '\n==> %s\n' "$*"; }

run_sanitized() {
  local name="$1" sanitize="$2"
  local dir="build-native-$name"
  local started=$SECONDS
  step "core tests under $sanitize ($dir)"
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
    -DSHMRING_SANITIZE="$sanitize" -DSHMRING_WERROR=ON >/dev/null
  cmake --build "$dir" --parallel "$jobs"
  # --timeout: a lost wake-up or a hang fails the run instead of stalling it.
  ctest --test-dir "$dir" --output-on-failure --parallel "$jobs" --timeout 120
  echo "    $name: $((SECONDS - started)) s"
}

run_cmakejs() {
  local started=$SECONDS
  step "addon through cmake-js against local headers (build-cmakejs)"
  # cmake-js 8 downloads Node's headers unless its "runtime directory" already holds them
  # (lib/dist.js: `downloaded` checks <runtimeDirectory>/include/node/node.h). It takes that
  # directory only from npm's `nodedir` config, read from the environment as npm_config_nodedir
  # (lib/buildSystem.js); there is no command-line flag for it. An official Node install is such a
  # directory: <prefix>/include/node next to <prefix>/bin/node. So point it at the running Node's
  # prefix, the same one scripts/build-native.mjs gives node-gyp as --nodedir.
  local node_prefix
  node_prefix="$(node -p "require('path').resolve(process.execPath, '..', '..')")"
  if [[ ! -f "$node_prefix/include/node/node.h" ]]; then
    echo "no Node headers at $node_prefix/include/node (install a Node that ships them)" >&2
    return 1
  fi
  npm_config_nodedir="$node_prefix" node node_modules/cmake-js/bin/cmake-js compile \
    --directory . --out build-cmakejs --parallel "$jobs" --log-level warn
  local addon=build-cmakejs/Release/shmring.node
  [[ -f "$addon" ]] || { echo "cmake-js produced no $addon" >&2; return 1; }
  node -e "
    const addon = require('./$addon');
    const ok = typeof addon.createRingFile === 'function' && addon.constants.TAIL_OFFSET === 128;
    if (!ok) { console.error('unexpected exports', Object.keys(addon)); process.exit(1); }
    console.log('    loaded', '$addon', 'exports:', Object.keys(addon).sort().join(' '));
  "
  echo "    cmakejs: $((SECONDS - started)) s"
}

steps=("$@")
if [[ ${#steps[@]} -eq 0 ]]; then steps=(asan tsan cmakejs); fi
total_started=$SECONDS
for s in "${steps[@]}"; do
  case "$s" in
    asan) run_sanitized asan "address,undefined" ;;
    tsan) run_sanitized tsan "thread" ;;
    cmakejs) run_cmakejs ;;
    *) echo "unknown step '$s' (asan, tsan, cmakejs)" >&2; exit 2 ;;
  esac
done
step "all native checks passed in $((SECONDS - total_started)) s"
