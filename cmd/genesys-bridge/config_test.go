package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// validEnv is a minimal working configuration.
var validEnv = map[string]string{
	"GENESYS_REGION":        "eu-west-1",
	"GENESYS_CLIENT_ID":     "id",
	"GENESYS_CLIENT_SECRET": "do-not-print-me",
	"GENESYS_QUEUE_IDS":     "q1,q2",
}

// environ is vars as KEY=value: tests give the configuration to run and
// loadConfig this way, and never read or change the process's environment.
func environ(vars map[string]string) []string {
	var kv []string
	for k, v := range vars {
		kv = append(kv, k+"="+v)
	}
	return kv
}

func configVars() []string {
	var names []string
	for _, v := range variables() {
		names = append(names, v.Name)
	}
	return names
}

// Whatever one variable holds, loading the configuration ends in a
// configuration or a *ConfigError (exit 2), never a panic, and no error
// quotes the client secret.
func FuzzConfig(f *testing.F) {
	names := configVars()
	for i, seed := range []string{"", "30s", "-1s", "0", "99999999999999999999", "nats://u:p@h:4222", "a,b,,c", "\xff", "debug", "1e3", "tls://x", " "} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		vars := map[string]string{}
		for k, v := range validEnv {
			vars[k] = v
		}
		vars[names[int(which)%len(names)]] = value
		cfg, err := configFrom(vars)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("%s=%q: error %T is not a *ConfigError: %v", names[int(which)%len(names)], value, err, err)
			}
			if secret := vars["GENESYS_CLIENT_SECRET"]; len(secret) >= 4 && strings.Contains(err.Error(), secret) {
				t.Fatalf("the error quotes the client secret: %v", err)
			}
			return
		}
		if cfg == nil {
			t.Fatal("no configuration and no error")
		}
	})
}

// manyIDs is n distinct ids, comma-separated.
func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("q%d", i)
	}
	return strings.Join(ids, ",")
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		del  []string
		demo bool
		want string // the message must contain this
	}{
		{name: "valid", want: ""},
		{name: "demo needs no credentials", del: []string{"GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET", "GENESYS_REGION", "GENESYS_QUEUE_IDS"}, demo: true, want: ""},
		{name: "no client id", del: []string{"GENESYS_CLIENT_ID"}, want: "GENESYS_CLIENT_ID is required"},
		{name: "no secret", del: []string{"GENESYS_CLIENT_SECRET"}, want: "GENESYS_CLIENT_SECRET is required"},
		{name: "no region", del: []string{"GENESYS_REGION"}, want: "GENESYS_REGION"},
		{name: "unknown region", set: map[string]string{"GENESYS_REGION": "moon-1"}, want: "unknown Genesys Cloud region"},
		{name: "bad api url", set: map[string]string{"GENESYS_API_URL": "ftp://x"}, want: "GENESYS_API_URL"},
		{name: "no topics", del: []string{"GENESYS_QUEUE_IDS"}, want: "no topics"},
		{name: "hostile queue id", set: map[string]string{"GENESYS_QUEUE_IDS": "a.>"}, want: "GENESYS_QUEUE_IDS"},
		{name: "bad duration", set: map[string]string{"NATS_ACK_TIMEOUT": "soon"}, want: "NATS_ACK_TIMEOUT"},
		{name: "negative duration", set: map[string]string{"BRIDGE_COMPLETED_GRACE": "-1s"}, want: "BRIDGE_COMPLETED_GRACE must be a positive duration"},
		{name: "bad int", set: map[string]string{"NATS_MAX_PENDING": "many"}, want: "NATS_MAX_PENDING"},
		{name: "processors not a number", set: map[string]string{"GOMAXPROCS": "all"}, want: "GOMAXPROCS"},
		{name: "negative processors", set: map[string]string{"GOMAXPROCS": "-1"}, want: "GOMAXPROCS must be a number of processors, or 0 for Go's default"},
		{name: "zero pending", set: map[string]string{"NATS_MAX_PENDING": "0"}, want: "NATS_MAX_PENDING must be between"},
		{name: "replicas", set: map[string]string{"NATS_STREAM_REPLICAS": "9"}, want: "NATS_STREAM_REPLICAS"},
		{name: "prefix wildcard", set: map[string]string{"NATS_SUBJECT_PREFIX": "genesys.>"}, want: "NATS_SUBJECT_PREFIX"},
		{name: "stream name", set: map[string]string{"NATS_STREAM": "a.b"}, want: "NATS_STREAM"},
		{name: "window over age", set: map[string]string{"NATS_DUPLICATE_WINDOW": "48h", "NATS_STREAM_MAX_AGE": "1h"}, want: "NATS_DUPLICATE_WINDOW"},
		{name: "nats url", set: map[string]string{"NATS_URL": "http://x:4222"}, want: "NATS_URL"},
		{name: "nats url password redacted", set: map[string]string{"NATS_URL": "nats://u:topsecret@"}, want: "NATS_URL"},
		{name: "creds missing", set: map[string]string{"NATS_CREDS": "/nonexistent/x.creds"}, want: "NATS_CREDS"},
		{name: "two ways to authenticate", set: map[string]string{"NATS_TOKEN": "t", "NATS_USER": "u", "NATS_PASSWORD": "p"}, want: "NATS_USER and NATS_TOKEN: set one way"},
		{name: "user without password", set: map[string]string{"NATS_USER": "u"}, want: "NATS_USER and NATS_PASSWORD"},
		{name: "certificate without key", set: map[string]string{"NATS_TLS_CERT_FILE": "/etc/hostname"}, want: "NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE"},
		{name: "CA file missing", set: map[string]string{"NATS_TLS_CA_FILE": "/nonexistent/ca.pem"}, want: "NATS_TLS_CA_FILE: cannot read"},
		{name: "Genesys CA file missing", set: map[string]string{"GENESYS_CA_FILE": "/nonexistent/ca.pem"}, want: "GENESYS_CA_FILE: cannot read"},
		{name: "secret and its file", set: map[string]string{"GENESYS_CLIENT_SECRET_FILE": "/etc/hostname"}, want: "GENESYS_CLIENT_SECRET and GENESYS_CLIENT_SECRET_FILE are both set"},
		{name: "secret file missing", del: []string{"GENESYS_CLIENT_SECRET"}, set: map[string]string{"GENESYS_CLIENT_SECRET_FILE": "/nonexistent/s"}, want: "GENESYS_CLIENT_SECRET_FILE: cannot read"},
		{name: "secret from a file", del: []string{"GENESYS_CLIENT_SECRET"}, set: map[string]string{"GENESYS_CLIENT_SECRET_FILE": "/etc/hostname"}, want: ""},
		{name: "dead letters overlap", set: map[string]string{"NATS_DEAD_LETTER_SUBJECT_PREFIX": "genesys.interactions.dead"}, want: "overlaps"},
		{name: "channel filter", set: map[string]string{"BRIDGE_CHANNEL_TYPES": "voice,fax"}, want: "BRIDGE_CHANNEL_TYPES"},
		{name: "status filter", set: map[string]string{"BRIDGE_STATUSES": "queued,lost"}, want: "BRIDGE_STATUSES"},
		{name: "http addr", set: map[string]string{"HTTP_ADDR": "8080"}, want: "HTTP_ADDR"},
		{name: "pprof addr", set: map[string]string{"PPROF_ADDR": "6060"}, want: "PPROF_ADDR: \"6060\" is not host:port"},
		{name: "pprof on the metrics' address", set: map[string]string{"PPROF_ADDR": ":8080"}, want: "PPROF_ADDR: the profiler has a listener of its own"},
		{name: "log level", set: map[string]string{"LOG_LEVEL": "loud"}, want: "LOG_LEVEL"},
		{name: "log format", set: map[string]string{"LOG_FORMAT": "xml"}, want: "LOG_FORMAT"},
		{name: "heartbeat", set: map[string]string{"GENESYS_HEARTBEAT_INTERVAL": "10ms"}, want: "GENESYS_HEARTBEAT_INTERVAL"},
		{name: "frame size", set: map[string]string{"GENESYS_MAX_FRAME_BYTES": "10"}, want: "GENESYS_MAX_FRAME_BYTES"},
		{name: "media-suffixed topic", set: map[string]string{"GENESYS_TOPICS": "v2.routing.queues.q1.conversations.calls"}, want: "media-suffixed topics carry a flattened participant"},
		{name: "summaries topic", set: map[string]string{"GENESYS_TOPICS": "v2.users.u1.conversations.summaries"}, want: "summaries topic"},
		{name: "request pace", set: map[string]string{"GENESYS_REQUESTS_PER_MINUTE": "0"}, want: "GENESYS_REQUESTS_PER_MINUTE must be between"},
		{name: "agents mode", set: map[string]string{"GENESYS_AGENTS": "all"}, want: "GENESYS_AGENTS must be members, list or none"},
		{name: "agents list without ids", set: map[string]string{"GENESYS_AGENTS": "list"}, want: "GENESYS_AGENTS=list needs GENESYS_AGENT_IDS"},
		{name: "no agents but ids", set: map[string]string{"GENESYS_AGENTS": "none", "GENESYS_AGENT_IDS": "u1"}, want: "GENESYS_AGENTS=none, but GENESYS_AGENT_IDS"},
		{name: "agents in the tutorial's dialect", set: map[string]string{"GENESYS_DIALECT": "interactions", "GENESYS_AGENTS": "none"}, del: []string{"GENESYS_QUEUE_IDS"}, want: "carries no agents"},
		{name: "further OAuth clients", set: map[string]string{"GENESYS_CLIENTS": "c2:/etc/hostname, c3:/etc/hostname"}, want: ""},
		{name: "further client without its file", set: map[string]string{"GENESYS_CLIENTS": "c2"}, want: `GENESYS_CLIENTS: "c2" is not <client id>:<secret file>`},
		{name: "further client listed twice", set: map[string]string{"GENESYS_CLIENTS": "c2:/etc/hostname,c2:/etc/hostname"}, want: "client c2 is listed twice"},
		{name: "further client's file missing", set: map[string]string{"GENESYS_CLIENTS": "c2:/nonexistent/s"}, want: "GENESYS_CLIENTS (client c2): cannot read /nonexistent/s"},
		{name: "further clients in the tutorial's dialect", set: map[string]string{"GENESYS_DIALECT": "interactions", "GENESYS_CLIENTS": "c2:/etc/hostname"}, del: []string{"GENESYS_QUEUE_IDS"}, want: "holds one stream with one client"},
		{name: "more topics than one client holds", set: map[string]string{"GENESYS_QUEUE_IDS": manyIDs(9501)}, want: "19002 topics (9501 conversation, 9501 queue membership, 0 agent activity, 0 other) in 20 channels of 1000 need 2 OAuth clients, and 1 are configured"},
		{name: "lease TTL", set: map[string]string{"BRIDGE_LEASE_TTL": "500ms"}, want: "BRIDGE_LEASE_TTL must be at least 1s"},
		{name: "back-fill wait under the lag", set: map[string]string{"GENESYS_BACKFILL_LAG": "2m", "GENESYS_BACKFILL_MAX_WAIT": "1m"}, want: "GENESYS_BACKFILL_MAX_WAIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range validEnv {
				env[k] = v
			}
			for _, k := range tt.del {
				delete(env, k)
			}
			for k, v := range tt.set {
				env[k] = v
			}
			cfg, err := loadConfig(lookupIn(environ(env)), tt.demo)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				// Two queues: their conversations and, agents being their
				// members by default, their membership.
				if !tt.demo && (len(cfg.topics) != 4 || cfg.endpoints.API != "https://api.mypurecloud.ie") {
					t.Fatalf("topics %v endpoints %+v", cfg.topics, cfg.endpoints)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "do-not-print-me") || strings.Contains(err.Error(), "topsecret") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestDefaultText(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{168 * time.Hour, "168h"}, {90 * time.Minute, "1h30m"}, {2 * time.Minute, "2m"}, {30 * time.Second, "30s"},
		{500 * time.Millisecond, "500ms"}, {slog.LevelInfo, "info"}, {4096, "4096"}, {"", ""}, {[]string{"a", "b"}, "a,b"},
	} {
		if got := defaultText(reflect.ValueOf(tc.v)); got != tc.want {
			t.Errorf("defaultText(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// Every default comes from defaultConfig, which takes the packages' own:
// no default tag may repeat (and drift from) them (read ignores one).
func TestNoDefaultTags(t *testing.T) {
	rt := reflect.TypeFor[Config]()
	for i := range rt.NumField() {
		if def, ok := rt.Field(i).Tag.Lookup("default"); ok {
			t.Errorf("%s has a default tag %q; set it in defaultConfig", rt.Field(i).Name, def)
		}
	}
}

// Each kind of setting is read from the lookup function as its type; a
// value that is not one is a ConfigError naming the variable, which
// unwraps to the parser's error.
func TestConfigReadsEachKind(t *testing.T) {
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for k, v := range validEnv {
			m[k] = v
		}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name, value string
		got         func(*Config) any
		want        any
	}{
		{"NATS_STREAM", "S1", func(c *Config) any { return c.NATSStream }, "S1"},
		{"GOMAXPROCS", "4", func(c *Config) any { return c.BridgeProcessors }, 4},
		{"NATS_TLS_HANDSHAKE_FIRST", "true", func(c *Config) any { return c.NATSTLSFirst }, true},
		{"NATS_MAX_PENDING", "0x40", func(c *Config) any { return c.NATSMaxPending }, 64},
		{"NATS_DEAD_LETTER_MAX_BYTES", "1048576", func(c *Config) any { return c.NATSDLMaxBytes }, int64(1 << 20)},
		{"NATS_ACK_TIMEOUT", "7s", func(c *Config) any { return c.NATSAckTimeout }, 7 * time.Second},
		{"GENESYS_USER_IDS", "u1,u2", func(c *Config) any { return strings.Join(c.GenesysUserIDs, "|") }, "u1|u2"},
		{"GENESYS_USER_IDS", " ", func(c *Config) any { return len(c.GenesysUserIDs) }, 0},
		{"LOG_LEVEL", "warn", func(c *Config) any { return c.LogLevel }, slog.LevelWarn},
		{"GENESYS_CLIENT_SECRET", "other", func(c *Config) any { return string(c.GenesysClientSecret) }, "other"},
	} {
		cfg, err := configFrom(with(tc.name, tc.value))
		if err != nil {
			t.Errorf("%s=%q: %v", tc.name, tc.value, err)
			continue
		}
		if got := tc.got(cfg); got != tc.want {
			t.Errorf("%s=%q: read %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name, value string
		cause       error
	}{
		{"NATS_TLS_HANDSHAKE_FIRST", "maybe", strconv.ErrSyntax},
		{"NATS_MAX_PENDING", "99999999999999999999", strconv.ErrRange},
		{"NATS_MAX_PENDING", "ten", strconv.ErrSyntax},
	} {
		_, err := configFrom(with(tc.name, tc.value))
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, tc.cause) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%q: %v (%T), want a ConfigError naming it that unwraps to %v", tc.name, tc.value, err, err, tc.cause)
		}
	}
}

func TestConfigFilters(t *testing.T) {
	env := map[string]string{"BRIDGE_CHANNEL_TYPES": "voice, Chat", "BRIDGE_STATUSES": "queued,CONNECTED"}
	for k, v := range validEnv {
		env[k] = v
	}
	cfg, err := configFrom(env)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.filter.ChannelTypes) != 2 || cfg.filter.ChannelTypes[1] != "chat" || cfg.filter.Statuses[1] != "connected" {
		t.Fatalf("filter %+v", cfg.filter)
	}
}

// The README's configuration table names every variable the bridge reads,
// with its default.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rt, defaults := reflect.TypeFor[Config](), reflect.ValueOf(defaultConfig())
	for i := range rt.NumField() {
		f := rt.Field(i)
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		row := ""
		for _, line := range strings.Split(string(readme), "\n") {
			if strings.HasPrefix(line, "| `"+name+"`") {
				row = line
			}
		}
		if row == "" {
			t.Errorf("README.md has no table row for %s", name)
			continue
		}
		if def := defaultText(defaults.Field(i)); def != "" && !strings.Contains(row, "| `"+def+"` |") {
			t.Errorf("README.md row for %s does not give the default `%s`", name, def)
		}
	}
}

// -demo shows the board where it serves HTTP, and runs without both.
func TestDemoBoard(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", ""} {
		cfg, err := loadConfig(lookupIn([]string{"HTTP_ADDR=" + addr}), true)
		if err != nil {
			t.Fatalf("HTTP_ADDR=%q: %v", addr, err)
		}
		if cfg.BoardEnabled != (addr != "") {
			t.Errorf("HTTP_ADDR=%q: board enabled %v", addr, cfg.BoardEnabled)
		}
	}
}

// run takes flags and configuration as arguments and returns the exit
// code (main only exits with it): a bad flag or setting is 2, told on
// stderr, and -check prints the failed step.
func TestRunExitCodes(t *testing.T) {
	bad := environ(map[string]string{"GENESYS_REGION": "eu-west-1", "NATS_STREAM": "no spaces allowed"})
	for _, tc := range []struct {
		name         string
		args, env    []string
		code         int
		stdout, errs string
	}{
		{"version", []string{"-version"}, nil, exitOK, "genesys-bridge", ""},
		{"unknown flag", []string{"-nope"}, nil, exitConfig, "", "flag provided but not defined"},
		{"bad configuration", nil, bad, exitConfig, "", "configuration:"},
		{"check, bad configuration", []string{"-check"}, bad, exitConfig, "FAIL  configuration", "configuration:"},
	} {
		var stdout, stderr strings.Builder
		if code := run(tc.args, tc.env, &stdout, &stderr); code != tc.code ||
			!strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.errs) {
			t.Errorf("%s: exit %d, want %d; stdout %q (want %q); stderr %q (want %q)", tc.name, code, tc.code, stdout.String(), tc.stdout, stderr.String(), tc.errs)
		}
	}
}

// The bridge runs on one processor unless GOMAXPROCS says otherwise; 0
// leaves Go's default as the runtime chose it.
func TestProcessors(t *testing.T) {
	saved := setProcessors
	t.Cleanup(func() { setProcessors = saved })
	for _, tc := range []struct {
		env  string
		want int // what the bridge sets, 0 for nothing
	}{{"", 1}, {"1", 1}, {"3", 3}, {"0", 0}} {
		env := map[string]string{}
		for k, v := range validEnv {
			env[k] = v
		}
		if tc.env != "" {
			env["GOMAXPROCS"] = tc.env
		}
		cfg, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, false)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		setProcessors = func(n int) { got = n }
		applyProcessors(cfg)
		if got != tc.want {
			t.Errorf("GOMAXPROCS=%q: the bridge set %d processors, want %d", tc.env, got, tc.want)
		}
	}
}
