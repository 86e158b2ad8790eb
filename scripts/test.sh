#!/usr/bin/env bash
# Every test of the project: TypeScript (vitest: unit, threads, processes, Node<->Go), Go (vet, race,
# a bounded fuzz run), and the C++ core under ASan+UBSan and TSan. `npm test` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "build TypeScript"
npx tsc -p tsconfig.json

if [ ! -f build/Release/shmring.node ]; then
  step "build native addon"
  node scripts/build-native.mjs
fi

step "build Go peer CLI"
node scripts/build-go.mjs

step "vitest"
npx vitest run

step "bench harness tests (node --test)"
node --test bench/test/

step "go vet + go test -race"
(cd go-peer && go vet ./... && go test -race -count=1 ./...)

step "Go module alone (copy of go-peer/: build, vet, test; CGO_ENABLED=0 amd64/arm64; go install; imported)"
bash scripts/test-go-module.sh

step "go fuzz (bounded)"
# Bounded by executions, not wall-clock time: with a duration, Go's fuzz coordinator (go1.26) can
# report its own end-of-fuzztime deadline as a failure, "context deadline exceeded" with no crasher
# (golang/go#75804, fixed in go1.27). An execution count has no deadline to race. 300,000 each is
# about 5-12 s per target on 2 cores.
(cd go-peer && go test -run='^$' -fuzz='^FuzzOpen$' -fuzztime=300000x ./shmring && go test -run='^$' -fuzz='^FuzzConsume$' -fuzztime=300000x ./shmring)

step "C++ core under sanitizers"
bash scripts/native-test.sh

step "reliability scripts at a small N (full runs: reliability/README.md)"
node reliability/chaos.mjs --kills 40 --seed "${SHMRING_SEED:-1}"
node reliability/fuzz.mjs --cases 4000 --seed "${SHMRING_SEED:-1}"
node reliability/soak.mjs --records 5000000 --seed "${SHMRING_SEED:-1}"
