#!/usr/bin/env bash
# The Node matrix, run from a fresh clone inside a private (0700) directory as the current user (root
# in CI): a checkout in such a directory (mktemp -d, /root) must pass as root, so tests must never
# depend on where the checkout lives (issue 15). For each supported Node line (scripts/node-lines.mjs,
# official builds from the npm registry, cached and integrity-checked): the addon built by node-gyp
# against that Node's own include/node, the vitest suite, and the demo without the bench.
#
#   bash scripts/ci-node-matrix.sh [major...]     # default: every line in scripts/node-lines.mjs
# Clones the committed HEAD: commit first to test local changes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export SHMRING_NODE_CACHE="${SHMRING_NODE_CACHE:-$root/.cache/node}"
base_path="$PATH"

private="$(mktemp -d)"
trap 'rm -rf "$private"' EXIT
chmod 700 "$private"
git clone -q "$root" "$private/shmring"
cd "$private/shmring"
echo "clone: $private/shmring (parent mode $(stat -c %a "$private"), user $(id -un))"

if [ $# -gt 0 ]; then majors=("$@"); else mapfile -t majors < <(node scripts/node-lines.mjs list | cut -d' ' -f1); fi

summary=()
installed=0
for major in "${majors[@]}"; do
  prefix="$(node scripts/node-lines.mjs prefix "$major")"
  export PATH="$prefix/bin:$base_path"
  printf '\n== Node %s (%s, ABI %s)\n' "$(node --version)" "$prefix" "$(node -p process.versions.modules)"
  if [ "$installed" -eq 0 ]; then
    # npm itself runs under this Node: the install script builds the addon against its headers,
    # prepare builds dist/ and the Go CLI.
    npm install --no-audit --no-fund
    installed=1
  else
    node scripts/build-native.mjs
  fi
  log="$private/vitest-$major.log"
  status=0
  NO_COLOR=1 npx vitest run 2>&1 | tee "$log" || status=$?
  tests="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests ' | tail -1 | sed 's/^ *//')"
  if [ "$status" -ne 0 ]; then
    echo "Node $major: vitest failed ($tests)"
    exit "$status"
  fi
  node examples/demo.mjs --no-bench
  summary+=("Node $(node --version): addon built against $prefix/include/node; vitest $tests; demo --no-bench ok")
done

printf '\n== Node matrix (clone in a 0700 directory, as %s)\n' "$(id -un)"
printf '%s\n' "${summary[@]}"
