package genesys

import (
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// poisoned returns data once per JSON string in it (member names and
// values alike), each time with bad bytes (not UTF-8) put at the start of
// that string.
func poisoned(data string, bad string) []string {
	var out []string
	in := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case in && c == '\\':
			i++
		case c == '"' && !in:
			in = true
			out = append(out, data[:i+1]+bad+data[i+1:])
		case c == '"':
			in = false
		}
	}
	return out
}

// Invalid UTF-8 anywhere in a frame, in any string of either dialect, is
// malformed: JSON text is UTF-8. Nothing of such a frame is published.
func TestInvalidUTF8InEveryFieldIsMalformed(t *testing.T) {
	const interaction = `{"sequence":7,"id":"int-1","type":"interaction.updated","status":"queued","channelType":"voice","timestamp":"2026-11-27T09:00:00.120Z","attributes":{"queueId":"q1","note":"caf\u00e9"}}`
	const notification = `{"topicName":"v2.routing.queues.q1.conversations","version":"2","eventBody":{"id":"3f2a1b4c-1111-4222-8333-444455556666",` +
		`"participants":[{"id":"p1","purpose":"customer","calls":[{"id":"c1","state":"connected","connectedTime":"2026-11-27T09:00:00.000Z"}]},` +
		`{"id":"p2","purpose":"acd","queueId":"q1","calls":[{"id":"c2","state":"disconnected","connectedTime":"2026-11-27T09:00:01.000Z","disconnectedTime":"2026-11-27T09:00:05.000Z"}]},` +
		`{"id":"p3","purpose":"agent","userId":"u1","wrapupRequired":true,"calls":[{"id":"c3","state":"connected","held":false,"connectedTime":"2026-11-27T09:00:05.000Z"}]}]},` +
		`"metadata":{"CorrelationId":"abc"}}`
	now := time.Date(2026, 11, 27, 9, 1, 0, 0, time.UTC)
	if _, _, err := DecodeInteraction([]byte(interaction), now); err != nil {
		t.Fatalf("the clean interactions frame is rejected: %v", err)
	}
	if f, err := DecodeNotification([]byte(notification), now); err != nil || f.Kind != FrameEvent {
		t.Fatalf("the clean notification is not an event: %v %v", f.Kind, err)
	}
	// Every member name and string value: 16 strings in the one, 52 in
	// the other.
	if n, m := len(poisoned(interaction, "x")), len(poisoned(notification, "x")); n != 16 || m != 52 {
		t.Fatalf("poisoned %d and %d strings, want 16 and 52", n, m)
	}
	for _, bad := range []string{"\xff\xfe", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		for i, frame := range poisoned(interaction, bad) {
			_, _, err := DecodeInteraction([]byte(frame), now)
			if rej, ok := err.(*bridge.RejectError); !ok || rej.Reason != bridge.ReasonMalformed || !strings.Contains(rej.Msg, "UTF-8") {
				t.Errorf("interactions, string %d poisoned with %q: %v, want malformed (invalid UTF-8)", i, bad, err)
			}
		}
		for i, frame := range poisoned(notification, bad) {
			_, err := DecodeNotification([]byte(frame), now)
			if rej, ok := err.(*bridge.RejectError); !ok || rej.Reason != bridge.ReasonMalformed || !strings.Contains(rej.Msg, "UTF-8") {
				t.Errorf("notifications, string %d poisoned with %q: %v, want malformed (invalid UTF-8)", i, bad, err)
			}
		}
	}
}
