package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/consume"
)

func main() {
	channels := flag.String("channels", "", "channel types, comma-separated (empty: all)")
	statuses := flag.String("statuses", "", "statuses entered, comma-separated (empty: all)")
	queue := flag.String("queue", "", "only this queue id")
	interaction := flag.String("interaction", "", "only this interaction id")
	all := flag.Bool("all", false, "start with everything the stream retains")
	since := flag.Duration("since", 0, "start this long ago")
	durable := flag.String("durable", "", "a durable consumer of this name (resumes where it stopped)")
	timings := flag.Bool("timings", false, "print completed interactions' timings instead of transitions")
	agents := flag.Bool("agents", false, "print agents' transitions (routing status and presence) instead of interactions'")
	agent := flag.String("agent", "", "with -agents: only this agent (user id)")
	routing := flag.String("routing", "", "with -agents: routing statuses entered, comma-separated (empty: all)")
	flag.Parse()
	if *agents && *timings {
		fmt.Fprintln(os.Stderr, "genesys-tail: -agents and -timings are two kinds of message: choose one")
		os.Exit(2)
	}

	cfg := consume.Config{Stream: os.Getenv("NATS_STREAM"), SubjectPrefix: os.Getenv("NATS_SUBJECT_PREFIX"),
		TimingsPrefix: os.Getenv("NATS_TIMINGS_SUBJECT_PREFIX"), Channels: list(*channels), Statuses: list(*statuses),
		Queue: *queue, Interaction: *interaction, Durable: *durable, Agent: *agent, RoutingStatuses: list(*routing)}
	switch {
	case *all:
		cfg.Start = consume.All
	case *since > 0:
		cfg.Start, cfg.From = consume.At, time.Now().Add(-*since)
	}
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	var opts []nats.Option
	if creds := os.Getenv("NATS_CREDS"); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genesys-tail:", err)
		os.Exit(1)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genesys-tail:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *timings {
		for t, err := range consume.TimingsOf(ctx, js, cfg) {
			if err != nil {
				fmt.Fprintln(os.Stderr, "genesys-tail:", err)
				continue
			}
			outcome := "answered"
			if t.Abandoned {
				outcome = "abandoned in " + t.AbandonedIn
			}
			fmt.Printf("%s %-8s %s queue=%s agent=%s %s wait=%s alert=%s talk=%s hold=%s(%d) wrapup=%s handle=%s transfers=%d\n",
				t.CompletedAt.Format(time.RFC3339), t.ChannelType, t.InteractionID, t.QueueID, t.UserID, outcome,
				t.Wait, t.Alert, t.Talk, t.Hold, t.Holds, t.Wrapup, t.Handle, t.Transfers)
		}
		return
	}
	if *agents {
		for a, err := range consume.AgentTransitions(ctx, js, cfg) {
			if err != nil {
				fmt.Fprintln(os.Stderr, "genesys-tail:", err)
				continue
			}
			from := "-"
			if a.FromRoutingStatus != "" {
				from = a.FromRoutingStatus + "/" + a.FromPresence
			}
			fmt.Printf("%s agent %s %s -> %s/%s after %s queues=%s\n", a.OccurredAt.Format(time.RFC3339Nano), a.UserID,
				from, a.ToRoutingStatus, a.ToPresence, a.InPrevious, strings.Join(a.ActiveQueueIDs, ","))
		}
		return
	}
	for t, err := range consume.Transitions(ctx, js, cfg) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "genesys-tail:", err)
			continue
		}
		from := t.FromStatus
		if from == "" {
			from = "-"
		}
		fmt.Printf("%s %-8s %s %s -> %s queue=%s agent=%s\n", t.OccurredAt.Format(time.RFC3339Nano), t.ChannelType,
			t.InteractionID, from, t.ToStatus, t.QueueID, t.UserID)
	}
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
