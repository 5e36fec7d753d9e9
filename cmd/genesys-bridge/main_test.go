package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestMain removes the binaries the tests and benchmarks built (the
// bridge, nats-server for the test cluster: tens of MiB in the temporary
// directory per run otherwise).
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built holds the binaries built once per test binary, in one directory
// TestMain removes.
var built struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*builtBin
}

type builtBin struct {
	once sync.Once
	path string
	err  error
}

// builtBinary builds package pkg (without the race detector, whatever
// the tests run with) into a binary called name, once per test binary.
func builtBinary(tb testing.TB, pkg, name string) string {
	built.mu.Lock()
	if built.bins == nil {
		built.bins = map[string]*builtBin{}
	}
	b := built.bins[name]
	if b == nil {
		b = &builtBin{}
		built.bins[name] = b
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "genesys-bridge-test-bin")
		if err != nil {
			built.mu.Unlock()
			tb.Fatal(err)
		}
		built.dir = dir
	}
	dir := built.dir
	built.mu.Unlock()
	b.once.Do(func() {
		b.path = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// bridgeBinary builds the bridge once per test binary.
func bridgeBinary(tb testing.TB) string { return builtBinary(tb, ".", "genesys-bridge") }
