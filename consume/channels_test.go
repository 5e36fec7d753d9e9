package consume

import (
	"slices"
	"testing"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// The channel types listed here are the bridge's, so that a consumer with
// no channel filter reads every interaction and no agent transition.
func TestChannelTypesAreTheBridges(t *testing.T) {
	var want []string
	for _, c := range bridge.ChannelTypes {
		want = append(want, string(c))
	}
	if !slices.Equal(ChannelTypes, want) {
		t.Errorf("ChannelTypes %v, bridge's %v", ChannelTypes, want)
	}
	if agentsToken != publish.AgentsToken {
		t.Errorf("agents' token %q, the publisher's %q", agentsToken, publish.AgentsToken)
	}
	subjects, err := Config{}.subjects("p", true)
	if err != nil || len(subjects) != len(want) || slices.Contains(subjects, "p.agents.*.*") || slices.Contains(subjects, "p.*.*.*") {
		t.Errorf("subjects with no filter: %v %v", subjects, err)
	}
	if _, err := (Config{Channels: []string{"agents"}}).subjects("p", true); err == nil {
		t.Error("agents accepted as a channel type")
	}
}
