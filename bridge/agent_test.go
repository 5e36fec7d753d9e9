package bridge

import (
	"strings"
	"testing"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Genesys's spellings and the bridge's both parse; anything else is an
// error that names the accepted values; every value is a subject token.
func TestAgentStatusesParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RoutingStatus
	}{
		{"OFF_QUEUE", RoutingOffQueue}, {"off_queue", RoutingOffQueue}, {"IDLE", RoutingIdle},
		{"INTERACTING", RoutingInteracting}, {"NOT_RESPONDING", RoutingNotResponding}, {"Communicating", RoutingCommunicating},
	} {
		if got, err := ParseRoutingStatus(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseRoutingStatus(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "OutdatedSdkVersion", "OFFQUEUE", "idle.x"} {
		if _, err := ParseRoutingStatus(in); err == nil || !strings.Contains(err.Error(), "OFF_QUEUE") {
			t.Errorf("ParseRoutingStatus(%q): %v, want an error naming the values", in, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want Presence
	}{{"ON_QUEUE", PresenceOnQueue}, {"On Queue", PresenceOnQueue}, {"Available", PresenceAvailable}, {"AVAILABLE", PresenceAvailable}, {"break", PresenceBreak}, {"OFFLINE", PresenceOffline}} {
		if got, err := ParsePresence(tc.in); err != nil || got != tc.want {
			t.Errorf("ParsePresence(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParsePresence("Lunch"); err == nil || !strings.Contains(err.Error(), "ON_QUEUE") {
		t.Errorf("ParsePresence(Lunch): %v, want an error naming the values", err)
	}
	for _, r := range RoutingStatuses {
		if !text.IsToken(string(r)) {
			t.Errorf("routing status %q is not a subject token", r)
		}
	}
	for _, p := range Presences {
		if !text.IsToken(string(p)) {
			t.Errorf("presence %q is not a subject token", p)
		}
	}
	if RoutingOffQueue.OnQueue() || !RoutingNotResponding.OnQueue() {
		t.Error("OnQueue: off_queue is off queue, every other status on it")
	}
}
