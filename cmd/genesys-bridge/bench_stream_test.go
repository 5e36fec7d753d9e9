package main

// Benchmarks of the whole bridge as a process, each against its reference
// in the same round (README.md, "Benchmarks"):
//
//	go test ./cmd/genesys-bridge -run '^$' -bench 'Stream|Restart' -benchtime 1x -count 5 -timeout 60m
//
// The bridge binary reads the tutorial's dialect from a frame server on
// loopback (a real WebSocket, frames encoded ahead so the server costs
// little) and publishes to an embedded nats-server with file storage. Its
// CPU is the child process's own (user + system), from start to exit.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// tutorialStatuses are the four statuses of the tutorial's filter, in order.
var tutorialStatuses = []string{"queued", "ringing", "connected", "completed"}

// frameSet describes tutorial-dialect traffic: interactions, each moving
// through statuses[from:to] (in rounds: every interaction's first status,
// then every interaction's second, ...), timestamps from base a few
// microseconds apart, sequences from seq0.
type frameSet struct {
	interactions int
	from, to     int
	base         time.Time
	seq0         int64
	tag          string // makes the ids of one round unique
}

func (fs frameSet) count() int { return fs.interactions * (fs.to - fs.from) }

// frames calls emit with each frame in order.
func (fs frameSet) frames(emit func([]byte)) {
	buf := make([]byte, 0, 512)
	seq := fs.seq0
	for k := fs.from; k < fs.to; k++ {
		for i := range fs.interactions {
			ts := fs.base.Add(time.Duration(k*fs.interactions+i) * 20 * time.Microsecond)
			emit(tutorialFrame(buf, seq, fs.tag, i>>16, i, k, ts))
			seq++
		}
	}
}

// tutorialFrame appends to buf[:0] the frame of interaction (hi, lo) of
// run tag in status k.
func tutorialFrame(buf []byte, seq int64, tag string, hi, lo, k int, ts time.Time) []byte {
	return fmt.Appendf(buf[:0], `{"sequence":%d,"id":"%s-%04x-4000-8000-%012x","type":"interaction.updated","status":%q,"channelType":%q,"timestamp":%q,"attributes":{"queueId":"6c3ffb2e-53c4-4e41-9b0b-1c9f4b2d7e10"}}`,
		seq, tag, hi&0xffff, lo, tutorialStatuses[k], [...]string{"voice", "chat", "email"}[lo%3], ts.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

// wire encodes frames as unmasked WebSocket text frames, as a server sends
// them.
func wire(fs frameSet) []byte {
	out := make([]byte, 0, fs.count()*240)
	fs.frames(func(p []byte) { out = appendFrame(out, p) })
	return out
}

func appendFrame(out, p []byte) []byte {
	switch n := len(p); {
	case n < 126:
		out = append(out, 0x81, byte(n))
	case n < 1<<16:
		out = append(out, 0x81, 126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x81, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, p...)
}

// frameServer is the tutorial's service reduced to what a benchmark needs:
// a token endpoint and a stream socket that sends the frames queued for it
// to the next client that connects, once.
type frameServer struct {
	*httptest.Server
	mu         sync.Mutex
	next       []byte
	gen        func(emit func([]byte)) // or frames made while sending; emit(nil) flushes
	closeAfter bool                    // close the socket when sent (the seed's peer exits then)
	connected  chan time.Time
}

func startFrameServer(tb testing.TB) *frameServer {
	fsrv := &frameServer{connected: make(chan time.Time, 8)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"bench-token","token_type":"bearer","expires_in":86400}`)
	})
	mux.HandleFunc("GET /api/v2/interactions/stream", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if _, _, err := ws.ReadMessage(); err != nil { // the filter
			return
		}
		fsrv.mu.Lock()
		data, gen, closeAfter := fsrv.next, fsrv.gen, fsrv.closeAfter
		fsrv.next, fsrv.gen = nil, nil
		fsrv.mu.Unlock()
		fsrv.connected <- time.Now()
		// Nothing else writes to the connection until this is done.
		if gen != nil {
			buf := make([]byte, 0, 256<<10)
			var werr error
			gen(func(p []byte) { // nil: send what is buffered
				if p != nil {
					buf = appendFrame(buf, p)
				}
				if (p == nil || len(buf) > 240<<10) && werr == nil {
					_, werr = ws.NetConn().Write(buf)
					buf = buf[:0]
				}
			})
			if werr == nil {
				_, werr = ws.NetConn().Write(buf)
			}
			if werr != nil {
				return
			}
		}
		for len(data) > 0 {
			n := min(len(data), 256<<10)
			if _, err := ws.NetConn().Write(data[:n]); err != nil {
				return
			}
			data = data[n:]
		}
		if closeAfter {
			ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			return
		}
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	})
	fsrv.Server = httptest.NewServer(mux)
	tb.Cleanup(fsrv.Close)
	return fsrv
}

// serve queues frames for the next connection.
func (f *frameServer) serve(data []byte, closeAfter bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next, f.closeAfter = data, closeAfter
}

// bridgeProc is the bridge binary running as a child process.
type bridgeProc struct {
	cmd     *exec.Cmd
	started time.Time
	stderr  *lineLog
	addr    string // HTTP address, once read from the log
}

// lineLog keeps a child's output lines and tells when one matches.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.Split(strings.TrimRight(string(p), "\n"), "\n")...)
	return len(p), nil
}

func (l *lineLog) find(re *regexp.Regexp) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
	}
	return nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startBridge starts the bridge binary with env added to this process's.
// BENCH_BRIDGE_ENV (space-separated NAME=value) adds more, last, for a
// diagnosis: BENCH_BRIDGE_ENV=GOMAXPROCS=1 measures the bridge without the
// cost of handing work to another processor. BENCH_BRIDGE_BINARY runs
// another build of the bridge (an A/B against an older commit, built
// with go build -o).
func startBridge(tb testing.TB, env ...string) *bridgeProc {
	p := &bridgeProc{stderr: &lineLog{}}
	bin := bridgeBinary(tb)
	if other := os.Getenv("BENCH_BRIDGE_BINARY"); other != "" {
		bin = other
	}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(append(os.Environ(), env...), strings.Fields(os.Getenv("BENCH_BRIDGE_ENV"))...)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// httpAddr is the address the bridge serves /metrics on (it was started
// with HTTP_ADDR=127.0.0.1:0 and logs the address it got).
func (p *bridgeProc) httpAddr(tb testing.TB) string {
	if p.addr == "" {
		p.addr = logValue(tb, p.stderr, "serving /healthz", "addr")
	}
	return p.addr
}

// stop sends SIGTERM and returns the process's CPU time and its peak RSS
// until then.
func (p *bridgeProc) stop(tb testing.TB) (cpu time.Duration, rssMiB float64) {
	rssMiB = peakRSS(tb, p.cmd.Process.Pid)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		tb.Fatalf("bridge exited: %v\n%s", err, p.stderr)
	}
	return cpuOf(p.cmd.ProcessState), rssMiB
}

func cpuOf(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// peakRSS reads VmHWM, the peak resident set of the program pid runs. (The
// rusage of a child is no use: Linux carries the parent's peak at fork
// into the child's ru_maxrss.)
func peakRSS(tb testing.TB, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Logf("peak RSS unknown: %v", err)
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return kib / 1024
			}
		}
	}
	return 0
}

// streamEnv is the environment of a bridge reading fsrv's stream and
// publishing to stream on url.
func streamEnv(fsrv *frameServer, url, stream string) []string {
	return []string{"GENESYS_DIALECT=interactions", "GENESYS_CLIENT_ID=bench", "GENESYS_CLIENT_SECRET=bench-secret",
		"GENESYS_API_URL=" + fsrv.URL, "GENESYS_LOGIN_URL=" + fsrv.URL, "GENESYS_HEARTBEAT_INTERVAL=5m",
		"NATS_URL=" + url, "NATS_STREAM=" + stream, "NATS_SUBJECT_PREFIX=" + strings.ToLower(stream),
		"HTTP_ADDR=", "LOG_LEVEL=info"}
}

// waitStored polls the stream until it holds n messages and returns when
// that was seen.
func waitStored(tb testing.TB, js jetstream.JetStream, stream string, n uint64, limit time.Duration) time.Time {
	if !testkit.PollEvery(limit, 2*time.Millisecond, func() bool {
		s, err := js.Stream(context.Background(), stream)
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs >= n
	}) {
		tb.Fatalf("stream %s: fewer than %d messages after %v", stream, n, limit)
	}
	return time.Now()
}

// benchServer starts the embedded JetStream server the bridge publishes to,
// and a client of the benchmark's own to watch its streams.
func benchServer(b *testing.B) (*testkit.NATS, jetstream.JetStream) {
	ns := testkit.StartNATS(b)
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return ns, js
}

// natsBenchCPU runs the reference, `nats bench js pub async --dedup` with
// msgs messages of size bytes, and returns its rate and the CPU its process
// spent.
func natsBenchCPU(b *testing.B, cli, url string, msgs, size int) (float64, time.Duration) {
	return natsBenchMode(b, cli, url, "async", msgs, size)
}

// natsBenchMode is natsBenchCPU with JetStream's publishing mode: async,
// fast (fast-ingest batches) or atomic (atomic batches), each on a stream
// of its own.
func natsBenchMode(b *testing.B, cli, url, mode string, msgs, size int) (float64, time.Duration) {
	cmd := exec.Command(cli, "bench", "js", "pub", mode, "benchref"+mode+".x", "-s", url,
		"--msgs", strconv.Itoa(msgs), "--size", fmt.Sprintf("%dB", size), "--stream", "benchref"+mode,
		"--create", "--storage", "file", "--purge", "--dedup", "--no-progress")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("nats bench: %v\n%s", err, out)
	}
	m := pubStats.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no 'publisher stats' in nats bench output:\n%s", out)
	}
	v, _ := strconv.ParseFloat(strings.ReplaceAll(string(m[1]), ",", ""), 64)
	return v, cpuOf(cmd.ProcessState)
}

// payloadSize is the mean payload of the messages in stream.
func payloadSize(tb testing.TB, js jetstream.JetStream, stream string) int {
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		tb.Fatal(err)
	}
	total := 0
	const sample = 100
	for seq := uint64(1); seq <= sample; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			tb.Fatal(err)
		}
		total += len(m.Data)
	}
	return total / sample
}

// BenchmarkStreamEndToEnd: 50,000 interactions with four statuses each
// (200,000 frames) through the bridge binary, against `nats bench js pub
// async --dedup` with the same count and payload size on the same server.
//   - live: timestamps of now, an empty stream.
//   - backlog: a restart: an earlier run published every interaction's
//     first status an hour ago; the measured run starts on that stream and
//     gets the other three (150,000 frames of interactions begun before it
//     started).
//
// Metrics: msgs/s of both and their ratio; CPU µs per message of both and
// their ratio; the bridge's peak RSS.
func BenchmarkStreamEndToEnd(b *testing.B) {
	const interactions = 50_000
	cli := natsCLI(b)
	ns, js := benchServer(b)
	fsrv := startFrameServer(b)
	bridgeBinary(b)
	for _, variant := range []string{"live", "backlog"} {
		b.Run(variant, func(b *testing.B) {
			// Per transition (what the targets name) and per message stored:
			// every completed interaction also stores its timings, so the
			// bridge stores more messages than it publishes transitions.
			var rates, msgRates, refRates, cpus, msgCPUs, refCPUs, rss []float64
			for round := range b.N {
				stream := fmt.Sprintf("BENCH_%s_%d_%d", strings.ToUpper(variant), round, time.Now().UnixNano())
				env := streamEnv(fsrv, ns.URL, stream)
				base, from := time.Now(), 0
				tag := fmt.Sprintf("%08x", uint32(time.Now().UnixNano()))
				if variant == "backlog" {
					base, from = time.Now().Add(-time.Hour), 1
					first := frameSet{interactions: interactions, from: 0, to: 1, base: base, seq0: 1, tag: tag}
					fsrv.serve(wire(first), false)
					p := startBridge(b, env...)
					<-fsrv.connected
					waitStored(b, js, stream, interactions, 2*time.Minute)
					p.stop(b)
				}
				rest := frameSet{interactions: interactions, from: from, to: 4, base: base, seq0: 1 + int64(from*interactions), tag: tag}
				fsrv.serve(wire(rest), false)
				p := startBridge(b, env...)
				began := <-fsrv.connected
				// Every interaction completes: its timings are stored too.
				done := waitStored(b, js, stream, uint64(5*interactions), 5*time.Minute)
				cpu, peak := p.stop(b)
				n := rest.count()
				stored := (5 - from) * interactions // the transitions after the first run's, and every interaction's timings
				rates = append(rates, float64(n)/done.Sub(began).Seconds())
				msgRates = append(msgRates, float64(stored)/done.Sub(began).Seconds())
				cpus = append(cpus, float64(cpu.Microseconds())/float64(n))
				msgCPUs = append(msgCPUs, float64(cpu.Microseconds())/float64(stored))
				rss = append(rss, peak)
				size := payloadSize(b, js, stream)
				if err := js.DeleteStream(context.Background(), stream); err != nil {
					b.Fatal(err)
				}
				r, c := natsBenchCPU(b, cli, ns.URL, n, size)
				refRates = append(refRates, r)
				refCPUs = append(refCPUs, float64(c.Microseconds())/float64(n))
				b.Logf("round %d: bridge %.0f transitions/s %.2f µs CPU/transition (%.0f msgs/s, %.2f µs CPU/msg stored; %d B payloads, RSS %.0f MiB); nats bench %.0f msgs/s %.2f µs CPU/msg",
					round, rates[round], cpus[round], msgRates[round], msgCPUs[round], size, peak, r, refCPUs[round])
			}
			b.ReportMetric(median(rates), "bridge-transitions/s")
			b.ReportMetric(median(refRates), "natsbench-msgs/s")
			b.ReportMetric(median(rates)/median(refRates), "ratio")
			b.ReportMetric(median(cpus), "bridge-cpu-µs/transition")
			b.ReportMetric(median(refCPUs), "natsbench-cpu-µs/msg")
			b.ReportMetric(median(cpus)/median(refCPUs), "cpu-ratio")
			b.ReportMetric(median(msgRates)/median(refRates), "ratio-per-msg-stored")
			b.ReportMetric(median(msgCPUs)/median(refCPUs), "cpu-ratio-per-msg-stored")
			b.ReportMetric(median(rss), "bridge-rss-MiB")
		})
	}
}

// seedPeer builds ../shared/bench/seedpeer (the seed's pipeline in Node)
// into the user cache once, or skips when it or node is missing.
// SEEDPEER_DIR overrides where its sources are.
func seedPeer(b *testing.B) string {
	src := os.Getenv("SEEDPEER_DIR")
	if src == "" {
		src = filepath.Join("..", "..", "..", "shared", "bench", "seedpeer")
	}
	if _, err := os.Stat(filepath.Join(src, "package.json")); err != nil {
		b.Skipf("the seed's pipeline is not at %s (set SEEDPEER_DIR)", src)
	}
	src, err := filepath.Abs(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		b.Skip("node and npm are needed for the seed's pipeline")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(cache, "genesys-bridge", "seedpeer")
	peer := filepath.Join(dir, "dist", "peer.js")
	if _, err := os.Stat(peer); err == nil {
		return peer
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	steps := [][]string{{"cp", "-r", src + "/.", dir}, {"npm", "install", "--no-audit", "--no-fund"}, {"npx", "tsc", "-p", "."}}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return peer
}

// BenchmarkStreamDryRun: the same 200,000 frames through the bridge binary
// with BRIDGE_DRY_RUN=true, against the seed's own pipeline (Node, ws and
// zod: ../shared/bench/seedpeer) on the same frames from the same server.
// Metrics: CPU µs per frame of both and their ratio.
func BenchmarkStreamDryRun(b *testing.B) {
	const interactions = 50_000
	peer := seedPeer(b)
	fsrv := startFrameServer(b)
	bridgeBinary(b)
	var cpus, refCPUs, rates []float64
	for round := range b.N {
		fs := frameSet{interactions: interactions, from: 0, to: 4, base: time.Now(), seq0: 1, tag: fmt.Sprintf("%08x", uint32(time.Now().UnixNano()))}
		data := wire(fs)
		n := fs.count()

		fsrv.serve(data, true)
		cmd := exec.Command("node", peer)
		cmd.Env = append(os.Environ(), "PEER_URL=ws"+strings.TrimPrefix(fsrv.URL, "http")+"/api/v2/interactions/stream")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("seed peer: %v\n%s", err, out)
		}
		<-fsrv.connected
		var res struct{ Frames int }
		if err := json.Unmarshal(out, &res); err != nil || res.Frames != n {
			b.Fatalf("seed peer read %d of %d frames (%v): %s", res.Frames, n, err, out)
		}
		refCPUs = append(refCPUs, float64(cpuOf(cmd.ProcessState).Microseconds())/float64(n))

		fsrv.serve(data, false)
		p := startBridge(b, append(streamEnv(fsrv, "nats://127.0.0.1:1", "UNUSED"), "BRIDGE_DRY_RUN=true",
			"HTTP_ADDR=127.0.0.1:0")...)
		began := <-fsrv.connected
		done := waitMetric(b, p.httpAddr(b), "genesys_bridge_transitions_published_total", float64(n), 5*time.Minute)
		cpu, _ := p.stop(b)
		cpus = append(cpus, float64(cpu.Microseconds())/float64(n))
		rates = append(rates, float64(n)/done.Sub(began).Seconds())
		b.Logf("round %d: bridge (dry run) %.2f µs CPU/frame, %.0f frames/s; seed's pipeline %.2f µs CPU/frame", round, cpus[round], rates[round], refCPUs[round])
	}
	b.ReportMetric(median(cpus), "bridge-cpu-µs/frame")
	b.ReportMetric(median(refCPUs), "seed-cpu-µs/frame")
	b.ReportMetric(median(cpus)/median(refCPUs), "cpu-ratio")
	b.ReportMetric(median(rates), "bridge-frames/s")
}

// waitMetric polls the bridge's /metrics until the sum of the samples of
// name reaches want. A scrape costs the bridge about 2 ms of CPU (every
// metric family is encoded), which is in the CPU measured: it waits half
// the time the rate so far predicts is left, between 10 and 200 ms (20 ms
// until the count moves), so a run is scraped a few times early and every
// 10 ms near its end.
func waitMetric(tb testing.TB, addr string, name string, want float64, limit time.Duration) time.Time {
	start := time.Now()
	deadline := start.Add(limit)
	url := "http://" + addr + "/metrics"
	var first float64
	var firstAt time.Time
	for {
		v, ok := scrape(url, name)
		now := time.Now()
		if ok && v >= want {
			return now
		}
		if now.After(deadline) {
			tb.Fatalf("%s is %v, below %v after %v", name, v, want, limit)
		}
		wait := 20 * time.Millisecond
		switch {
		case firstAt.IsZero() && ok && v > 0:
			first, firstAt = v, now
		case !firstAt.IsZero() && v > first:
			rate := (v - first) / now.Sub(firstAt).Seconds()
			wait = time.Duration((want - v) / rate / 2 * float64(time.Second))
		}
		time.Sleep(min(max(wait, 10*time.Millisecond), 200*time.Millisecond))
	}
}

func scrape(url, name string) (float64, bool) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, false
	}
	// Uncompressed: the bridge would spend more on gzip than the scrape is
	// worth, in the CPU being measured.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sum, seen := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				sum, seen = sum+v, true
			}
		}
	}
	return sum, seen
}

var loadedLine = regexp.MustCompile(`loaded the interactions' state from the stream.* interactions=(\d+) open=(\d+) took=(\S+)`)

// BenchmarkRestart100k: a restart with 100,000 open interactions in the
// stream (an earlier run published each one's first status). The bridge
// binary starts, loads their states in one pass, connects, and gets a new
// frame for each. Metrics: seconds from process start until all 100,000
// are known (the load's end) and until the socket connected; milliseconds
// from the socket connecting to the first new transition stored; seconds
// from the socket connecting until all 100,000 are; peak RSS.
func BenchmarkRestart100k(b *testing.B) {
	const interactions = 100_000
	ns, js := benchServer(b)
	fsrv := startFrameServer(b)
	bridgeBinary(b)
	var known, connect, first, all, rss []float64
	for round := range b.N {
		stream := fmt.Sprintf("BENCH_RESTART_%d_%d", round, time.Now().UnixNano())
		env := streamEnv(fsrv, ns.URL, stream)
		base, tag := time.Now().Add(-time.Hour), fmt.Sprintf("%08x", uint32(time.Now().UnixNano()))
		fsrv.serve(wire(frameSet{interactions: interactions, from: 0, to: 1, base: base, seq0: 1, tag: tag}), false)
		p := startBridge(b, env...)
		<-fsrv.connected
		waitStored(b, js, stream, interactions, 5*time.Minute)
		p.stop(b)

		fsrv.serve(wire(frameSet{interactions: interactions, from: 1, to: 2, base: base, seq0: 1 + interactions, tag: tag}), false)
		p = startBridge(b, env...)
		began := <-fsrv.connected
		firstAt := waitStored(b, js, stream, interactions+1, time.Minute)
		allAt := waitStored(b, js, stream, 2*interactions, 5*time.Minute)
		_, peak := p.stop(b)
		m := p.stderr.find(loadedLine)
		if m == nil || m[1] != strconv.Itoa(interactions) || m[2] != strconv.Itoa(interactions) {
			b.Fatalf("no load of %d open interactions logged: %v\n%s", interactions, m, p.stderr)
		}
		took, err := time.ParseDuration(m[3])
		if err != nil {
			b.Fatal(err)
		}
		known = append(known, took.Seconds())
		connect = append(connect, began.Sub(p.started).Seconds())
		first = append(first, float64(firstAt.Sub(began).Microseconds())/1000)
		all = append(all, allAt.Sub(began).Seconds())
		rss = append(rss, peak)
		if err := js.DeleteStream(context.Background(), stream); err != nil {
			b.Fatal(err)
		}
		b.Logf("round %d: loaded in %.2fs, socket connected %.2fs after start; first new transition stored %.1f ms after connecting, all %d after %.2fs; peak RSS %.0f MiB",
			round, known[round], connect[round], first[round], interactions, all[round], peak)
	}
	b.ReportMetric(median(known), "load-s")
	b.ReportMetric(median(connect), "connect-s")
	b.ReportMetric(median(first), "first-publish-ms")
	b.ReportMetric(median(all), "all-s")
	b.ReportMetric(median(rss), "rss-MiB")
}

// BenchmarkLongRSS is the long form, run by hand: GENESYS_BENCH_EVENTS
// frames (for example 10000000) through the bridge binary, with about
// 100,000 interactions open all along (133,334 slots, each an interaction
// moving queued, ringing, connected, completed, then the next one; the
// slots a status apart). It samples the bridge's RSS and open interactions
// after each tenth of the frames and reports the largest and the last.
// GENESYS_BENCH_RATE paces the frames (per second; default as fast as the
// bridge takes them). The stream keeps 2 GiB (older messages are
// discarded).
//
//	GENESYS_BENCH_EVENTS=10000000 GENESYS_BENCH_RATE=5000 go test ./cmd/genesys-bridge -run '^$' -bench LongRSS -benchtime 1x -timeout 90m -v
func BenchmarkLongRSS(b *testing.B) {
	total, _ := strconv.Atoi(os.Getenv("GENESYS_BENCH_EVENTS"))
	rate, _ := strconv.ParseFloat(os.Getenv("GENESYS_BENCH_RATE"), 64)
	if total <= 0 {
		b.Skip("set GENESYS_BENCH_EVENTS (for example 10000000): the long form is run by hand")
	}
	const slots = 133_334
	ns, js := benchServer(b)
	fsrv := startFrameServer(b)
	for range b.N {
		stream := fmt.Sprintf("BENCH_LONG_%d", time.Now().UnixNano())
		prefix := strings.ToLower(stream)
		if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".>"},
			Storage: jetstream.FileStorage, MaxAge: publish.DefaultConfig().MaxAge, Duplicates: publish.DefaultConfig().Duplicates,
			MaxBytes: 2 << 30, Discard: jetstream.DiscardOld}); err != nil {
			b.Fatal(err)
		}
		base, tag := time.Now(), fmt.Sprintf("%08x", uint32(time.Now().UnixNano()))
		fsrv.mu.Lock()
		fsrv.gen = func(emit func([]byte)) {
			buf := make([]byte, 0, 512)
			began := time.Now()
			for n := range total {
				if rate > 0 && n%100 == 0 {
					// Pace in steps of 100 frames.
					emit(nil)
					time.Sleep(time.Until(began.Add(time.Duration(float64(n) / rate * float64(time.Second)))))
				}
				r, s := n/slots, n%slots
				k := (r + s) % 4
				generation := (r + s) / 4
				at := base.Add(time.Duration(n) * 20 * time.Microsecond)
				if rate > 0 {
					// Genesys's clock keeps pace with this one.
					at = began.Add(time.Duration(float64(n) / rate * float64(time.Second)))
				}
				emit(tutorialFrame(buf, int64(n+1), tag, generation, s, k, at))
			}
		}
		fsrv.mu.Unlock()
		p := startBridge(b, append(streamEnv(fsrv, ns.URL, stream), "HTTP_ADDR=127.0.0.1:0")...)
		<-fsrv.connected
		url := "http://" + p.httpAddr(b) + "/metrics"
		maxRSS, maxOpen := 0.0, 0.0
		for tenth := 1; tenth <= 10; tenth++ {
			waitMetric(b, p.httpAddr(b), "genesys_bridge_events_total", float64(total/10*tenth), 30*time.Minute)
			rss, _ := scrape(url, "process_resident_memory_bytes")
			open, _ := scrape(url, "genesys_bridge_interactions_open")
			heap, _ := scrape(url, "go_memstats_heap_inuse_bytes")
			maxRSS, maxOpen = max(maxRSS, rss), max(maxOpen, open)
			b.Logf("after %d events: RSS %.1f MiB, heap in use %.1f MiB, %.0f interactions open (completed ones kept BRIDGE_COMPLETED_GRACE)",
				total/10*tenth, rss/(1<<20), heap/(1<<20), open)
			if tenth == 10 {
				b.ReportMetric(rss/(1<<20), "last-rss-MiB")
			}
		}
		p.stop(b)
		b.ReportMetric(maxRSS/(1<<20), "max-rss-MiB")
		b.ReportMetric(maxOpen, "max-open")
		js.DeleteStream(context.Background(), stream)
	}
}

// BenchmarkNotificationsEndToEnd: the notification dialect, whose frames
// are whole conversations (several KiB each): simulated conversations
// (10,000, or BENCH_CONVERSATIONS), generated before the bridge starts
// (the simulator's Pregenerate: its own cost is not the bridge's feed's
// pace) and sent as fast as the bridge binary reads them on the queues'
// topics, published, then in a dry run, then the
// reference in the same round: `nats bench js pub async --dedup` with as
// many messages as the frames, of the size of the bridge's messages.
// Metrics: frames per second (from the process start until the last
// transition is stored or counted) and CPU µs per frame of each, the
// reference's messages per second and CPU µs per message, and the ratios
// of CPU per frame to the reference's per message.
//
// BENCH_PPROF_DIR=dir writes a CPU profile of each bridge run there (the
// bridge's PPROF_ADDR, BENCH_PPROF_SECONDS from the start, 3 by default;
// give it enough conversations to run that long). BENCH_VARIANTS (a
// space-separated subset of "publish dryrun", both by default) runs only
// those: with the dry run alone the reference is skipped (it takes the
// size of the published messages), for an A/B of the bridge's CPU per
// frame (.ci/ab-e2e).
func BenchmarkNotificationsEndToEnd(b *testing.B) {
	ns, js := benchServer(b)
	bridgeBinary(b)
	cli := natsCLI(b)
	conversations := 10000 // about 76,000 frames: the start is a small part of the CPU
	if v := os.Getenv("BENCH_CONVERSATIONS"); v != "" {
		conversations, _ = strconv.Atoi(v)
	}
	profDir := os.Getenv("BENCH_PPROF_DIR")
	profSeconds := 3
	if v := os.Getenv("BENCH_PPROF_SECONDS"); v != "" {
		profSeconds, _ = strconv.Atoi(v)
	}
	variants := []string{"publish", "dryrun"}
	if v := os.Getenv("BENCH_VARIANTS"); v != "" {
		variants = strings.Fields(v)
		for _, name := range variants {
			if name != "publish" && name != "dryrun" {
				b.Fatalf("BENCH_VARIANTS: %q is neither publish nor dryrun", name)
			}
		}
	}
	type run struct{ rate, perFrame float64 }
	var pub, dry []run
	var refRates, refCPU []float64
	for round := range b.N {
		var size int
		var frames float64
		for _, variant := range variants {
			sim, err := simulator.Start(simulator.Config{Conversations: conversations, Rate: 20, Speed: 0, Seed: uint64(round + 1), Pregenerate: true})
			if err != nil {
				b.Fatal(err)
			}
			stream := fmt.Sprintf("BENCH_NOTIF_%d_%d", round, time.Now().UnixNano())
			env := []string{"GENESYS_CLIENT_ID=sim-client", "GENESYS_CLIENT_SECRET=sim-secret",
				"GENESYS_API_URL=" + sim.URL, "GENESYS_LOGIN_URL=" + sim.URL,
				"GENESYS_QUEUE_IDS=" + strings.Join(sim.Population().Queues, ","),
				"NATS_URL=" + ns.URL, "NATS_STREAM=" + stream, "NATS_SUBJECT_PREFIX=" + strings.ToLower(stream),
				"HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=info" /* info logs only lifecycle, and the bound address */}
			if variant == "dryrun" {
				env = append(env, "BRIDGE_DRY_RUN=true")
			}
			if profDir != "" {
				env = append(env, "PPROF_ADDR=127.0.0.1:0")
			}
			p := startBridge(b, env...)
			var profiled chan error
			if profDir != "" {
				profiled = make(chan error, 1)
				url := logValue(b, p.stderr, "serving Go's profiler", "url")
				go func() {
					profiled <- fetchTo(fmt.Sprintf("%sprofile?seconds=%d", url, profSeconds),
						filepath.Join(profDir, fmt.Sprintf("notifications-%s-%d.pprof", variant, round)))
				}()
			}
			select {
			case <-sim.Done():
			case <-time.After(10 * time.Minute):
				b.Fatal("simulator did not finish")
			}
			want := len(sim.Truth())
			completed := 0
			for _, tr := range sim.Truth() {
				if tr.To == bridge.StatusCompleted {
					completed++
				}
			}
			var done time.Time
			if variant == "dryrun" {
				done = waitMetric(b, p.httpAddr(b), "genesys_bridge_transitions_published_total", float64(want), 5*time.Minute)
			} else {
				done = waitStored(b, js, stream, uint64(want+completed), 5*time.Minute) // transitions and timings
				size = payloadSize(b, js, stream)
			}
			if profiled != nil {
				if err := <-profiled; err != nil {
					b.Errorf("CPU profile: %v", err)
				}
			}
			cpu, _ := p.stop(b)
			frames = float64(sim.FramesSent())
			sim.Close()
			if variant != "dryrun" {
				js.DeleteStream(context.Background(), stream)
			}
			r := run{rate: frames / done.Sub(p.started).Seconds(), perFrame: float64(cpu.Microseconds()) / frames}
			if variant == "dryrun" {
				dry = append(dry, r)
			} else {
				pub = append(pub, r)
			}
			// Context switches (the threads' sleeps and wake-ups, voluntary
			// or not) per frame: what handing work between goroutines costs
			// beyond the work, when the bridge waits for its frames.
			var switches float64
			if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				switches = float64(ru.Nvcsw+ru.Nivcsw) / frames
			}
			b.Logf("round %d, %s: %.0f frames, %d transitions, %d timings: %.0f frames/s, %.1f µs CPU per frame, %.2f context switches per frame",
				round, variant, frames, want, completed, r.rate, r.perFrame, switches)
		}
		if size == 0 {
			continue // no published run: no message size for the reference
		}
		rate, cpu := natsBenchCPU(b, cli, ns.URL, int(frames), size)
		refRates = append(refRates, rate)
		refCPU = append(refCPU, float64(cpu.Microseconds())/frames)
		msg := fmt.Sprintf("round %d, nats bench: %.0f msgs of %d B: %.0f msgs/s, %.1f µs CPU per message; ratios of CPU per frame:",
			round, frames, size, rate, refCPU[round])
		if len(dry) > round {
			msg += fmt.Sprintf(" dry run %.2fx,", dry[round].perFrame/refCPU[round])
		}
		b.Log(msg + fmt.Sprintf(" published %.2fx", pub[round].perFrame/refCPU[round]))
	}
	col := func(rs []run, f func(run) float64) []float64 {
		var out []float64
		for _, r := range rs {
			out = append(out, f(r))
		}
		return out
	}
	rate := func(r run) float64 { return r.rate }
	perFrame := func(r run) float64 { return r.perFrame }
	ratios := func(rs []run) []float64 {
		var out []float64
		for i, r := range rs {
			if i < len(refCPU) {
				out = append(out, r.perFrame/refCPU[i])
			}
		}
		return out
	}
	report := func(v []float64, unit string) {
		if len(v) > 0 { // a variant not run (BENCH_VARIANTS) reports nothing
			b.ReportMetric(median(v), unit)
		}
	}
	report(col(pub, rate), "frames/s")
	report(col(pub, perFrame), "cpu-µs/frame")
	report(col(dry, rate), "dryrun-frames/s")
	report(col(dry, perFrame), "dryrun-cpu-µs/frame")
	report(refRates, "natsbench-msgs/s")
	report(refCPU, "natsbench-cpu-µs/msg")
	report(ratios(pub), "cpu-x-natsbench")
	report(ratios(dry), "dryrun-cpu-x-natsbench")
}

// watchWindow waits out a latency window of p; with dir set, the first
// five seconds of it go into an execution trace of the bridge, written to
// dir/name (p runs with PPROF_ADDR): where frames wait, with go tool
// trace -pprof=sched.
func watchWindow(b *testing.B, p *bridgeProc, dir, name string, window time.Duration) {
	if dir == "" {
		time.Sleep(window)
		return
	}
	start := time.Now()
	url := logValue(b, p.stderr, "serving Go's profiler", "url")
	if err := fetchTo(url+"trace?seconds=5", filepath.Join(dir, name)); err != nil {
		b.Errorf("execution trace: %v", err)
	}
	time.Sleep(window - time.Since(start))
}

// fetchTo writes what GET url answers to the file path.
func fetchTo(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkNatsBenchPublishModes: the reference's own publishing modes on
// one server, round by round: `nats bench js pub async`, `fast`
// (fast-ingest batches, nats-server 2.14+) and `atomic` (atomic batches,
// 2.12+), each with --dedup, 76,000 messages of 392 bytes (the
// notification dialect's run and message size). Metrics: CPU µs per
// message and messages per second of each: whether batching pays on the
// client before the bridge's publisher would use it.
func BenchmarkNatsBenchPublishModes(b *testing.B) {
	ns, _ := benchServer(b)
	cli := natsCLI(b)
	const msgs, size = 76000, 392
	modes := []string{"async", "fast", "atomic"}
	cpu, rates := map[string][]float64{}, map[string][]float64{}
	for round := range b.N {
		for _, mode := range modes {
			rate, c := natsBenchMode(b, cli, ns.URL, mode, msgs, size)
			cpu[mode] = append(cpu[mode], float64(c.Microseconds())/msgs)
			rates[mode] = append(rates[mode], rate)
			b.Logf("round %d, %s: %.0f msgs/s, %.2f µs CPU per message", round, mode, rate, cpu[mode][round])
		}
	}
	for _, mode := range modes {
		b.ReportMetric(median(cpu[mode]), mode+"-cpu-µs/msg")
		b.ReportMetric(median(rates[mode]), mode+"-msgs/s")
	}
}

// BenchmarkStreamLatency: the bridge binary in the tutorial dialect at
// 5,000 frames a second (25,000 interactions open at a time, a status
// apart) for 30 seconds, publishing to the embedded server. Frame-to-ack
// latency comes from the bridge's own histogram
// (genesys_bridge_frame_to_ack_seconds), after 5 seconds of warm-up:
// the share of transitions acknowledged within 10 ms, and the p99 and p50
// interpolated within their buckets.
func BenchmarkStreamLatency(b *testing.B) {
	const rate, slots, warm, window = 5000.0, 33_334, 5 * time.Second, 30 * time.Second
	traceDir := os.Getenv("BENCH_TRACE_DIR")
	ns := testkit.StartNATS(b)
	fsrv := startFrameServer(b)
	bridgeBinary(b)
	var within, p99s, p50s []float64
	for round := range b.N {
		stream := fmt.Sprintf("BENCH_LATENCY_%d_%d", round, time.Now().UnixNano())
		base, tag := time.Now(), fmt.Sprintf("%08x", uint32(time.Now().UnixNano()))
		total := int((warm + window + 2*time.Second).Seconds() * rate)
		fsrv.mu.Lock()
		fsrv.gen = func(emit func([]byte)) {
			buf := make([]byte, 0, 512)
			began := time.Now()
			for n := range total {
				if n%10 == 0 { // pace in steps of 10 frames (2 ms)
					emit(nil)
					time.Sleep(time.Until(began.Add(time.Duration(float64(n) / rate * float64(time.Second)))))
				}
				r, s := n/slots, n%slots
				emit(tutorialFrame(buf, int64(n+1), tag, (r+s)/4, s, (r+s)%4, base.Add(time.Duration(float64(n)/rate*float64(time.Second)))))
			}
		}
		fsrv.mu.Unlock()
		env := append(streamEnv(fsrv, ns.URL, stream), "HTTP_ADDR=127.0.0.1:0")
		if traceDir != "" {
			env = append(env, "PPROF_ADDR=127.0.0.1:0")
		}
		p := startBridge(b, env...)
		<-fsrv.connected
		url := "http://" + p.httpAddr(b) + "/metrics"
		time.Sleep(warm)
		before := histogram(b, url, "genesys_bridge_frame_to_ack_seconds")
		watchWindow(b, p, traceDir, fmt.Sprintf("stream-latency-%d-%d.trace", time.Now().Unix(), round), window)
		after := histogram(b, url, "genesys_bridge_frame_to_ack_seconds")
		p.stop(b)
		h := after.minus(before)
		within = append(within, 100*h.share(0.01))
		p99s = append(p99s, 1000*h.quantile(0.99))
		p50s = append(p50s, 1000*h.quantile(0.50))
		b.Logf("round %d: %.0f transitions in %v (%.0f/s); within 10 ms %.2f%%; p50 %.2f ms, p99 %.2f ms (interpolated in buckets)",
			round, h.count, window, h.count/window.Seconds(), within[round], p50s[round], p99s[round])
	}
	b.ReportMetric(median(within), "%within-10ms")
	b.ReportMetric(median(p99s), "p99-ms")
	b.ReportMetric(median(p50s), "p50-ms")
}

// hist is a scraped Prometheus histogram: cumulative counts by upper bound.
type hist struct {
	le     []float64
	counts []float64
	count  float64
}

func histogram(tb testing.TB, url, name string) hist {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var h hist
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch {
		case strings.HasPrefix(line, name+`_bucket{le="`):
			bound := strings.TrimSuffix(strings.TrimPrefix(f[0], name+`_bucket{le="`), `"}`)
			le, err := strconv.ParseFloat(bound, 64)
			if err != nil { // +Inf
				le = 1e9
			}
			h.le, h.counts = append(h.le, le), append(h.counts, v)
		case f[0] == name+"_count":
			h.count = v
		}
	}
	return h
}

func (h hist) minus(o hist) hist {
	out := hist{le: h.le, counts: slices.Clone(h.counts), count: h.count - o.count}
	for i := range out.counts {
		if i < len(o.counts) {
			out.counts[i] -= o.counts[i]
		}
	}
	return out
}

// share is the fraction of observations at or below bound (a bucket bound).
func (h hist) share(bound float64) float64 {
	for i, le := range h.le {
		if le == bound && h.count > 0 {
			return h.counts[i] / h.count
		}
	}
	return 0
}

// quantile interpolates linearly within the bucket holding q.
func (h hist) quantile(q float64) float64 {
	rank := q * h.count
	lo, below := 0.0, 0.0
	for i, le := range h.le {
		if h.counts[i] >= rank {
			in := h.counts[i] - below
			if in == 0 {
				return le
			}
			return lo + (le-lo)*(rank-below)/in
		}
		lo, below = le, h.counts[i]
	}
	return lo
}

// BenchmarkNotificationsLatency: the bridge binary in the notification
// dialect, fed by the simulator as a program of its own (genesys-sim)
// sending about 5,000 frames a second on queue and agent topics, for 30
// seconds; this process holds only the NATS server. Frame-to-ack from the
// bridge's histogram as in BenchmarkStreamLatency; frames/s from its count
// of events read. BENCH_LATENCY_RATE sets another rate (frames/s);
// BENCH_TRACE_DIR=dir writes an execution trace of five seconds of each
// round's window there (through the bridge's PPROF_ADDR).
func BenchmarkNotificationsLatency(b *testing.B) {
	const warm, window = 5 * time.Second, 30 * time.Second
	target := 5000.0
	if v := os.Getenv("BENCH_LATENCY_RATE"); v != "" {
		var err error
		if target, err = strconv.ParseFloat(v, 64); err != nil || target <= 0 {
			b.Fatalf("BENCH_LATENCY_RATE=%q: want frames per second", v)
		}
	}
	traceDir := os.Getenv("BENCH_TRACE_DIR")
	ns := testkit.StartNATS(b)
	bridgeBinary(b)
	simBin := filepath.Join(filepath.Dir(bridgeBinary(b)), "genesys-sim")
	if out, err := exec.Command("go", "build", "-o", simBin, "../genesys-sim").CombinedOutput(); err != nil {
		b.Fatalf("build genesys-sim: %v\n%s", err, out)
	}
	var within, p99s, p50s, rates []float64
	for round := range b.N {
		// About 9.5 frames per conversation, as in BenchmarkFrameToAck.
		sim := exec.Command(simBin, "-addr", "127.0.0.1:0", "-rate", fmt.Sprint(target/9.5/20), "-speed", "20",
			"-seed", fmt.Sprint(round+1))
		simOut := &lineLog{}
		sim.Stdout, sim.Stderr = simOut, io.Discard
		if err := sim.Start(); err != nil {
			b.Fatal(err)
		}
		var simURL string
		var queues, agents []string
		if !testkit.Poll(10*time.Second, func() bool {
			if m := simOut.find(regexp.MustCompile(`simulator on (\S+)`)); m != nil {
				simURL = m[1]
			}
			if m := simOut.find(regexp.MustCompile(`GENESYS_QUEUE_IDS=(\S+)`)); m != nil {
				queues = strings.Split(m[1], ",")
			}
			if m := simOut.find(regexp.MustCompile(`agents \(for GENESYS_USER_IDS\): (\S+)`)); m != nil {
				agents = strings.Split(m[1], ",")
			}
			return simURL != "" && agents != nil
		}) {
			b.Fatalf("genesys-sim printed no address, queues and agents:\n%s", simOut)
		}
		stream := fmt.Sprintf("BENCH_NLAT_%d_%d", round, time.Now().UnixNano())
		env := []string{"GENESYS_CLIENT_ID=sim-client", "GENESYS_CLIENT_SECRET=sim-secret",
			"GENESYS_API_URL=" + simURL, "GENESYS_LOGIN_URL=" + simURL,
			"GENESYS_QUEUE_IDS=" + strings.Join(queues, ","), "GENESYS_USER_IDS=" + strings.Join(agents[:4], ","),
			"NATS_URL=" + ns.URL, "NATS_STREAM=" + stream, "NATS_SUBJECT_PREFIX=" + strings.ToLower(stream),
			"HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=info" /* info logs only lifecycle, and the bound address */}
		if traceDir != "" {
			env = append(env, "PPROF_ADDR=127.0.0.1:0")
		}
		p := startBridge(b, env...)
		url := "http://" + p.httpAddr(b) + "/metrics"
		time.Sleep(warm)
		before := histogram(b, url, "genesys_bridge_frame_to_ack_seconds")
		e0, _ := scrape(url, "genesys_bridge_events_total")
		watchWindow(b, p, traceDir, fmt.Sprintf("notifications-latency-%d-%d.trace", time.Now().Unix(), round), window)
		after := histogram(b, url, "genesys_bridge_frame_to_ack_seconds")
		e1, _ := scrape(url, "genesys_bridge_events_total")
		p.stop(b)
		sim.Process.Signal(syscall.SIGTERM)
		sim.Wait()
		h := after.minus(before)
		within = append(within, 100*h.share(0.01))
		p99s = append(p99s, 1000*h.quantile(0.99))
		p50s = append(p50s, 1000*h.quantile(0.50))
		rates = append(rates, (e1-e0)/window.Seconds())
		b.Logf("round %d: %.0f frames/s read, %.0f transitions; within 10 ms %.2f%%; p50 %.2f ms, p99 %.2f ms (interpolated in buckets)",
			round, rates[round], h.count, within[round], p50s[round], p99s[round])
	}
	b.ReportMetric(median(rates), "frames/s")
	b.ReportMetric(median(within), "%within-10ms")
	b.ReportMetric(median(p99s), "p99-ms")
	b.ReportMetric(median(p50s), "p50-ms")
}
