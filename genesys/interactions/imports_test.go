package interactions

import (
	"testing"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// The tutorial's dialect imports no NATS, engine or daemon (package doc).
func TestInteractionsImports(t *testing.T) {
	testkit.ForbidImports(t, ".", "github.com/nats-io", "github.com/genesys-bridge/genesys-bridge/bridge/engine",
		"github.com/genesys-bridge/genesys-bridge/publish", "github.com/genesys-bridge/genesys-bridge/cmd")
}
