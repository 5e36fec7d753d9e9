package genesys

import (
	"testing"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// The Genesys side never reaches into the JetStream side, the daemon or
// NATS (package doc).
func TestGenesysImports(t *testing.T) {
	testkit.ForbidImports(t, ".", "github.com/genesys-bridge/genesys-bridge/publish", "github.com/genesys-bridge/genesys-bridge/cmd", "github.com/genesys-bridge/genesys-bridge/board", "github.com/genesys-bridge/genesys-bridge/consume",
		"github.com/nats-io", "github.com/genesys-bridge/genesys-bridge/genesys/simulator")
}
