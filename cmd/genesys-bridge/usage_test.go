package main

import (
	"os/exec"
	"strings"
	"testing"
)

// -h lists every variable Config reads, each on its line with its default
// and its meaning, and exits 0; -version names the build.
func TestHelpAndVersion(t *testing.T) {
	out, err := exec.Command(bridgeBinary(t), "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("-h: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	for _, v := range variables() {
		line := ""
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == v.Name {
				line = l
			}
		}
		switch {
		case line == "":
			t.Errorf("-h does not list %s", v.Name)
		case v.Default != "" && !strings.Contains(line, " "+v.Default+" "):
			t.Errorf("-h line of %s lacks its default %q: %s", v.Name, v.Default, line)
		case v.Desc == "" || !strings.Contains(line, v.Desc):
			t.Errorf("-h line of %s lacks its meaning: %s", v.Name, line)
		}
	}
	for _, flag := range []string{"-demo", "-version"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("-h does not list %s", flag)
		}
	}
	out, err = exec.Command(bridgeBinary(t), "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "genesys-bridge ") {
		t.Fatalf("-version: %v: %q", err, out)
	}
}

func TestVersionFromLink(t *testing.T) {
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v1.2.3", "0123abcd"
	if got := versionText(); !strings.HasPrefix(got, "genesys-bridge v1.2.3 commit 0123abcd") {
		t.Fatalf("versionText() = %q", got)
	}
}

func TestUnknownVariables(t *testing.T) {
	env := []string{
		"GENESYS_HEARTBEAT_INTERVL=3s",  // misspelt
		"NATS_ULR=nats://x:4222",        // misspelt
		"GENESYS_HEARTBEAT_INTERVAL=3s", // known
		"HTTP_PROXY=http://proxy:3128",  // another program's
		"PATH=/bin",                     // not ours
		"BRIDGE_DRYRUN=true",
	}
	got := unknownVariables(env)
	want := [][2]string{
		{"GENESYS_HEARTBEAT_INTERVL", "GENESYS_HEARTBEAT_INTERVAL"},
		{"NATS_ULR", "NATS_URL"},
		{"BRIDGE_DRYRUN", "BRIDGE_DRY_RUN"},
	}
	if len(got) != len(want) {
		t.Fatalf("unknownVariables = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("unknownVariables[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"NATS_ULR", "NATS_URL", 2}, {"same", "same", 0}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
