package main

import (
	"encoding"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/board"
	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// Config is every setting of the bridge, read from the environment over
// defaultConfig. The README's configuration table lists the same variables
// and defaults; keep them in step (TestREADMEListsEveryVariable checks).
type Config struct {
	GenesysDialect           string         `env:"GENESYS_DIALECT" desc:"notifications (the Notification Service) or interactions (the tutorial's stream)"`
	GenesysRegion            string         `env:"GENESYS_REGION" desc:"Genesys Cloud region name (eu-west-1) or domain (mypurecloud.ie)"`
	GenesysClientID          string         `env:"GENESYS_CLIENT_ID" desc:"OAuth client-credentials client id"`
	GenesysClientSecret      genesys.Secret `env:"GENESYS_CLIENT_SECRET" desc:"OAuth client secret (never logged)"`
	GenesysSecretFile        string         `env:"GENESYS_CLIENT_SECRET_FILE" desc:"read the client secret from this file instead (a mounted secret)"`
	GenesysClients           []string       `env:"GENESYS_CLIENTS" desc:"further OAuth clients of the same org, comma-separated <client id>:<secret file>; the channels are spread over every client (each holds 19 channels of 1,000 topics and is paced on its own by GENESYS_REQUESTS_PER_MINUTE), and a client whose login is refused hands its channels to the others"`
	GenesysCAFile            string         `env:"GENESYS_CA_FILE" desc:"PEM file of further CAs to trust for Genesys (REST and WebSocket), for a TLS-inspecting proxy; HTTPS_PROXY/NO_PROXY are honoured"`
	GenesysAPIURL            string         `env:"GENESYS_API_URL" desc:"override the API base URL (default https://api.<domain>)"`
	GenesysLoginURL          string         `env:"GENESYS_LOGIN_URL" desc:"override the login base URL (default https://login.<domain>)"`
	GenesysQueueIDs          []string       `env:"GENESYS_QUEUE_IDS" desc:"comma-separated queue ids; each subscribes v2.routing.queues.{id}.conversations"`
	GenesysUserIDs           []string       `env:"GENESYS_USER_IDS" desc:"comma-separated user ids; each subscribes v2.users.{id}.conversations"`
	GenesysAgents            string         `env:"GENESYS_AGENTS" desc:"which agents' routing status and presence to publish (on <prefix>.agents.<routingStatus>.<userId>): members (the members of GENESYS_QUEUE_IDS, listed at start and followed as they join, plus GENESYS_AGENT_IDS), list (GENESYS_AGENT_IDS only) or none"`
	GenesysAgentIDs          []string       `env:"GENESYS_AGENT_IDS" desc:"comma-separated user ids of agents; each subscribes v2.users.{id}.activity"`
	GenesysTopics            []string       `env:"GENESYS_TOPICS" desc:"comma-separated extra topics, verbatim"`
	GenesysHeartbeat         time.Duration  `env:"GENESYS_HEARTBEAT_INTERVAL" desc:"expected heartbeat period; silence for twice this kills the socket"`
	GenesysMaxFrame          int64          `env:"GENESYS_MAX_FRAME_BYTES" desc:"larger frames are rejected and counted"`
	GenesysRefreshAhead      time.Duration  `env:"GENESYS_TOKEN_REFRESH_AHEAD" desc:"replace the access token this long before it expires"`
	GenesysRequestsPerMinute int            `env:"GENESYS_REQUESTS_PER_MINUTE" desc:"pace of REST requests to Genesys (a token bucket with ten seconds' worth of burst; Genesys answers an OAuth client beyond about 300 a minute with 429)"`
	GenesysChannelMargin     time.Duration  `env:"GENESYS_CHANNEL_MARGIN" desc:"replace a channel this long before its 24 h expiry"`
	GenesysResumeLookback    time.Duration  `env:"GENESYS_RESUME_LOOKBACK" desc:"on start, load the state of every interaction with a transition this long before the stream's last message, and back-fill the downtime for those open (0: no resume)"`
	GenesysBackfillLag       time.Duration  `env:"GENESYS_BACKFILL_LAG" desc:"how far Genesys analytics lags: a gap's history is queried this long after the gap"`
	GenesysBackfillMaxWait   time.Duration  `env:"GENESYS_BACKFILL_MAX_WAIT" desc:"after a gap, hold back the frames of interactions that may have changed in it at most this long for their history; then publish them marked incomplete"`

	NATSURL          string         `env:"NATS_URL" desc:"NATS server URL(s), comma-separated; empty starts an embedded server"`
	NATSCreds        string         `env:"NATS_CREDS" desc:"path of a NATS credentials (.creds) file (JWT and nkey)"`
	NATSNkeySeedFile string         `env:"NATS_NKEY_SEED_FILE" desc:"path of an nkey seed file (user nkey authentication)"`
	NATSUser         string         `env:"NATS_USER" desc:"user name (with NATS_PASSWORD)"`
	NATSPassword     genesys.Secret `env:"NATS_PASSWORD" desc:"password of NATS_USER (never logged)"`
	NATSPasswordFile string         `env:"NATS_PASSWORD_FILE" desc:"read NATS_PASSWORD from this file instead"`
	NATSToken        genesys.Secret `env:"NATS_TOKEN" desc:"authentication token (never logged)"`
	NATSTokenFile    string         `env:"NATS_TOKEN_FILE" desc:"read NATS_TOKEN from this file instead"`
	NATSTLSCAFile    string         `env:"NATS_TLS_CA_FILE" desc:"PEM file of the CA(s) that sign the server's certificate"`
	NATSTLSCertFile  string         `env:"NATS_TLS_CERT_FILE" desc:"client certificate (PEM) for mutual TLS, with NATS_TLS_KEY_FILE"`
	NATSTLSKeyFile   string         `env:"NATS_TLS_KEY_FILE" desc:"the client certificate's private key (PEM)"`
	NATSTLSFirst     bool           `env:"NATS_TLS_HANDSHAKE_FIRST" desc:"start with the TLS handshake, before the server's INFO (servers set to handshake_first)"`
	NATSStream       string         `env:"NATS_STREAM" desc:"JetStream stream name"`
	NATSPrefix       string         `env:"NATS_SUBJECT_PREFIX" desc:"subject prefix; the stream covers <prefix>.>"`
	NATSTimings      string         `env:"NATS_TIMINGS_SUBJECT_PREFIX" desc:"completed interactions' timings go to <prefix>.<channel>.<id>, in the same stream; must not overlap NATS_SUBJECT_PREFIX"`
	NATSMaxAge       time.Duration  `env:"NATS_STREAM_MAX_AGE" desc:"how long the stream keeps transitions"`
	NATSDuplicates   time.Duration  `env:"NATS_DUPLICATE_WINDOW" desc:"the stream's duplicate window for Nats-Msg-Id"`
	NATSReplicas     int            `env:"NATS_STREAM_REPLICAS" desc:"stream replicas (1, 3 or 5 in a cluster)"`
	NATSAckTimeout   time.Duration  `env:"NATS_ACK_TIMEOUT" desc:"wait this long for a publish acknowledgement before retrying with the same id"`
	NATSMaxPending   int            `env:"NATS_MAX_PENDING" desc:"transitions in flight (unacknowledged) before reading pauses"`
	NATSDeadLetters  bool           `env:"NATS_DEAD_LETTERS" desc:"store every rejected frame (bounded body, reason, error, topic, time) in a stream of its own"`
	NATSDLStream     string         `env:"NATS_DEAD_LETTER_STREAM" desc:"the dead letters' stream"`
	NATSDLPrefix     string         `env:"NATS_DEAD_LETTER_SUBJECT_PREFIX" desc:"dead letters go to <prefix>.<reason>; must not overlap NATS_SUBJECT_PREFIX"`
	NATSDLMaxAge     time.Duration  `env:"NATS_DEAD_LETTER_MAX_AGE" desc:"how long a dead letter is kept"`
	NATSDLMaxBytes   int64          `env:"NATS_DEAD_LETTER_MAX_BYTES" desc:"size cap of the dead letters' stream (the oldest go first)"`
	NATSEmbeddedAddr string         `env:"NATS_EMBEDDED_ADDR" desc:"client address of the embedded server (NATS_URL empty)"`
	NATSEmbeddedDir  string         `env:"NATS_EMBEDDED_STORE_DIR" desc:"JetStream store directory of the embedded server"`

	BridgeChannelTypes []string      `env:"BRIDGE_CHANNEL_TYPES" desc:"publish only these channel types (comma-separated; empty = all)"`
	BridgeStatuses     []string      `env:"BRIDGE_STATUSES" desc:"publish only transitions into these statuses (empty = all)"`
	BridgeGrace        time.Duration `env:"BRIDGE_COMPLETED_GRACE" desc:"keep a completed interaction's state this long for late frames"`
	BridgeIdleTTL      time.Duration `env:"BRIDGE_IDLE_TTL" desc:"release an interaction not heard of for this long"`
	BridgeDryRun       bool          `env:"BRIDGE_DRY_RUN" desc:"everything but publishing: no NATS; transitions are derived, counted in metrics and logged at debug level; /readyz reflects Genesys alone"`
	BridgeShutdown     time.Duration `env:"BRIDGE_SHUTDOWN_TIMEOUT" desc:"on SIGTERM, wait this long for outstanding acknowledgements"`
	BridgeShareLanes   bool          `env:"BRIDGE_SHARE_LANES" desc:"replicas share the Genesys channels through leases in NATS (key-value buckets <NATS_STREAM>_LANES and, for queue members, <NATS_STREAM>_ROSTER): each channel is read by one replica, and taken over by another within about BRIDGE_LEASE_TTL when its reader dies; false: every replica reads every channel"`
	BridgeLeaseTTL     time.Duration `env:"BRIDGE_LEASE_TTL" desc:"a channel's lease lapses this long after its reader's last renewal (renewed every third of it); the failover time"`
	BridgeProcessors   int           `env:"GOMAXPROCS" desc:"processors the bridge runs on (Go's own variable, with the bridge's default): one, as each frame passes through several goroutines and on more processors Go's scheduler spins threads to hand every one over, a third more CPU a frame for no gain at the rates Genesys sends (one processor reads about 80,000 frames a second in a dry run); 0 keeps Go's default (the logical CPUs, or a container's CPU limit rounded up, at least 2)"`

	BoardEnabled      bool          `env:"BOARD_ENABLED" desc:"serve the live board at /board/ on HTTP_ADDR, read from the stream (-demo turns it on unless HTTP_ADDR is empty)"`
	BoardServiceLevel time.Duration `env:"BOARD_SERVICE_LEVEL" desc:"the board counts an answer within this toward the service level"`
	BoardWindow       time.Duration `env:"BOARD_WINDOW" desc:"span of the board's offered, answered, abandoned, service level and averages"`
	BoardLookback     time.Duration `env:"BOARD_LOOKBACK" desc:"how far back the board reads the stream when it starts; an interaction without a transition in it is not shown as open"`
	BoardTokenFile    string        `env:"BOARD_TOKEN_FILE" desc:"file holding a bearer token the board requires (Authorization: Bearer <token>); without this or BOARD_BASIC_AUTH_FILE the board serves loopback clients only"`
	BoardBasicFile    string        `env:"BOARD_BASIC_AUTH_FILE" desc:"file holding user:password, basic credentials the board requires"`

	HTTPAddr  string     `env:"HTTP_ADDR" desc:"address of /healthz, /readyz and /metrics; empty disables"`
	PprofAddr string     `env:"PPROF_ADDR" desc:"address of Go's profiler (/debug/pprof/: CPU, heap, goroutines, execution trace), on a listener of its own; empty (the default) disables. Bind it to loopback (127.0.0.1:6060) and reach it with kubectl port-forward"`
	LogLevel  slog.Level `env:"LOG_LEVEL" desc:"debug, info, warn or error"`
	LogFormat string     `env:"LOG_FORMAT" desc:"text or json"`
	AuditLog  string     `env:"AUDIT_LOG" desc:"audit trail of every acknowledged transition, a JSON line each: empty (off), stdout, or a file path (reopened on SIGHUP)"`

	// Set from flags, not the environment.
	Demo bool `ignored:"true"`

	// Derived by validate.
	filter    bridge.Filter
	endpoints genesys.Endpoints
	topics    []string
	// clients are the OAuth clients: GENESYS_CLIENT_ID's, then
	// GENESYS_CLIENTS'.
	clients []credential
	// boardAccess is who may see the board (from BOARD_*_FILE).
	boardAccess board.Access
}

// ConfigError is a setting that stops start-up: main exits 2.
type ConfigError struct {
	Msg string
	Err error // the cause, if any (a %w in configErr's format)
}

func (e *ConfigError) Error() string { return "configuration: " + e.Msg }
func (e *ConfigError) Unwrap() error { return e.Err }

// configErr is a ConfigError whose message is the format's; a %w in it
// names the cause, which the error unwraps to.
func configErr(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &ConfigError{Msg: err.Error(), Err: errors.Unwrap(err)}
}

// defaultConfig is the configuration before the environment is read: the
// packages' own defaults (each package is the one source of its defaults)
// and the daemon's.
func defaultConfig() Config {
	st, cl := genesys.DefaultStreamConfig(), genesys.DefaultClientConfig()
	pc, pl, dl := publish.DefaultConfig(), engine.DefaultConfig(), publish.DefaultDeadLetterConfig()
	bc := board.DefaultConfig()
	return Config{
		GenesysDialect:           "notifications",
		GenesysAgents:            "members",
		GenesysHeartbeat:         st.HeartbeatInterval,
		GenesysMaxFrame:          st.MaxFrameSize,
		GenesysRefreshAhead:      cl.RefreshAhead,
		GenesysRequestsPerMinute: cl.RequestsPerMinute,
		GenesysChannelMargin:     st.ChannelMargin,
		GenesysResumeLookback:    4 * time.Hour,
		GenesysBackfillLag:       st.BackfillLag,
		GenesysBackfillMaxWait:   st.BackfillMaxWait,

		NATSStream:       pc.Stream,
		NATSPrefix:       pc.SubjectPrefix,
		NATSTimings:      pc.TimingsPrefix,
		NATSMaxAge:       pc.MaxAge,
		NATSDuplicates:   pc.Duplicates,
		NATSReplicas:     pc.Replicas,
		NATSAckTimeout:   pc.AckTimeout,
		NATSMaxPending:   pl.MaxOutstanding,
		NATSDeadLetters:  true,
		NATSDLStream:     dl.Stream,
		NATSDLPrefix:     dl.SubjectPrefix,
		NATSDLMaxAge:     dl.MaxAge,
		NATSDLMaxBytes:   dl.MaxBytes,
		NATSEmbeddedAddr: "127.0.0.1:4222",
		NATSEmbeddedDir:  "data/nats",

		BridgeGrace:      pl.Machine.Grace,
		BridgeIdleTTL:    pl.Machine.IdleTTL,
		BridgeShutdown:   pl.DrainTimeout,
		BridgeShareLanes: true,
		BridgeLeaseTTL:   publish.DefaultLeaseTTL,
		BridgeProcessors: 1,

		BoardServiceLevel: bc.ServiceLevel,
		BoardWindow:       bc.Window,
		BoardLookback:     bc.Lookback,

		HTTPAddr:  ":8080",
		LogLevel:  slog.LevelInfo,
		LogFormat: "text",
	}
}

// defaultText is how a default reads in the README and -h: durations
// without zero units (168h, 2m), levels in lower case, lists joined by
// commas, other zero values empty.
func defaultText(v reflect.Value) string {
	if l, ok := v.Interface().(slog.Level); ok {
		return strings.ToLower(l.String())
	}
	if v.IsZero() {
		return ""
	}
	switch x := v.Interface().(type) {
	case time.Duration:
		s := x.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	case []string:
		return strings.Join(x, ",")
	}
	return fmt.Sprint(v.Interface())
}

// loadConfig reads the environment over the defaults, validates it and
// resolves what follows from it.
func loadConfig(lookup func(name string) (string, bool), demo bool) (*Config, error) {
	c := defaultConfig()
	if err := c.read(lookup); err != nil {
		return nil, err
	}
	c.Demo = demo
	if demo && c.HTTPAddr != "" {
		c.BoardEnabled = true // the demo shows the board wherever it serves HTTP
	}
	if _, set := lookup("GENESYS_BACKFILL_LAG"); demo && !set {
		// The embedded simulator's analytics lags this much: the agents'
		// first statuses (their history at the start) show in seconds.
		c.GenesysBackfillLag = demoAnalyticsLag
	}
	if err := c.readSecretFiles(); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := c.resolve(); err != nil {
		return nil, err
	}
	return &c, nil
}

// read sets each field tagged env:"NAME" whose name lookup finds (main
// passes os.LookupEnv; tests a map, never touching the process's
// environment). A value is read as its field's type: a type's own
// UnmarshalText (LOG_LEVEL), else a duration, a number (decimal, 0x, 0o,
// 0b), a boolean (strconv.ParseBool), text, or a comma-separated list
// (empty or blank: none).
func (c *Config) read(lookup func(name string) (string, bool)) error {
	rv, rt := reflect.ValueOf(c).Elem(), reflect.TypeFor[Config]()
	for i := range rt.NumField() {
		name := rt.Field(i).Tag.Get("env")
		if name == "" {
			continue
		}
		v, ok := lookup(name)
		if !ok {
			continue
		}
		if err := setField(rv.Field(i), v); err != nil {
			return configErr("%s: cannot read %q as %s: %w", name, text.Truncate(v, 40), rt.Field(i).Type, err)
		}
	}
	return nil
}

// setField parses v into f (see read).
func setField(f reflect.Value, v string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(v))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(v)
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		if f.Type() == reflect.TypeFor[time.Duration]() {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			f.SetInt(int64(d))
			return nil
		}
		n, err := strconv.ParseInt(v, 0, f.Type().Bits())
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Slice:
		var parts []string
		if strings.TrimSpace(v) != "" {
			parts = strings.Split(v, ",")
		}
		f.Set(reflect.ValueOf(parts).Convert(f.Type()))
	default:
		return fmt.Errorf("no reader for %s", f.Type())
	}
	return nil
}

// validate checks each setting on its own and against the others.
func (c *Config) validate() error {
	for _, check := range []func() error{c.checkDurations, c.checkNATS, c.checkChoices} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) checkDurations() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"GENESYS_HEARTBEAT_INTERVAL", c.GenesysHeartbeat}, {"GENESYS_TOKEN_REFRESH_AHEAD", c.GenesysRefreshAhead},
		{"GENESYS_CHANNEL_MARGIN", c.GenesysChannelMargin}, {"GENESYS_BACKFILL_LAG", c.GenesysBackfillLag},
		{"GENESYS_BACKFILL_MAX_WAIT", c.GenesysBackfillMaxWait},
		{"NATS_STREAM_MAX_AGE", c.NATSMaxAge}, {"NATS_DEAD_LETTER_MAX_AGE", c.NATSDLMaxAge}, {"NATS_DUPLICATE_WINDOW", c.NATSDuplicates}, {"NATS_ACK_TIMEOUT", c.NATSAckTimeout},
		{"BRIDGE_COMPLETED_GRACE", c.BridgeGrace}, {"BRIDGE_IDLE_TTL", c.BridgeIdleTTL}, {"BRIDGE_SHUTDOWN_TIMEOUT", c.BridgeShutdown},
		{"BRIDGE_LEASE_TTL", c.BridgeLeaseTTL},
		{"BOARD_SERVICE_LEVEL", c.BoardServiceLevel}, {"BOARD_WINDOW", c.BoardWindow}, {"BOARD_LOOKBACK", c.BoardLookback},
	} {
		if d.v <= 0 {
			return configErr("%s must be a positive duration such as 30s (got %s)", d.name, d.v)
		}
	}
	if c.GenesysResumeLookback < 0 {
		return configErr("GENESYS_RESUME_LOOKBACK must be a duration such as 4h, or 0 to disable (got %s)", c.GenesysResumeLookback)
	}
	if c.GenesysBackfillMaxWait <= c.GenesysBackfillLag {
		return configErr("GENESYS_BACKFILL_MAX_WAIT (%s) must be longer than GENESYS_BACKFILL_LAG (%s): a gap's history is queried only after the lag",
			c.GenesysBackfillMaxWait, c.GenesysBackfillLag)
	}
	if c.BridgeLeaseTTL < time.Second {
		return configErr("BRIDGE_LEASE_TTL must be at least 1s (got %s)", c.BridgeLeaseTTL)
	}
	if c.GenesysHeartbeat < time.Second {
		return configErr("GENESYS_HEARTBEAT_INTERVAL must be at least 1s (got %s)", c.GenesysHeartbeat)
	}
	return nil
}

func (c *Config) checkNATS() error {
	if c.NATSMaxPending < 1 || c.NATSMaxPending > 1<<20 {
		return configErr("NATS_MAX_PENDING must be between 1 and 1048576 (got %d)", c.NATSMaxPending)
	}
	if err := c.publishConfig(nil).Validate(); err != nil {
		return configErr("NATS_STREAM / NATS_SUBJECT_PREFIX / NATS_DUPLICATE_WINDOW / NATS_STREAM_MAX_AGE / NATS_STREAM_REPLICAS: %w", err)
	}
	if c.NATSDeadLetters {
		if err := c.deadLetterConfig(nil).Validate(c.publishConfig(nil)); err != nil {
			return configErr("NATS_DEAD_LETTER_STREAM / NATS_DEAD_LETTER_SUBJECT_PREFIX / NATS_DEAD_LETTER_MAX_BYTES: %w", err)
		}
	}
	if c.NATSURL != "" {
		for _, u := range strings.Split(c.NATSURL, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" {
				return configErr("NATS_URL: %q is not a URL such as nats://host:4222", text.RedactURL(u))
			}
			switch pu.Scheme {
			case "nats", "tls", "ws", "wss":
			default:
				return configErr("NATS_URL: scheme %q not supported (nats, tls, ws, wss)", pu.Scheme)
			}
		}
	} else if _, _, err := net.SplitHostPort(c.NATSEmbeddedAddr); err != nil {
		return configErr("NATS_EMBEDDED_ADDR: %q is not host:port", c.NATSEmbeddedAddr)
	}
	return c.checkNATSAuth()
}

// checkNATSAuth checks the authentication and TLS settings: one way to
// authenticate at most, pairs complete, every named file readable.
func (c *Config) checkNATSAuth() error {
	var ways []string
	for _, w := range []struct {
		name string
		set  bool
	}{{"NATS_CREDS", c.NATSCreds != ""}, {"NATS_NKEY_SEED_FILE", c.NATSNkeySeedFile != ""},
		{"NATS_USER", c.NATSUser != ""}, {"NATS_TOKEN", c.NATSToken != ""}} {
		if w.set {
			ways = append(ways, w.name)
		}
	}
	switch {
	case len(ways) > 1:
		return configErr("%s: set one way to authenticate to NATS, not several", strings.Join(ways, " and "))
	case (c.NATSUser == "") != (c.NATSPassword == ""):
		return configErr("NATS_USER and NATS_PASSWORD (or NATS_PASSWORD_FILE) go together")
	case (c.NATSTLSCertFile == "") != (c.NATSTLSKeyFile == ""):
		return configErr("NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together")
	}
	for _, f := range []struct{ name, path string }{{"NATS_CREDS", c.NATSCreds}, {"NATS_NKEY_SEED_FILE", c.NATSNkeySeedFile},
		{"NATS_TLS_CA_FILE", c.NATSTLSCAFile}, {"NATS_TLS_CERT_FILE", c.NATSTLSCertFile}, {"NATS_TLS_KEY_FILE", c.NATSTLSKeyFile},
		{"GENESYS_CA_FILE", c.GenesysCAFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			return configErr("%s: cannot read %s: %w", f.name, f.path, errors.Unwrap(err))
		}
	}
	return nil
}

// readSecretFiles sets each secret whose *_FILE variable names a file
// from that file (one trailing line break dropped). Setting both the
// variable and its file is an error.
func (c *Config) readSecretFiles() error {
	for _, s := range []struct {
		name, path string
		dst        *genesys.Secret
	}{{"GENESYS_CLIENT_SECRET", c.GenesysSecretFile, &c.GenesysClientSecret},
		{"NATS_PASSWORD", c.NATSPasswordFile, &c.NATSPassword}, {"NATS_TOKEN", c.NATSTokenFile, &c.NATSToken}} {
		if s.path == "" {
			continue
		}
		if *s.dst != "" {
			return configErr("%s and %s_FILE are both set: use one", s.name, s.name)
		}
		v, err := readSecret(s.name+"_FILE", s.path)
		if err != nil {
			return err
		}
		*s.dst = v
	}
	if c.BoardTokenFile != "" {
		v, err := readSecret("BOARD_TOKEN_FILE", c.BoardTokenFile)
		if err != nil {
			return err
		}
		c.boardAccess.Token = string(v)
	}
	if c.BoardBasicFile != "" {
		v, err := readSecret("BOARD_BASIC_AUTH_FILE", c.BoardBasicFile)
		if err != nil {
			return err
		}
		user, password, ok := strings.Cut(string(v), ":")
		if !ok || user == "" || password == "" {
			return configErr("BOARD_BASIC_AUTH_FILE: %s must hold user:password on one line", c.BoardBasicFile)
		}
		c.boardAccess.User, c.boardAccess.Password = user, password
	}
	return nil
}

// readSecret reads a secret from a file (one trailing line break
// dropped); the variable naming the file is name.
func readSecret(name, path string) (genesys.Secret, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", configErr("%s: cannot read %s: %w", name, path, errors.Unwrap(err))
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if v == "" {
		return "", configErr("%s: %s is empty", name, path)
	}
	return genesys.Secret(v), nil
}

func (c *Config) checkChoices() error {
	if c.GenesysMaxFrame < 1024 {
		return configErr("GENESYS_MAX_FRAME_BYTES must be at least 1024 (got %d)", c.GenesysMaxFrame)
	}
	if c.GenesysRequestsPerMinute < 1 || c.GenesysRequestsPerMinute > 100_000 {
		return configErr("GENESYS_REQUESTS_PER_MINUTE must be between 1 and 100000 (got %d)", c.GenesysRequestsPerMinute)
	}
	if c.BridgeProcessors < 0 {
		return configErr("GOMAXPROCS must be a number of processors, or 0 for Go's default (got %d)", c.BridgeProcessors)
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			return configErr("HTTP_ADDR: %q is not host:port (such as :8080)", c.HTTPAddr)
		}
	}
	if c.PprofAddr != "" {
		_, port, err := net.SplitHostPort(c.PprofAddr)
		if err != nil {
			return configErr("PPROF_ADDR: %q is not host:port (such as 127.0.0.1:6060)", c.PprofAddr)
		}
		if c.PprofAddr == c.HTTPAddr && port != "0" { // (port 0: each listener gets its own)
			return configErr("PPROF_ADDR: the profiler has a listener of its own; %q is HTTP_ADDR's", c.PprofAddr)
		}
	}
	switch c.GenesysDialect {
	case "notifications", "interactions":
	default:
		return configErr("GENESYS_DIALECT must be notifications or interactions (got %q)", text.Truncate(c.GenesysDialect, 40))
	}
	if c.BoardEnabled && c.HTTPAddr == "" {
		return configErr("BOARD_ENABLED needs HTTP_ADDR: the board is served there, at /board/")
	}
	if c.BoardEnabled && c.BridgeDryRun {
		return configErr("BOARD_ENABLED reads the stream, which a dry run (BRIDGE_DRY_RUN) does not write; turn one off")
	}
	if c.Demo && c.GenesysDialect != "notifications" {
		return configErr("-demo runs the notifications dialect; unset GENESYS_DIALECT")
	}
	switch c.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		return configErr("LOG_LEVEL must be debug, info, warn or error (got %s)", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return configErr("LOG_FORMAT must be text or json (got %q)", text.Truncate(c.LogFormat, 40))
	}
	if c.AuditLog != "" && c.AuditLog != "stdout" {
		if info, err := os.Stat(c.AuditLog); err == nil && info.IsDir() {
			return configErr("AUDIT_LOG: %s is a directory; give a file path", c.AuditLog)
		}
	}
	return nil
}

// resolve derives from the settings what the bridge runs with: the filter,
// and (unless -demo) Genesys's endpoints and the topics.
func (c *Config) resolve() error {
	for _, s := range c.BridgeChannelTypes {
		ct, err := bridge.ParseChannelType(strings.TrimSpace(s))
		if err != nil {
			return configErr("BRIDGE_CHANNEL_TYPES: %w", err)
		}
		c.filter.ChannelTypes = append(c.filter.ChannelTypes, ct)
	}
	for _, s := range c.BridgeStatuses {
		st, err := bridge.ParseStatus(strings.TrimSpace(s))
		if err != nil {
			return configErr("BRIDGE_STATUSES: %w", err)
		}
		c.filter.Statuses = append(c.filter.Statuses, st)
	}
	if c.Demo {
		return nil // the embedded simulator supplies Genesys settings
	}
	if c.GenesysClientID == "" {
		return configErr("GENESYS_CLIENT_ID is required (an OAuth client-credentials client id); or run with -demo")
	}
	if c.GenesysClientSecret == "" {
		return configErr("GENESYS_CLIENT_SECRET is required (the OAuth client's secret)")
	}
	if err := c.resolveClients(); err != nil {
		return err
	}
	ep, err := genesys.EndpointsFor(c.GenesysRegion, c.GenesysAPIURL, c.GenesysLoginURL)
	if err != nil {
		return configErr("GENESYS_REGION / GENESYS_API_URL / GENESYS_LOGIN_URL: %w", err)
	}
	c.endpoints = ep
	if c.GenesysDialect == "interactions" {
		if len(trimAll(c.GenesysQueueIDs))+len(trimAll(c.GenesysUserIDs))+len(trimAll(c.GenesysAgentIDs))+len(trimAll(c.GenesysTopics)) > 0 || c.GenesysAgents != "members" {
			return configErr("GENESYS_QUEUE_IDS, GENESYS_USER_IDS, GENESYS_AGENTS, GENESYS_AGENT_IDS and GENESYS_TOPICS have no effect with GENESYS_DIALECT=interactions (that stream is filtered by BRIDGE_CHANNEL_TYPES and BRIDGE_STATUSES, and carries no agents); unset them")
		}
		if len(c.clients) > 1 {
			return configErr("GENESYS_CLIENTS: the interactions dialect holds one stream with one client; unset it")
		}
		return nil
	}
	set := genesys.TopicSet{Queues: trimAll(c.GenesysQueueIDs), Users: trimAll(c.GenesysUserIDs), Agents: trimAll(c.GenesysAgentIDs), Extra: trimAll(c.GenesysTopics)}
	switch c.GenesysAgents {
	case "members":
		set.MembersOf = set.Queues
	case "list":
		if len(set.Agents) == 0 {
			return configErr("GENESYS_AGENTS=list needs GENESYS_AGENT_IDS (the agents' user ids)")
		}
	case "none":
		if len(set.Agents) > 0 {
			return configErr("GENESYS_AGENTS=none, but GENESYS_AGENT_IDS lists agents: unset one of them")
		}
	default:
		return configErr("GENESYS_AGENTS must be members, list or none (got %q)", text.Truncate(c.GenesysAgents, 40))
	}
	topics, err := genesys.Topics(set)
	if err != nil {
		return configErr("GENESYS_QUEUE_IDS / GENESYS_USER_IDS / GENESYS_AGENT_IDS / GENESYS_TOPICS: %w", err)
	}
	if len(topics) == 0 {
		return configErr("no topics: set GENESYS_QUEUE_IDS, GENESYS_USER_IDS, GENESYS_AGENT_IDS or GENESYS_TOPICS")
	}
	if err := genesys.CountTopics(topics).Fit(len(c.clients)); err != nil {
		return configErr("GENESYS_QUEUE_IDS / GENESYS_USER_IDS / GENESYS_AGENT_IDS / GENESYS_TOPICS: %w", err)
	}
	c.topics = topics
	return nil
}

// credential is one OAuth client's id and secret.
type credential struct {
	id     string
	secret genesys.Secret
}

// resolveClients lists the OAuth clients: GENESYS_CLIENT_ID with its
// secret, then each of GENESYS_CLIENTS with the secret read from its file.
func (c *Config) resolveClients() error {
	c.clients = []credential{{id: c.GenesysClientID, secret: c.GenesysClientSecret}}
	seen := map[string]bool{c.GenesysClientID: true}
	for _, entry := range trimAll(c.GenesysClients) {
		id, path, ok := strings.Cut(entry, ":")
		id, path = strings.TrimSpace(id), strings.TrimSpace(path)
		if !ok || id == "" || path == "" {
			return configErr("GENESYS_CLIENTS: %q is not <client id>:<secret file>", text.Truncate(entry, 80))
		}
		if seen[id] {
			return configErr("GENESYS_CLIENTS: client %s is listed twice (GENESYS_CLIENT_ID counts)", text.Truncate(id, 64))
		}
		seen[id] = true
		secret, err := readSecret("GENESYS_CLIENTS (client "+text.Truncate(id, 64)+")", path)
		if err != nil {
			return err
		}
		c.clients = append(c.clients, credential{id: id, secret: secret})
	}
	return nil
}

func trimAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// boardConfig is the live board's configuration.
func (c *Config) boardConfig(names board.Namer, log *slog.Logger) board.Config {
	return board.Config{Stream: c.NATSStream, SubjectPrefix: c.NATSPrefix, TimingsPrefix: c.NATSTimings,
		ServiceLevel: c.BoardServiceLevel, Window: c.BoardWindow, Lookback: c.BoardLookback, Names: names, Logger: log}
}

// publishConfig is the stream's configuration; log may be nil.
func (c *Config) publishConfig(log *slog.Logger) publish.Config {
	return publish.Config{
		Stream:        c.NATSStream,
		SubjectPrefix: c.NATSPrefix,
		TimingsPrefix: c.NATSTimings,
		Duplicates:    c.NATSDuplicates,
		MaxAge:        c.NATSMaxAge,
		Replicas:      c.NATSReplicas,
		MaxPending:    c.NATSMaxPending,
		AckTimeout:    c.NATSAckTimeout,
		Logger:        log,
	}
}

// deadLetterConfig is the dead letters' stream configuration.
func (c *Config) deadLetterConfig(log *slog.Logger) publish.DeadLetterConfig {
	return publish.DeadLetterConfig{Stream: c.NATSDLStream, SubjectPrefix: c.NATSDLPrefix, MaxAge: c.NATSDLMaxAge,
		MaxBytes: c.NATSDLMaxBytes, Replicas: c.NATSReplicas, Logger: log}
}

// pipelineConfig is the pipeline's configuration: the stream (if any) is
// its state store, and each acknowledged or held-back transition is reported to the
// metrics, the audit log and the demo's view (if any) and the hooks.
func (c *Config) pipelineConfig(out sink, log *slog.Logger, m *metrics, view *demoView, audit *auditLog, h hooks) engine.Config {
	js := out.js
	var state bridge.StateStore // a nil *JetStream must not become a non-nil interface
	if js != nil {
		state = js
	}
	return engine.Config{
		MaxOutstanding: c.NATSMaxPending,
		DrainTimeout:   c.BridgeShutdown,
		// Another writer shows itself by duplicates, which the stream
		// detects within its window.
		SharedFor: c.NATSDuplicates,
		Filter:    c.filter,
		// A released interaction is remembered as long as a gap's history
		// may still arrive; after that, a frame of it costs a state load.
		Machine: bridge.MachineConfig{Grace: c.BridgeGrace, IdleTTL: c.BridgeIdleTTL, TombstoneTTL: c.GenesysBackfillMaxWait},
		State:   state,
		Logger:  log,
		OnPublished: func(t *bridge.Transition, dup bool, ackedAt time.Time) {
			m.published(t, dup, ackedAt)
			if audit != nil {
				audit.write(t, dup, ackedAt)
			}
			if h.published != nil {
				h.published(t, ackedAt)
			}
			if view != nil {
				view.transition(t, dup)
			}
		},
		OnTimings: m.timings,
		OnRejected: func(rej *bridge.RejectError) {
			if out.dead != nil {
				out.dead.Put(rej, time.Now())
			}
		},
		OnHeld: func(waited time.Duration, incomplete bool) {
			m.held(waited)
			if h.held != nil {
				h.held(waited, incomplete)
			}
		},
	}
}
