package genesys

import (
	"strings"
	"testing"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

func TestDecodeInteraction(t *testing.T) {
	const good = `{"sequence":7,"id":"int-1","type":"interaction.updated","status":"queued","channelType":"voice","timestamp":"2026-11-27T09:00:00.120Z","attributes":{"queueId":"q1"}}`
	ev, seq, err := DecodeInteraction([]byte(good), observed)
	if err != nil || seq != 7 || ev.Status != bridge.StatusQueued || ev.ChannelType != bridge.ChannelVoice ||
		len(ev.Steps) != 1 || ev.Steps[0].At.IsZero() || ev.InteractionID != "int-1" {
		t.Fatalf("decode: %+v seq %d err %v", ev, seq, err)
	}
	tests := []struct {
		name, frame string
		reason      bridge.Reason
		msg         string
	}{
		{"not json", `{`, bridge.ReasonMalformed, "decode"},
		{"sequence as string", strings.Replace(good, `7`, `"7"`, 1), bridge.ReasonMalformed, "sequence"},
		{"missing id", strings.Replace(good, `"id":"int-1",`, ``, 1), bridge.ReasonSchema, "id is missing"},
		{"missing timestamp", strings.Replace(good, `,"timestamp":"2026-11-27T09:00:00.120Z"`, ``, 1), bridge.ReasonSchema, "timestamp is missing"},
		{"bad timestamp", strings.Replace(good, `2026-11-27T09:00:00.120Z`, `27/11/2026`, 1), bridge.ReasonSchema, "RFC 3339"},
		{"unknown status", strings.Replace(good, `"queued"`, `"parked"`, 1), bridge.ReasonSchema, "unknown status"},
		{"hostile status", strings.Replace(good, `"queued"`, `"queued.>"`, 1), bridge.ReasonSchema, "unknown status"},
		{"unknown channel", strings.Replace(good, `"voice"`, `"fax"`, 1), bridge.ReasonSchema, "unknown channel type"},
		{"negative sequence", strings.Replace(good, `7`, `-1`, 1), bridge.ReasonSchema, "negative"},
		{"empty type", strings.Replace(good, `"interaction.updated"`, `""`, 1), bridge.ReasonSchema, "type is empty"},
		{"attributes not an object", strings.Replace(good, `{"queueId":"q1"}`, `[1]`, 1), bridge.ReasonSchema, "attributes"},
		{"control char in id", strings.Replace(good, `int-1`, `a\nb`, 1), bridge.ReasonSchema, "control or space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeInteraction([]byte(tt.frame), observed)
			rej, ok := err.(*bridge.RejectError)
			if !ok || rej.Reason != tt.reason || !strings.Contains(rej.Msg, tt.msg) {
				t.Fatalf("err = %v, want %s containing %q", err, tt.reason, tt.msg)
			}
		})
	}
}

func FuzzDecodeInteraction(f *testing.F) {
	f.Add([]byte(`{"sequence":7,"id":"int-1","type":"t","status":"queued","channelType":"voice","timestamp":"2026-11-27T09:00:00Z"}`))
	f.Add([]byte(`{"sequence":1e30,"id":"","type":"t","status":"held","channelType":"chat","timestamp":"2026-11-27T09:00:00+02:00","attributes":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, seq, err := DecodeInteraction(data, observed)
		if err != nil {
			if _, ok := err.(*bridge.RejectError); !ok {
				t.Fatalf("error %T is not a *bridge.RejectError", err)
			}
			return
		}
		if seq < 0 || ev.Validate() != nil {
			t.Fatalf("accepted an invalid event: seq %d, %v", seq, ev.Validate())
		}
	})
}
