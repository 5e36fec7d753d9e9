package genesys

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkDecodeInteraction: one tutorial-dialect frame as the stream
// benchmarks send it (about 240 bytes), decoded and validated.
func BenchmarkDecodeInteraction(b *testing.B) {
	frame := []byte(`{"sequence":123456,"id":"5f1a2b3c-0000-4000-8000-00000000c350","type":"interaction.updated","status":"connected","channelType":"voice","timestamp":"2026-11-29T04:50:00.123Z","attributes":{"queueId":"6c3ffb2e-53c4-4e41-9b0b-1c9f4b2d7e10"}}`)
	now := time.Now()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeInteraction(frame, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeNotification: the recorded live callback frame of the
// real corpus (testdata/real, five participants, about 6 KiB; the
// placeholders restored), decoded and derived.
func BenchmarkDecodeNotification(b *testing.B) {
	var it CorpusItem
	for _, c := range LoadCorpus(b) {
		if c.Kind == "frames" {
			it = c
		}
	}
	var frames []json.RawMessage
	if err := json.Unmarshal(it.Data(b), &frames); err != nil {
		b.Fatal(err)
	}
	frame := []byte(frames[0])
	now := time.Now()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeNotification(frame, now); err != nil {
			b.Fatal(err)
		}
	}
}
