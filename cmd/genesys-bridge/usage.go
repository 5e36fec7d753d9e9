package main

import (
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
)

// variable is one setting of Config as -h and the start-up check know it:
// read from the Config struct itself, never from a hand-kept copy.
type variable struct {
	Name, Default, Desc string
}

// variables lists every environment variable Config reads, in the order
// of the struct, with its default (defaultConfig) and meaning (desc tag).
func variables() []variable {
	rt, defaults := reflect.TypeFor[Config](), reflect.ValueOf(defaultConfig())
	var vs []variable
	for i := range rt.NumField() {
		f := rt.Field(i)
		if name := f.Tag.Get("env"); name != "" {
			vs = append(vs, variable{Name: name, Default: defaultText(defaults.Field(i)), Desc: f.Tag.Get("desc")})
		}
	}
	return vs
}

// printVariables writes the variables as a table: name, default, meaning.
func printVariables(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, v := range variables() {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Desc)
	}
	tw.Flush()
}

// Set at link time where the build has no VCS information (the image:
// go build -ldflags "-X main.version=v1.2.3 -X main.commit=<sha>").
var version, commit string

// versionText is the module version and the commit the binary was built
// from: what Go embedded, or what the link set.
func versionText() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{}
	}
	mod, rev, when, dirty := bi.Main.Version, commit, "", ""
	if version != "" {
		mod = version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (modified)"
			}
		}
	}
	if mod == "" || mod == "(devel)" {
		mod = "(development build)"
	}
	out := "genesys-bridge " + mod
	if rev != "" {
		out += " commit " + rev + dirty
	}
	if when != "" {
		out += " " + when
	}
	if bi.GoVersion != "" {
		out += " " + bi.GoVersion
	}
	return out
}

// The prefixes of the bridge's own variables: a variable with one of them
// that Config does not read is most likely misspelt.
var ownPrefixes = []string{"GENESYS_", "NATS_", "BRIDGE_", "HTTP_", "LOG_", "AUDIT_"}

// notOurs are variables with those prefixes that other software reads.
var notOurs = []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}

// unknownVariables returns, for each variable of environ (KEY=value) with
// one of the bridge's prefixes that nothing reads, its name and the
// closest known name.
func unknownVariables(environ []string) (unknown [][2]string) {
	known := map[string]bool{}
	var names []string
	for _, v := range variables() {
		known[v.Name] = true
		names = append(names, v.Name)
	}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if known[name] || slices.Contains(notOurs, name) || !slices.ContainsFunc(ownPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		unknown = append(unknown, [2]string{name, closest(name, names)})
	}
	return unknown
}

// closest returns the name at the least edit distance from s.
func closest(s string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		if d := editDistance(s, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
