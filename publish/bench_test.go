package publish

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// BenchmarkOutageBuffer measures the memory one transition costs while NATS
// is unreachable: it waits in the publisher (and the client's reconnect
// buffer) until the server is back. NATS_MAX_PENDING bounds how many wait,
// so this times the bound is the outage's memory.
func BenchmarkOutageBuffer(b *testing.B) {
	const n = 4096 // the default NATS_MAX_PENDING
	for range b.N {
		ns := testkit.StartNATS(b)
		nc, err := nats.Connect(ns.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
			nats.ReconnectBufSize(64<<20))
		if err != nil {
			b.Fatal(err)
		}
		j, err := New(context.Background(), nc, Config{MaxPending: n, AckTimeout: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		ns.Stop()
		for nc.IsConnected() {
			time.Sleep(time.Millisecond)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ctx, cancel := context.WithCancel(context.Background())
		receipts := make([]*testkit.Receipt, n)
		for i := range n {
			tr := transition(fmt.Sprintf("3f2a1b4c-1111-4222-8333-%012d", i), i)
			tr.Detail = []string{"customer:connected", "acd:connected", "agent:alerting"}
			receipts[i] = testkit.NewReceipt()
			j.Publish(ctx, &tr, receipts[i])
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "B/buffered-transition")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(1<<20), "MiB-at-default-bound")
		cancel()
		for _, r := range receipts {
			<-r.Done()
		}
		j.Close()
		nc.Close()
		ns.Stop()
	}
}
