package bridge

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// allowedImports is everything the domain may import: standard library
// packages for data, text, time, hashing, logging and concurrency, and
// the module's internal helpers that import only the standard library
// themselves. Nothing that talks to a network, a process or a file; no
// adapter (genesys, publish) and no third-party module. A new import is
// a decision: add it here, with its reason in the review.
var allowedImports = []string{
	"cmp", "context", "crypto/sha256", "encoding/binary", "encoding/hex", "encoding/json", "errors", "fmt",
	"hash/fnv", "hash/maphash", "log/slog", "math", "math/bits", "runtime", "slices", "sort", "strconv", "strings",
	"sync", "sync/atomic", "time", "unicode", "unicode/utf8",
	"github.com/genesys-bridge/genesys-bridge/internal/handoff",
	"github.com/genesys-bridge/genesys-bridge/internal/retry",
	"github.com/genesys-bridge/genesys-bridge/internal/text",
}

// The domain imports only what allowedImports lists.
func TestImportsOnlyTheAllowList(t *testing.T) {
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
			if !slices.Contains(allowedImports, path) {
				t.Errorf("%s imports %s, which is not in allowedImports", name, path)
			}
		}
	}
}
