// Command genlayout regenerates the Go peer's layout constants from its copy of layout.h:
// layout_cgo.go (values from the C compiler) and layout_purego.go (literal values, for builds
// without cgo). Run it with `go generate ./...` from go-peer/.
//
// With -sync PATH, it first copies the header at PATH (the repository's
// native/include/shmring/layout.h) over the module's copy, when PATH exists: the module carries its
// own copy so that it builds when fetched alone, and this keeps the copy identical.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/shmring/shmring/go-peer/internal/layoutgen"
)

func main() {
	header := flag.String("header", "layout.h", "the module's copy of layout.h")
	sync := flag.String("sync", "", "copy this header over -header first, if it exists")
	packageName := flag.String("package", "shmring", "package of the generated files")
	flag.Parse()
	if err := run(*header, *sync, *packageName); err != nil {
		fmt.Fprintln(os.Stderr, "genlayout:", err)
		os.Exit(1)
	}
}

func run(headerPath, syncPath, packageName string) error {
	if syncPath != "" {
		source, err := os.ReadFile(syncPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(os.Stderr, "genlayout: %s not found (module outside the repository): using %s as is\n", syncPath, headerPath)
		case err != nil:
			return err
		default:
			if err := writeIfChanged(headerPath, source); err != nil {
				return err
			}
		}
	}
	header, err := os.ReadFile(headerPath)
	if err != nil {
		return err
	}
	lines, err := layoutgen.Parse(header)
	if err != nil {
		return err
	}
	for _, output := range []struct {
		path string
		cgo  bool
	}{{"layout_cgo.go", true}, {"layout_purego.go", false}} {
		source, err := layoutgen.Source(lines, packageName, output.cgo)
		if err != nil {
			return err
		}
		if err := writeIfChanged(output.path, source); err != nil {
			return err
		}
	}
	return nil
}

// writeIfChanged leaves an identical file untouched, so that a no-op generate does not touch
// modification times (and rebuilds).
func writeIfChanged(path string, content []byte) error {
	if existing, err := os.ReadFile(path); err == nil && bytes.Equal(existing, content) {
		return nil
	}
	return os.WriteFile(path, content, 0o644)
}
