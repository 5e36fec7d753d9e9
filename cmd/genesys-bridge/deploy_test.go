package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"go.yaml.in/yaml/v3"

	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/interactions"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// docker-compose.yml parses, wires the bridge to NATS and the simulator,
// and sets only variables the bridge reads. (No Docker engine runs here,
// so the file is checked by parsing.)
func TestDockerCompose(t *testing.T) {
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	bridge, ok := compose.Services["genesys-bridge"]
	if !ok {
		t.Fatal("no genesys-bridge service")
	}
	known := configVars()
	for name := range bridge.Environment {
		if !slices.Contains(known, name) {
			t.Errorf("docker-compose.yml sets %s, which the bridge does not read", name)
		}
	}
	// In a container the host's browser is no loopback client: the board
	// needs credentials, from the file compose mounts.
	if bridge.Environment["BOARD_ENABLED"] == "true" {
		if bridge.Environment["BOARD_BASIC_AUTH_FILE"] != "/run/secrets/board-credentials" {
			t.Error("the board is on without BOARD_BASIC_AUTH_FILE: the host's browser would be refused")
		}
		if b, err := os.ReadFile("../../deploy/compose/board-credentials"); err != nil || !strings.Contains(string(b), ":") {
			t.Errorf("deploy/compose/board-credentials: %v (want user:password)", err)
		}
	}
	sim := compose.Services["genesys-sim"]
	i := slices.Index(sim.Command, "-queue-ids")
	if i < 0 || sim.Command[i+1] != bridge.Environment["GENESYS_QUEUE_IDS"] {
		t.Errorf("the simulator's -queue-ids and the bridge's GENESYS_QUEUE_IDS differ")
	}
	if !strings.HasPrefix(bridge.Environment["NATS_URL"], "nats://nats:") {
		t.Errorf("NATS_URL %q does not point at the nats service", bridge.Environment["NATS_URL"])
	}
	nats, ok := compose.Services["nats"]
	if !ok {
		t.Fatal("no nats service")
	}
	// The server compose runs is the one the bridge embeds and the tests run.
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/nats-io/nats-server/v2 v(\d+\.\d+)\.`).FindSubmatch(gomod)
	if m == nil || !strings.HasPrefix(nats.Image, "nats:"+string(m[1])+"-") && nats.Image != "nats:"+string(m[1]) {
		t.Errorf("the nats service runs %s; go.mod embeds nats-server %s", nats.Image, m[1])
	}
	if w, ok := compose.Services["watch"]; !ok || !slices.Contains(w.Command, "genesys.interactions.>") {
		t.Error("no watch service subscribing to the transitions")
	}
}

// The Helm chart sets every variable the bridge reads (except those of the
// embedded server, which the chart never uses) and no other.
func TestHelmChartEnv(t *testing.T) {
	data, err := os.ReadFile("../../deploy/helm/genesys-bridge/templates/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var set []string
	for _, m := range regexp.MustCompile(`- name: ([A-Z][A-Z0-9_]+)`).FindAllStringSubmatch(string(data), -1) {
		set = append(set, m[1])
	}
	known := configVars()
	for _, name := range set {
		if !slices.Contains(known, name) && name != "GOMEMLIMIT" { // the Go runtime's
			t.Errorf("the chart sets %s, which the bridge does not read", name)
		}
	}
	// Secrets the chart mounts as files (their *_FILE twin), and the
	// client secret it passes from a Secret as it is.
	byFile := []string{"NATS_PASSWORD", "NATS_TOKEN", "GENESYS_CLIENT_SECRET_FILE"}
	for _, name := range known {
		if strings.HasPrefix(name, "NATS_EMBEDDED_") || slices.Contains(byFile, name) {
			continue
		}
		if !slices.Contains(set, name) {
			t.Errorf("the chart does not set %s", name)
		}
	}
}

// Every metric the Grafana dashboard queries is one the bridge registers
// (with either dialect), or the process collector's.
func TestGrafanaDashboardMetrics(t *testing.T) {
	data, err := os.ReadFile("../../deploy/grafana/genesys-bridge.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	registered := map[string]bool{}
	client := genesys.NewClient(genesys.ClientConfig{Endpoints: genesys.Endpoints{API: "http://x", Login: "http://x"}, ClientID: "id", ClientSecret: "s"})
	notifications, err := genesys.NewStream(genesys.StreamConfig{Clients: []*genesys.Client{client}, Topics: []string{"v2.users.u1.conversations"}})
	if err != nil {
		t.Fatal(err)
	}
	interactions, err := interactions.New(interactions.Config{Client: client, APIURL: "http://x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []source{notifications, interactions} {
		m := newMetrics()
		m.register(new(engine.Stats), src, []*genesys.Client{client}, &nats.Conn{}, &publish.JetStream{}, &publish.DeadLetters{})
		m.registerSharing(sharing{leases: &publish.Leases{}})
		families, err := m.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			registered[f.GetName()] = true
		}
	}
	metric := regexp.MustCompile(`\b(genesys_bridge_[a-z0-9_]+|process_[a-z0-9_]+)`)
	queried := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range metric.FindAllString(tg.Expr, -1) {
				queried++
				base := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suffix); ok && registered[b] {
						base = b
					}
				}
				if !registered[base] {
					t.Errorf("panel %q queries %s, which the bridge does not register", p.Title, name)
				}
			}
		}
	}
	if queried < 20 {
		t.Fatalf("only %d metric references found in the dashboard", queried)
	}
	// The chart ships the same file.
	chartCopy, err := os.ReadFile("../../deploy/helm/genesys-bridge/dashboards/genesys-bridge.json")
	if err != nil || string(chartCopy) != string(data) {
		t.Errorf("the chart's dashboard is not deploy/grafana's (a symlink): %v", err)
	}
}
