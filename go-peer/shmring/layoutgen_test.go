package shmring

import (
	"bytes"
	_ "embed"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/shmring/shmring/go-peer/internal/layoutgen"
)

// layoutHeader is the module's copy of layout.h: what cgo compiles and what layout_purego.go is
// generated from. Embedded so that these tests read it wherever the module is.
//
//go:embed layout.h
var layoutHeader []byte

// nativeHeaderPath is the header the C++ addon compiles, relative to this package inside a
// checkout of the shmring repository. A module fetched alone does not have it.
const nativeHeaderPath = "../../native/include/shmring/layout.h"

func TestLayoutHeaderCopyIsTheNativeHeader(t *testing.T) {
	native, err := os.ReadFile(nativeHeaderPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s not found: the module is built outside the shmring repository, nothing to compare its layout.h with", nativeHeaderPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(native, layoutHeader) {
		t.Fatalf("go-peer/shmring/layout.h differs from native/include/shmring/layout.h (%d vs %d bytes): run `go generate ./...` in go-peer/ to copy it and regenerate the constants", len(layoutHeader), len(native))
	}
}

// The generated files must be what the generator makes of the header now: a header edited without
// `go generate` fails here, with cgo or without.
func TestGeneratedLayoutFilesMatchTheHeader(t *testing.T) {
	lines, err := layoutgen.Parse(layoutHeader)
	if err != nil {
		t.Fatal(err)
	}
	for _, generated := range []struct {
		path string
		cgo  bool
	}{{"layout_cgo.go", true}, {"layout_purego.go", false}} {
		want, err := layoutgen.Source(lines, "shmring", generated.cgo)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(generated.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what layout.h generates: run `go generate ./...` in go-peer/", generated.path)
		}
	}
}
