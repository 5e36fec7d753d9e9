package bridge

import (
	"slices"
	"testing"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
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
	for _, path := range testkit.Imports(t, ".") {
		if !slices.Contains(allowedImports, path) {
			t.Errorf("bridge imports %s, which is not in allowedImports", path)
		}
	}
}
