package interactions

import (
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// Invalid UTF-8 anywhere in a frame, in any string, is malformed: JSON
// text is UTF-8. Nothing of such a frame is published.
func TestInvalidUTF8InEveryFieldIsMalformed(t *testing.T) {
	const interaction = `{"sequence":7,"id":"int-1","type":"interaction.updated","status":"queued","channelType":"voice","timestamp":"2026-11-27T09:00:00.120Z","attributes":{"queueId":"q1","note":"caf\u00e9"}}`
	now := time.Date(2026, 11, 27, 9, 1, 0, 0, time.UTC)
	if _, _, err := Decode([]byte(interaction), now); err != nil {
		t.Fatalf("the clean interactions frame is rejected: %v", err)
	}
	// Every member name and string value: 16 strings.
	if n := len(testkit.Poisoned(interaction, "x")); n != 16 {
		t.Fatalf("poisoned %d strings, want 16", n)
	}
	for _, bad := range []string{"\xff\xfe", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		for i, frame := range testkit.Poisoned(interaction, bad) {
			_, _, err := Decode([]byte(frame), now)
			if rej, ok := err.(*bridge.RejectError); !ok || rej.Reason != bridge.ReasonMalformed || !strings.Contains(rej.Msg, "UTF-8") {
				t.Errorf("string %d poisoned with %q: %v, want malformed (invalid UTF-8)", i, bad, err)
			}
		}
	}
}

// BenchmarkDecodeInteraction: one tutorial-dialect frame as the stream
// benchmarks send it (about 240 bytes), decoded and validated.
func BenchmarkDecodeInteraction(b *testing.B) {
	frame := []byte(`{"sequence":123456,"id":"5f1a2b3c-0000-4000-8000-00000000c350","type":"interaction.updated","status":"connected","channelType":"voice","timestamp":"2026-11-29T04:50:00.123Z","attributes":{"queueId":"6c3ffb2e-53c4-4e41-9b0b-1c9f4b2d7e10"}}`)
	now := time.Now()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(frame, now); err != nil {
			b.Fatal(err)
		}
	}
}

var observed = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
