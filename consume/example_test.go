package consume_test

import (
	"context"
	"fmt"
	"time"

	"github.com/genesys-bridge/genesys-bridge/consume"
)

// Every voice transition the stream holds, then those that follow (the
// loop stops here after five).
func ExampleTransitions() {
	e := exampleStream()
	defer e.close()
	js := e.js // jetstream.New(nc) for a connection of yours

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	for t, err := range consume.Transitions(ctx, js, consume.Config{Channels: []string{"voice"}, Start: consume.All}) {
		if err != nil {
			fmt.Println("error:", err)
			break
		}
		fmt.Printf("%s %s -> %s queue=%s agent=%s\n", t.InteractionID, or(t.FromStatus, "(new)"), t.ToStatus, t.QueueID, t.UserID)
		if n++; n == 5 {
			break
		}
	}
	// Output:
	// call-1 (new) -> queued queue=q-sales agent=
	// call-1 queued -> ringing queue=q-sales agent=agent-7
	// call-1 ringing -> connected queue=q-sales agent=agent-7
	// call-1 connected -> held queue=q-sales agent=agent-7
	// call-1 held -> connected queue=q-sales agent=agent-7
}

// The timings of interactions completed in one queue, read by a durable
// consumer: a reader restarted with the same name resumes after the last
// one it handled.
func ExampleTimingsOf() {
	e := exampleStream()
	defer e.close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := consume.Config{Queue: "q-sales", Start: consume.All, Durable: "sales-report"}
	for t, err := range consume.TimingsOf(ctx, e.js, cfg) {
		if err != nil {
			fmt.Println("error:", err)
			break
		}
		fmt.Printf("%s answered by %s: waited %s, rang %s, talked %s, held %s (%d hold), wrap-up %s, handle %s\n",
			t.InteractionID, t.UserID, t.Wait, t.Alert, t.Talk, t.Hold, t.Holds, t.Wrapup, t.Handle)
		break
	}
	// Output:
	// call-1 answered by agent-7: waited 12s, rang 3s, talked 2m35s, held 30s (1 hold), wrap-up 30s, handle 3m35s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// exampleStream is an embedded server holding the sample interactions
// (setup_test.go): what an example reads.
func exampleStream() *embedded {
	e, err := startEmbedded()
	if err == nil {
		err = e.sample()
	}
	if err != nil {
		panic(err)
	}
	return e
}
