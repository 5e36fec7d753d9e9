package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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
	sim := compose.Services["genesys-sim"]
	i := slices.Index(sim.Command, "-queue-ids")
	if i < 0 || sim.Command[i+1] != bridge.Environment["GENESYS_QUEUE_IDS"] {
		t.Errorf("the simulator's -queue-ids and the bridge's GENESYS_QUEUE_IDS differ")
	}
	if !strings.HasPrefix(bridge.Environment["NATS_URL"], "nats://nats:") {
		t.Errorf("NATS_URL %q does not point at the nats service", bridge.Environment["NATS_URL"])
	}
	if _, ok := compose.Services["nats"]; !ok {
		t.Error("no nats service")
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
		if !slices.Contains(known, name) {
			t.Errorf("the chart sets %s, which the bridge does not read", name)
		}
	}
	for _, name := range known {
		if strings.HasPrefix(name, "NATS_EMBEDDED_") {
			continue
		}
		if !slices.Contains(set, name) {
			t.Errorf("the chart does not set %s", name)
		}
	}
}
