package engine

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// timingsPublisher records the order of what it is given.
type timingsPublisher struct{ order []string }

func (p *timingsPublisher) Publish(_ context.Context, t *bridge.Transition, r bridge.Receipt) {
	p.order = append(p.order, string(t.ToStatus))
	r.Complete(false, uint64(len(p.order)), nil)
}

func (p *timingsPublisher) PublishTimings(_ context.Context, t *bridge.Timings, r bridge.Receipt) {
	p.order = append(p.order, "timings")
	r.Complete(false, 0, nil)
}

// TestPipelinePublishesTimingsBeforeTheCompletion: a restart that lost the
// completion derives it, and the timings with the same id, again.
func TestPipelinePublishesTimingsBeforeTheCompletion(t *testing.T) {
	pub := &timingsPublisher{}
	var seen []*bridge.Timings
	src := &sliceSource{events: []bridge.Event{
		seqEvent("c1", bridge.StatusQueued, 0, bridge.Who{QueueID: "q1"}), seqEvent("c1", bridge.StatusCompleted, 20, bridge.Who{}),
	}, end: io.EOF}
	p := New(Config{Shards: 1, OnTimings: func(tm *bridge.Timings) { seen = append(seen, tm) }})
	if err := p.Run(context.Background(), src, pub); !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if got := pub.order; len(got) != 3 || got[0] != "queued" || got[1] != "timings" || got[2] != "completed" {
		t.Fatalf("published %v, want queued, timings, completed", got)
	}
	if len(seen) != 1 || seen[0].Wait != 20*time.Second || !seen[0].Abandoned || p.Stats().Timings.Load() != 1 {
		t.Fatalf("OnTimings saw %+v, stats %d", seen, p.Stats().Timings.Load())
	}
}
