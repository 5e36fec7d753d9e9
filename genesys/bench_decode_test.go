package genesys

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
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

// BenchmarkDecodeSimulatorFrames: the frames of 300 simulated
// conversations of every kind (whole conversations, as the simulator and
// Genesys send them on a queue's topic), each decoded and derived; ns/op
// is per frame.
func BenchmarkDecodeSimulatorFrames(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	pop := simulator.NewPopulation(rng, 3, 12)
	var frames [][]byte
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range 300 {
		ch := bridge.ChannelTypes[i%5]
		sc := simulator.Generate(rng, pop, ch, start.Add(time.Duration(i)*time.Minute), 1)
		for _, fr := range sc.Frames {
			frames = append(frames, fmt.Appendf(nil, `{"topicName":%q,"version":"2","eventBody":%s,"metadata":{"CorrelationId":"5a1c9f3e-8d2b-4c6a-9e7f-0b1d2c3e4f5a"}}`,
				fr.Topics[0], fr.Body))
		}
	}
	var size int
	for _, f := range frames {
		size += len(f)
	}
	b.SetBytes(int64(size / len(frames)))
	b.ReportAllocs()
	now := time.Now()
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := DecodeNotification(frames[i%len(frames)], now); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// The process's CPU (the collector's included) per frame: unlike
	// ns/op, it holds on a machine busy with other work.
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(i), "cpu-ns/frame")
}

// processCPU is the CPU time this process has spent (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
