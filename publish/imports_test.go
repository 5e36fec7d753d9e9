package publish

import (
	"testing"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// The JetStream side never reaches into the Genesys side, the daemon or a
// server of its own (package doc).
func TestPublishImports(t *testing.T) {
	testkit.ForbidImports(t, ".", "github.com/genesys-bridge/genesys-bridge/genesys", "github.com/genesys-bridge/genesys-bridge/cmd", "github.com/genesys-bridge/genesys-bridge/board", "github.com/genesys-bridge/genesys-bridge/internal/embedded",
		"github.com/nats-io/nats-server", "github.com/gorilla/websocket", "golang.org/x/oauth2")
}
