package engine

import (
	"testing"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// The engine runs the domain and imports no adapter and no network
// library (package doc).
func TestEngineImports(t *testing.T) {
	testkit.ForbidImports(t, ".", "net", "net/http", "github.com/genesys-bridge/genesys-bridge/genesys",
		"github.com/genesys-bridge/genesys-bridge/publish", "github.com/genesys-bridge/genesys-bridge/cmd",
		"github.com/nats-io", "github.com/gorilla")
}
