package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// The published messages' descriptions (docs/schema, docs/asyncapi.yaml)
// are what teams in other languages generate their types from: every
// message the end-to-end tests publish is held to them.

const schemaDir = "../../docs/schema"

// messageSchemas compiles the JSON Schemas of the published messages, by
// kind: transition, agent-transition, timings, dead-letter-headers.
func messageSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in %s: %v", schemaDir, err)
	}
	ids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if !strings.HasSuffix(id, "/docs/schema/"+filepath.Base(f)) {
			t.Fatalf("%s: $id %q does not name the file", f, id)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ids[strings.TrimSuffix(filepath.Base(f), ".schema.json")] = id
	}
	out := map[string]*jsonschema.Schema{}
	for kind, id := range ids {
		s, err := c.Compile(id)
		if err != nil {
			t.Fatalf("schema %s: %v", kind, err)
		}
		out[kind] = s
	}
	return out
}

// kindOf tells a message of the stream by its subject (default prefixes).
func kindOf(subject string) string {
	switch {
	case strings.HasPrefix(subject, "genesys.interactions.agents."):
		return "agent-transition"
	case strings.HasPrefix(subject, "genesys.interactions."):
		return "transition"
	case strings.HasPrefix(subject, "genesys.timings."):
		return "timings"
	case strings.HasPrefix(subject, "genesys.deadletters."):
		return "dead-letter-headers"
	}
	return ""
}

// validateStream holds every message of a stream to its schema (a dead
// letter's headers; its payload is the rejected frame) and returns how
// many of each kind it checked.
func validateStream(t *testing.T, url, stream string) map[string]int {
	t.Helper()
	schemas := messageSchemas(t)
	js := connectJS(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	bad := 0
	for read := uint64(0); read < info.State.Msgs; {
		batch, err := cons.Fetch(int(min(500, info.State.Msgs-read)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			kind := kindOf(m.Subject())
			sch := schemas[kind]
			if sch == nil {
				t.Errorf("message on %s: no schema describes it", m.Subject())
				continue
			}
			var inst any
			if kind == "dead-letter-headers" {
				h := map[string]any{}
				for k, v := range m.Headers() {
					h[k] = v[0]
				}
				inst = h
			} else if inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(m.Data())); err != nil {
				t.Errorf("%s: not JSON: %v", m.Subject(), err)
				continue
			}
			if err := sch.Validate(inst); err != nil {
				if bad++; bad <= 5 {
					t.Errorf("%s does not match %s.schema.json: %v\n%s", m.Subject(), kind, err, m.Data())
				}
			}
			counts[kind]++
		}
		if batch.Error() != nil || n == 0 {
			t.Fatalf("read %d of %d messages: %v", read, info.State.Msgs, batch.Error())
		}
		read += uint64(n)
	}
	t.Logf("stream %s: messages held to their schemas: %v, not matching %d", stream, counts, bad)
	return counts
}

// connectJS connects an independent client, closed when the test ends.
func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// The AsyncAPI document is valid AsyncAPI 3.0.0 (the specification's own
// JSON Schema, testdata/asyncapi), every payload it names is a schema in
// docs/schema, and its channels are the bridge's default subjects.
func TestAsyncAPIDocument(t *testing.T) {
	b, err := os.ReadFile("../../docs/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// Through JSON: the validator takes JSON's types.
	j, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("testdata/asyncapi/asyncapi-3.0.0.json")
	if err != nil {
		t.Fatal(err)
	}
	specDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("asyncapi-3.0.0.json", specDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("asyncapi-3.0.0.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("docs/asyncapi.yaml is not valid AsyncAPI 3.0.0: %v", err)
	}
	// Every file it refers to is a schema of docs/schema.
	schemas := messageSchemas(t)
	refs := 0
	for _, line := range strings.Split(string(b), "\n") {
		if _, ref, ok := strings.Cut(line, "$ref: './schema/"); ok {
			kind := strings.TrimSuffix(strings.TrimSuffix(ref, "'"), ".schema.json")
			if schemas[kind] == nil {
				t.Errorf("asyncapi.yaml refers to ./schema/%s.schema.json, which docs/schema does not have", kind)
			}
			refs++
		}
	}
	if refs != 4 {
		t.Errorf("asyncapi.yaml names %d payload schemas, want the 4 kinds of message", refs)
	}
	// Its addresses are the default subjects.
	cfg := defaultConfig()
	dl := cfg.deadLetterConfig(nil)
	for _, want := range []string{
		cfg.NATSPrefix + ".{channelType}.{toStatus}.{interactionId}",
		cfg.NATSPrefix + ".agents.{routingStatus}.{userId}",
		cfg.NATSTimings + ".{channelType}.{interactionId}",
		dl.SubjectPrefix + ".{reason}",
	} {
		if !strings.Contains(string(b), "address: "+want+"\n") {
			t.Errorf("asyncapi.yaml has no channel at %s", want)
		}
	}
	if kindOf(cfg.NATSPrefix+".agents.idle.u") != "agent-transition" || kindOf(dl.Subject("schema")) != "dead-letter-headers" {
		t.Error("the subjects' kinds in this test are not the bridge's defaults")
	}
}

// The schemas refuse what the bridge never publishes: they hold the
// messages to something.
func TestMessageSchemasRefuse(t *testing.T) {
	schemas := messageSchemas(t)
	good := map[string]string{
		"transition": `{"id":"5b0c3f0e9d8a7b6c5d4e3f2a1b0c9d8e","interactionId":"c1","channelType":"voice","fromStatus":null,"toStatus":"queued",` +
			`"occurredAt":"2026-11-27T09:00:04.512Z","observedAt":"2026-11-27T09:00:04.53Z","reconstructed":false,"backfilled":false,"incomplete":false,"detail":[]}`,
		"agent-transition": `{"id":"5b0c3f0e9d8a7b6c5d4e3f2a1b0c9d8e","userId":"u1","fromRoutingStatus":"idle","toRoutingStatus":"interacting","fromPresence":"on_queue",` +
			`"toPresence":"on_queue","activeQueueIds":[],"occurredAt":"2026-11-27T09:00:04.512Z","observedAt":"2026-11-27T09:00:04.53Z","inPreviousMs":5,` +
			`"reconstructed":false,"backfilled":false,"incomplete":false}`,
		"timings": `{"id":"5b0c3f0e9d8a7b6c5d4e3f2a1b0c9d8e","interactionId":"c1","channelType":"chat","startedAt":"2026-11-27T09:00:00Z","completedAt":"2026-11-27T09:05:00Z",` +
			`"waitMs":1,"alertMs":0,"talkMs":0,"holdMs":0,"holds":0,"wrapupMs":0,"handleMs":0,"transfers":0,"answered":false,"abandoned":true,"abandonedIn":"queued","partial":false}`,
		"dead-letter-headers": `{"Nats-Msg-Id":"5b0c3f0e9d8a7b6c5d4e3f2a1b0c9d8e","Genesys-Bridge-Reason":"schema","Genesys-Bridge-Error":"no id","Genesys-Bridge-Received-At":"2026-11-27T09:00:04Z"}`,
	}
	bad := []struct{ kind, from, to string }{
		{"transition", `"toStatus":"queued"`, `"toStatus":"lost"`},
		{"transition", `"channelType":"voice"`, `"channelType":"fax"`},
		{"transition", `"detail":[]`, `"detail":[],"extra":1`},
		{"transition", `"occurredAt":"2026-11-27T09:00:04.512Z"`, `"occurredAt":"yesterday"`},
		{"agent-transition", `"userId":"u1",`, ``},
		{"agent-transition", `"toPresence":"on_queue"`, `"toPresence":"On Queue"`},
		{"agent-transition", `"inPreviousMs":5`, `"inPreviousMs":-5`},
		{"timings", `"waitMs":1`, `"waitMs":1.5`},
		{"timings", `"abandonedIn":"queued"`, `"abandonedIn":"connected"`},
		{"dead-letter-headers", `"schema"`, `"bad"`},
		{"dead-letter-headers", `"Nats-Msg-Id":"5b0c3f0e9d8a7b6c5d4e3f2a1b0c9d8e",`, ``},
	}
	validate := func(kind, doc string) error {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		return schemas[kind].Validate(inst)
	}
	for kind, doc := range good {
		if err := validate(kind, doc); err != nil {
			t.Errorf("a good %s refused: %v", kind, err)
		}
	}
	for _, b := range bad {
		doc := strings.Replace(good[b.kind], b.from, b.to, 1)
		if doc == good[b.kind] {
			t.Fatalf("%s: %q not in the good message", b.kind, b.from)
		}
		if validate(b.kind, doc) == nil {
			t.Errorf("%s with %s accepted", b.kind, b.to)
		}
	}
}
