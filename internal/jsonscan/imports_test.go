package jsonscan

import (
	"strings"
	"testing"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// The scanner knows nothing of Genesys: the standard library and
// internal/text only (package doc).
func TestJSONScanImports(t *testing.T) {
	for _, path := range testkit.Imports(t, ".") {
		if strings.Contains(path, ".") && path != "github.com/genesys-bridge/genesys-bridge/internal/text" {
			t.Errorf("jsonscan imports %s", path)
		}
	}
}
