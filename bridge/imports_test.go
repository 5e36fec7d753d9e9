package bridge

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The domain imports the standard library and the module's internal
// helpers (themselves standard-library only), never a network client or
// an adapter.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") && !strings.HasPrefix(path, "github.com/genesys-bridge/genesys-bridge/internal/") {
				t.Errorf("%s imports %s", name, path)
			}
			if path == "net" || strings.HasPrefix(path, "net/") {
				t.Errorf("%s imports the network package %s", name, path)
			}
		}
	}
}
