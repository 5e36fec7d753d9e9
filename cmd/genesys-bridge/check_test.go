package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// -check runs each step once against a real simulator and NATS: all pass
// (exit 0), or the failing step says why (exit 1), or the configuration
// is refused (exit 2).
func TestCheck(t *testing.T) {
	sim, err := simulator.Start(simulator.Config{Seed: 7, Clients: map[string]string{"client-2": "secret-2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "MEMORY", Subjects: []string{"mem.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	queue := sim.Population().Queues[0]
	secretFile := func(v string) string {
		f := t.TempDir() + "/secret"
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	base := []string{"GENESYS_CLIENT_ID=sim-client", "GENESYS_CLIENT_SECRET=sim-secret", "GENESYS_API_URL=" + sim.URL,
		"GENESYS_LOGIN_URL=" + sim.URL, "GENESYS_QUEUE_IDS=" + queue, "NATS_URL=" + ns.URL}
	for _, tc := range []struct {
		name  string
		env   []string
		exit  int
		lines []string // each must appear in the output
	}{
		{"all pass", nil, 0, []string{"OK    configuration", "OK    Genesys token", "OK    Genesys channel", "all 2 topics permitted; subscriptions removed",
			"OK    Genesys queue members  12 agents; 14 topics (1 conversation, 1 queue membership, 12 agent activity, 0 other) in 1 channels of 1000",
			"OK    Genesys analytics", "OK    NATS", "OK    JetStream", "OK    stream GENESYS_INTERACTIONS", "OK    stream GENESYS_DEAD_LETTERS"}},
		{"a further client", []string{"GENESYS_CLIENTS=client-2:" + secretFile("secret-2")}, 0, []string{"OK    Genesys token 2/2", "OAuth client client-2, valid until",
			"in 1 channels of 1000; 1 of 2 OAuth clients needed"}},
		{"a further client refused", []string{"GENESYS_CLIENTS=client-3:" + secretFile("secret-3")}, 1, []string{"FAIL  Genesys token 2/2", "OAuth client client-3: genesys: client credentials refused"}},
		{"wrong secret", []string{"GENESYS_CLIENT_SECRET=wrong"}, 1, []string{"FAIL  Genesys token", "SKIP  Genesys channel", "OK    NATS"}},
		{"topic not permitted", []string{"GENESYS_USER_IDS=00000000-0000-4000-8000-000000000000"}, 1,
			[]string{"FAIL  Genesys channel", "1 of 3 topics rejected: v2.users.00000000-0000-4000-8000-000000000000.conversations"}},
		{"stream in memory", []string{"NATS_STREAM=MEMORY", "NATS_SUBJECT_PREFIX=mem"}, 1, []string{"FAIL  stream MEMORY", "Memory storage"}},
		{"NATS refused", []string{"NATS_URL=nats://127.0.0.1:1"}, 1, []string{"FAIL  NATS", "connection refused"}},
		{"bad configuration", []string{"NATS_MAX_PENDING=0"}, 2, []string{"FAIL  configuration", "NATS_MAX_PENDING"}},
		{"board with queue names", []string{"BOARD_ENABLED=true"}, 0, []string{"OK    Genesys queue names", `is "Queue 1"`}},
		{"board on a dry run", []string{"BOARD_ENABLED=true", "BRIDGE_DRY_RUN=true"}, 2, []string{"FAIL  configuration", "BOARD_ENABLED reads the stream"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bridgeBinary(t), "-check")
			cmd.Env = append(append(os.Environ(), base...), tc.env...)
			out, err := cmd.Output()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.exit {
				t.Errorf("exit %d, want %d", code, tc.exit)
			}
			for _, want := range tc.lines {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(string(out), "sim-secret") || strings.Contains(string(out), "secret-2") || strings.Contains(string(out), "secret-3") {
				t.Error("the output quotes the client secret")
			}
		})
	}
}
