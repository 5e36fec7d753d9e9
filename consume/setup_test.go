package consume_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// embedded is a JetStream server in the process with the bridge's stream,
// on a port the OS picks, as the examples and tests need it.
type embedded struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	pub *publish.JetStream
	dir string
}

func startEmbedded() (*embedded, error) {
	dir, err := os.MkdirTemp("", "consume-example")
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: dir, NoLog: true})
	if err != nil {
		return nil, err
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		return nil, fmt.Errorf("embedded server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return nil, err
	}
	pub, err := publish.New(context.Background(), nc, publish.Config{})
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &embedded{srv: srv, nc: nc, js: js, pub: pub, dir: dir}, nil
}

func (e *embedded) close() {
	e.pub.Close()
	e.nc.Close()
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	os.RemoveAll(e.dir)
}

// move is one status an interaction enters at a second after t0.
type move struct {
	to    bridge.Status
	sec   int
	queue string
	user  string
}

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// publishInteraction derives an interaction's transitions (and timings)
// with the bridge's state machine and publishes them as the bridge does.
func (e *embedded) publishInteraction(id string, ch bridge.ChannelType, moves ...move) error {
	m := bridge.NewMachine(bridge.MachineConfig{})
	for _, mv := range moves {
		at := t0.Add(time.Duration(mv.sec) * time.Second)
		who := bridge.Who{QueueID: mv.queue, UserID: mv.user}
		ev := bridge.Event{InteractionID: id, ChannelType: ch, Status: mv.to, Who: who, Horizon: at, ObservedAt: at,
			Sequenced: true, Steps: []bridge.Step{{Status: mv.to, At: at, Who: who}}}
		out, _ := m.Apply(&ev, nil)
		for i := range out {
			if tm := out[i].Timings; tm != nil {
				r := testkit.NewReceipt()
				e.pub.PublishTimings(context.Background(), tm, r)
				if err := r.Wait(10 * time.Second); err != nil {
					return err
				}
			}
			r := testkit.NewReceipt()
			e.pub.Publish(context.Background(), &out[i], r)
			if err := r.Wait(10 * time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// sample publishes three interactions: an answered voice call in queue
// q-sales, an abandoned chat in q-support, and a voice call still ringing.
func (e *embedded) sample() error {
	for _, err := range []error{
		e.publishInteraction("call-1", bridge.ChannelVoice,
			move{bridge.StatusQueued, 0, "q-sales", ""}, move{bridge.StatusRinging, 12, "q-sales", "agent-7"},
			move{bridge.StatusConnected, 15, "q-sales", "agent-7"}, move{bridge.StatusHeld, 60, "q-sales", "agent-7"},
			move{bridge.StatusConnected, 90, "q-sales", "agent-7"}, move{bridge.StatusWrapup, 200, "q-sales", "agent-7"},
			move{bridge.StatusCompleted, 230, "", ""}),
		e.publishInteraction("chat-1", bridge.ChannelChat,
			move{bridge.StatusQueued, 5, "q-support", ""}, move{bridge.StatusCompleted, 50, "", ""}),
		e.publishInteraction("call-2", bridge.ChannelVoice,
			move{bridge.StatusQueued, 100, "q-sales", ""}, move{bridge.StatusRinging, 110, "q-sales", "agent-3"}),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
