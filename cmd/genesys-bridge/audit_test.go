package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// readAudit decodes every line of an audit file by the documented names.
func readAudit(t *testing.T, path string) []auditLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []auditLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var l auditLine
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// Every transition in the stream has its audit line, with the seed's
// fields and the same id, interaction, statuses and subject.
func TestAuditLogMatchesTheStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	h := startHarness(t, simulator.Config{Conversations: 40}, map[string]string{"AUDIT_LOG": path})
	h.finish()
	inStream := map[string]published{}
	for _, p := range readStream(t, h.nats, h.cfg.NATSStream) {
		if !isAgentSubject(p.Subject, h.cfg.NATSPrefix) { // the audit log is the interactions' record
			inStream[p.MsgID] = p
		}
	}
	seen := map[string]bool{}
	for _, l := range readAudit(t, path) {
		if l.Duplicate {
			continue // a retry's acknowledgement: its first line is there too, or it was stored by an earlier attempt
		}
		p, ok := inStream[l.TransitionID]
		if !ok {
			t.Errorf("audit line for %s, which is not in the stream", l.TransitionID)
			continue
		}
		seen[l.TransitionID] = true
		prev := "null"
		if l.PreviousStatus != nil {
			prev = *l.PreviousStatus
		}
		from := "null"
		if p.Body.FromStatus != nil {
			from = *p.Body.FromStatus
		}
		occurred, _ := time.Parse(time.RFC3339Nano, p.Body.OccurredAt)
		event, err := time.Parse(time.RFC3339Nano, l.EventTimestamp)
		if l.Type != "INTERACTION_STATE_CHANGE" || l.InteractionID != p.Body.InteractionID || l.ChannelType != p.Body.ChannelType ||
			prev != from || l.CurrentStatus != p.Body.ToStatus || l.Subject != p.Subject || err != nil || !event.Equal(occurred) {
			t.Errorf("audit line %+v does not match the stream's %+v", l, p)
		}
		if _, err := time.Parse(time.RFC3339Nano, l.Timestamp); err != nil {
			t.Errorf("timestamp %q: %v", l.Timestamp, err)
		}
	}
	if len(seen) != len(inStream) {
		t.Errorf("%d transitions in the stream have an audit line, of %d", len(seen), len(inStream))
	}
}

// After logrotate moves the file, SIGHUP makes the bridge write a new one;
// the moved file keeps what was written before.
func TestAuditLogReopensOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	cmd := exec.Command(bridgeBinary(t), "-demo")
	cmd.Env = append(os.Environ(), "AUDIT_LOG="+path, "NATS_EMBEDDED_ADDR=127.0.0.1:0", "NATS_EMBEDDED_STORE_DIR="+filepath.Join(dir, "nats"), "HTTP_ADDR=")
	var out testkit.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := func(p string) int {
		data, _ := os.ReadFile(p)
		return bytes.Count(data, []byte("\n"))
	}
	testkit.Eventually(t, time.Minute, "audit lines", func() bool { return lines(path) >= 3 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, time.Minute, "audit lines in a new file after SIGHUP", func() bool { return lines(path) >= 3 })
	before := lines(path + ".1")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bridge: %v\n%s", err, out.String())
	}
	if lines(path+".1") != before {
		t.Error("the moved file was written after SIGHUP")
	}
	if !strings.Contains(out.String(), "audit log reopened") {
		t.Errorf("no log line for the reopen:\n%s", out.String())
	}
	readAudit(t, path)
	readAudit(t, path+".1")
}
