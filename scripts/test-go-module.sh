#!/usr/bin/env bash
# The Go module as `go get` / `go install` fetch it: a copy of go-peer/ alone, outside the
# repository (no native/ header next to it), must build, vet and test; build without cgo for
# linux/amd64 and linux/arm64; install its CLI; and be importable by another module under the path
# its package name ends in. Needs no network when the module cache already holds golang.org/x/sys
# (npm install's Go build puts it there); otherwise only the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

module_path=github.com/shmring/shmring/go-peer
work=$(mktemp -d "${TMPDIR:-/tmp}/shmring-go-module.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n-- %s\n' "$*"; }

# What the module proxy would serve: the module directory, nothing around it (bin/ is a build output).
mkdir "$work/module"
tar -C go-peer --exclude=./bin -cf - . | tar -C "$work/module" -xf -
cd "$work/module"
# -mod=readonly (the default, made explicit): go.mod and go.sum must be complete as committed.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"

step "module alone: go build, go vet, go test -short (cgo: constants from the C compiler)"
go build ./... && go vet ./... && go test -short -count=1 ./...

step "module alone, CGO_ENABLED=0: go test -short (constants from layout_purego.go)"
CGO_ENABLED=0 go test -short -count=1 ./...

for arch in amd64 arm64; do
  step "CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build + go vet"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build ./...
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go vet ./...
done

step "go install ./cmd/shmring (what go install $module_path/cmd/shmring@latest builds)"
GOBIN="$work/bin" go install ./cmd/shmring
"$work/bin/shmring" layout --json | grep -q '"TAIL_OFFSET": *128'

step "another module imports $module_path/shmring as package shmring"
mkdir "$work/app"
cat > "$work/app/go.mod" <<MOD
module example.com/app

go 1.21

require (
	$module_path v0.0.0
	$(grep -m1 '^require golang.org/x/sys' go.mod | sed 's/^require //') // indirect
)

replace $module_path => ../module
MOD
cp go.sum "$work/app/go.sum"
cat > "$work/app/main.go" <<'GO'
// A user's program: one record through a ring file, by the import path the README gives.
package main

import (
	"fmt"
	"os"

	"github.com/shmring/shmring/go-peer/shmring"
)

func main() {
	ring, err := shmring.Create(os.Args[1], shmring.CreateOptions{Capacity: shmring.MinCapacity * 16})
	check(err)
	defer ring.Close()
	producer, err := ring.Producer(shmring.ProducerOptions{})
	check(err)
	written, err := producer.TryWrite([]byte("hello"), 7)
	check(err)
	check(producer.Flush())
	consumer, err := ring.Consumer(shmring.ConsumerOptions{})
	check(err)
	record, ok, err := consumer.TryRead()
	check(err)
	if !written || !ok || record.Type != 7 || string(record.Data) != "hello" {
		check(fmt.Errorf("wrote %v, read %v: type %d %q", written, ok, record.Type, record.Data))
	}
	fmt.Println("app: one record through", os.Args[1])
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}
GO
(cd "$work/app" && go vet . && go run . "$work/app/ring" && CGO_ENABLED=0 go run . "$work/app/ring-purego")

printf '\nGo module OK: built, vetted and tested alone, without cgo for amd64 and arm64, installed and imported\n'
