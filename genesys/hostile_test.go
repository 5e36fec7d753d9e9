package genesys

import (
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// Invalid UTF-8 anywhere in a frame, in any string, is malformed: JSON
// text is UTF-8. Nothing of such a frame is published. (The tutorial
// dialect's frames: its own test, in package interactions.)
func TestInvalidUTF8InEveryFieldIsMalformed(t *testing.T) {
	const notification = `{"topicName":"v2.routing.queues.q1.conversations","version":"2","eventBody":{"id":"3f2a1b4c-1111-4222-8333-444455556666",` +
		`"participants":[{"id":"p1","purpose":"customer","calls":[{"id":"c1","state":"connected","connectedTime":"2026-11-27T09:00:00.000Z"}]},` +
		`{"id":"p2","purpose":"acd","queueId":"q1","calls":[{"id":"c2","state":"disconnected","connectedTime":"2026-11-27T09:00:01.000Z","disconnectedTime":"2026-11-27T09:00:05.000Z"}]},` +
		`{"id":"p3","purpose":"agent","userId":"u1","wrapupRequired":true,"calls":[{"id":"c3","state":"connected","held":false,"connectedTime":"2026-11-27T09:00:05.000Z"}]}]},` +
		`"metadata":{"CorrelationId":"abc"}}`
	now := time.Date(2026, 11, 27, 9, 1, 0, 0, time.UTC)
	if f, err := DecodeNotification([]byte(notification), now); err != nil || f.Kind != FrameEvent {
		t.Fatalf("the clean notification is not an event: %v %v", f.Kind, err)
	}
	// Every member name and string value: 52 strings.
	if m := len(testkit.Poisoned(notification, "x")); m != 52 {
		t.Fatalf("poisoned %d strings, want 52", m)
	}
	for _, bad := range []string{"\xff\xfe", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		for i, frame := range testkit.Poisoned(notification, bad) {
			_, err := DecodeNotification([]byte(frame), now)
			if rej, ok := err.(*bridge.RejectError); !ok || rej.Reason != bridge.ReasonMalformed || !strings.Contains(rej.Msg, "UTF-8") {
				t.Errorf("notifications, string %d poisoned with %q: %v, want malformed (invalid UTF-8)", i, bad, err)
			}
		}
	}
}
