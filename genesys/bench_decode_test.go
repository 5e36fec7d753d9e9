package genesys

import (
	"encoding/json"
	"testing"
	"time"
)

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
