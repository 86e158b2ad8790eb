#!/usr/bin/env bash
# The npm package as a user gets it: `npm pack` (prepack builds dist/ and a prebuilt addon per
# supported Node line), then the tarball installed into fresh applications in a temp dir, with no
# compiler on PATH (only node, npm, sh and coreutils):
#   1. prebuilt:  install, then a ring file works (create, produce, consume) under every Node line
#                 whose binary is cached (scripts/node-lines.mjs), each loading its own prebuild
#   2. no addon:  SHMRING_NO_NATIVE=1: install succeeds, in-memory rings work, ring files throw
#                 ERR_NATIVE_UNAVAILABLE
#   3. failed build: no prebuild matches and there is no compiler: the install succeeds,
#                 in-memory rings work, ring files throw ERR_NATIVE_UNAVAILABLE
# Prints the tarball's file list and size. `npm run test:package`; CI runs it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

step() { printf '\n== %s\n' "$*"; }
passed=0
failed=0
check() { # check <name> <command...>: runs it, counts the result
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); echo "PASS $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}

step "npm pack"
(cd "$root" && npm pack --pack-destination "$work" --json >"$work/pack.json")
tarball="$work/$(node -p "require('$work/pack.json')[0].filename")"
node -e "
  const p = require('$work/pack.json')[0];
  for (const f of p.files) console.log(String(f.size).padStart(9), f.path);
  console.log(\`\${p.filename}: \${p.entryCount} files, \${(p.size / 1024).toFixed(0)} KiB packed, \${(p.unpackedSize / 1024).toFixed(0)} KiB unpacked\`);
"

# A PATH with node and npm and the basic tools npm's scripts need, and no compiler, make or python.
bin="$work/bin"
mkdir -p "$bin"
for tool in node npm sh bash env cat mkdir rm cp mv ln ls uname chmod tar gzip; do
  found="$(command -v "$tool" || true)"
  [ -n "$found" ] && ln -s "$(readlink -f "$found")" "$bin/$tool"
done
# npm is a script: keep the link to it working from another directory.
ln -sf "$(readlink -f "$(command -v npm)")" "$bin/npm"
for compiler in cc gcc g++ c++ make python3; do
  if PATH="$bin" command -v "$compiler" >/dev/null 2>&1; then echo "PATH still has $compiler"; exit 1; fi
done

new_app() { # new_app <name> [npm install flags...]: a fresh application with the tarball installed
  local app="$work/$1"; shift
  mkdir -p "$app"
  cp "$root/test/package/smoke.mjs" "$app/"
  printf '{ "name": "app", "version": "1.0.0", "private": true, "type": "module" }\n' >"$app/package.json"
  (cd "$app" && PATH="$bin" npm install --no-audit --no-fund --prefer-offline --foreground-scripts "$@" "$tarball" >"$app/install.log" 2>&1) || {
    cat "$app/install.log"; return 1; }
  echo "$app"
}

step "1. prebuilt addon, no compiler on PATH: a ring file under each Node line"
app="$(new_app prebuilt)"
grep 'shmring:' "$app/install.log" || true
check "installed without building (no node_modules/shmring/build)" test ! -e "$app/node_modules/shmring/build"
check "Node $(node --version): ring file" env -C "$app" PATH="$bin" node smoke.mjs file "$work"
# ESM-only, but CommonJS callers can require() it where Node loads ES modules from require (20.19+).
check "require('shmring') from CommonJS" env -C "$app" PATH="$bin" node -e "
  const { createRing, RingProducer } = require('shmring');
  if (!new RingProducer(createRing({ capacity: 4096 })).tryWrite(new Uint8Array(8), 1)) process.exit(1);"
while read -r major version; do
  prefix="$root/.cache/node/$version/package"
  [ -n "${SHMRING_NODE_CACHE:-}" ] && prefix="$SHMRING_NODE_CACHE/$version/package"
  if [ -x "$prefix/bin/node" ]; then
    check "Node $version: ring file" env -C "$app" PATH="$bin" "$prefix/bin/node" smoke.mjs file "$work"
  else
    echo "skip Node $major: not cached (node scripts/node-lines.mjs prefix $major)"
  fi
done < <(node "$root/scripts/node-lines.mjs" list)

step "2. SHMRING_NO_NATIVE=1: install succeeds, in-memory rings work, ring files refuse"
export SHMRING_NO_NATIVE=1
app="$(new_app no-native)"
grep 'shmring:' "$app/install.log" || true
check "no addon: in-memory ring, ERR_NATIVE_UNAVAILABLE" env -C "$app" PATH="$bin" node smoke.mjs memory
unset SHMRING_NO_NATIVE

step "3. no prebuild for this platform and no compiler: the build fails, the install succeeds"
# The same tarball without prebuilds/: what a platform or Node with no matching prebuild gets.
mkdir "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
rm -rf "$work/unpacked/package/prebuilds"
tarball="$work/shmring-no-prebuilds.tgz"
tar -czf "$tarball" -C "$work/unpacked" package
app="$(new_app failed-build)"
grep 'shmring:' "$app/install.log" || true
check "install log reports the failed build" grep -q 'build from source failed' "$app/install.log"
check "failed build: in-memory ring, ERR_NATIVE_UNAVAILABLE" env -C "$app" PATH="$bin" node smoke.mjs memory

echo
echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
