package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// auditLog writes one JSON line per acknowledged transition (AUDIT_LOG):
// the seed's fields (timestamp, type, interactionId, channelType,
// previousStatus, currentStatus, eventTimestamp) and the transition id
// and subject. Lines are buffered and written every 200 ms and at close; a
// file is reopened on SIGHUP (after logrotate moved it). A write that
// fails is logged, and publishing goes on.
type auditLog struct {
	log    *slog.Logger
	path   string // "" for stdout
	prefix string
	dryRun bool

	mu      sync.Mutex
	out     io.Writer
	f       *os.File // when path is set
	buf     []byte
	failing bool // the last write failed (logged once until one succeeds)

	hup  chan os.Signal
	stop chan struct{}
	wg   sync.WaitGroup
}

// auditLine is one line; field names are stable.
type auditLine struct {
	Timestamp      string  `json:"timestamp"` // when the stream acknowledged it
	Type           string  `json:"type"`
	InteractionID  string  `json:"interactionId"`
	ChannelType    string  `json:"channelType"`
	PreviousStatus *string `json:"previousStatus"` // null for an interaction's first
	CurrentStatus  string  `json:"currentStatus"`
	EventTimestamp string  `json:"eventTimestamp"` // when Genesys says it happened
	TransitionID   string  `json:"transitionId"`
	Subject        string  `json:"subject"`
	Duplicate      bool    `json:"duplicate,omitempty"` // the stream already held it (a retry, another replica)
	DryRun         bool    `json:"dryRun,omitempty"`    // BRIDGE_DRY_RUN: derived, not published
}

// openAudit opens the audit log AUDIT_LOG names, or returns nil when it is
// off. stdout is where "stdout" writes.
func openAudit(cfg *Config, log *slog.Logger, stdout io.Writer) (*auditLog, error) {
	if cfg.AuditLog == "" {
		return nil, nil
	}
	a := &auditLog{log: log, prefix: cfg.NATSPrefix, dryRun: cfg.BridgeDryRun, out: stdout, stop: make(chan struct{})}
	if cfg.AuditLog != "stdout" {
		a.path = cfg.AuditLog
		if err := a.reopen(); err != nil {
			return nil, configErr("AUDIT_LOG: %w", err)
		}
		a.hup = make(chan os.Signal, 1)
		signal.Notify(a.hup, syscall.SIGHUP)
	}
	a.wg.Go(a.run)
	log.Info("audit log on", "to", cfg.AuditLog)
	return a, nil
}

func (a *auditLog) run() {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			a.mu.Lock()
			a.flushLocked()
			a.mu.Unlock()
		case <-a.hup: // nil for stdout
			if err := a.reopen(); err != nil {
				a.log.Error("audit log: reopen failed; still writing to the old file", "path", a.path, "err", err)
			} else {
				a.log.Info("audit log reopened", "path", a.path)
			}
		case <-a.stop:
			return
		}
	}
}

// reopen writes what is buffered to the current file, then opens the path
// anew (appending) and closes the old file.
func (a *auditLog) reopen() error {
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flushLocked()
	if a.f != nil {
		a.f.Close()
	}
	a.f, a.out = f, f
	return nil
}

// write adds the line of one acknowledged transition. It is called from
// the pipeline's shards and does not block on the disk.
func (a *auditLog) write(t *bridge.Transition, duplicate bool, ackedAt time.Time) {
	if t.Agent != nil {
		return // the audit log is the tutorial's record of interactions
	}
	line := auditLine{
		Timestamp: ackedAt.UTC().Format(time.RFC3339Nano), Type: "INTERACTION_STATE_CHANGE",
		InteractionID: t.InteractionID, ChannelType: string(t.ChannelType), CurrentStatus: string(t.ToStatus),
		EventTimestamp: t.OccurredAt.UTC().Format(time.RFC3339Nano), TransitionID: t.ID,
		Subject: publish.Subject(a.prefix, t), Duplicate: duplicate, DryRun: a.dryRun,
	}
	if t.FromStatus != "" {
		from := string(t.FromStatus)
		line.PreviousStatus = &from
	}
	b, err := json.Marshal(line)
	if err != nil { // strings and bools only: cannot happen
		a.log.Error("audit log: encode", "err", err)
		return
	}
	a.mu.Lock()
	a.buf = append(append(a.buf, b...), '\n')
	if len(a.buf) >= 256<<10 {
		a.flushLocked()
	}
	a.mu.Unlock()
}

func (a *auditLog) flushLocked() {
	if len(a.buf) == 0 {
		return
	}
	_, err := a.out.Write(a.buf)
	a.buf = a.buf[:0]
	switch {
	case err != nil && !a.failing:
		a.failing = true
		a.log.Error("audit log: write failed; lines are lost until it works again", "to", a.where(), "err", err)
	case err == nil && a.failing:
		a.failing = false
		a.log.Info("audit log: writing again", "to", a.where())
	}
}

func (a *auditLog) where() string {
	if a.path == "" {
		return "stdout"
	}
	return a.path
}

// close writes what is buffered and closes the file.
func (a *auditLog) close() {
	if a == nil {
		return
	}
	if a.hup != nil {
		signal.Stop(a.hup)
	}
	close(a.stop)
	a.wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flushLocked()
	if a.f != nil {
		if err := a.f.Close(); err != nil {
			a.log.Error("audit log: close", "path", a.path, "err", fmt.Sprint(err))
		}
	}
}
