package genesys

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// sortedUnique's insertion sort (a snapshot's few points) gives what the
// library's sort and compact give, at every length either way.
func TestSortedUnique(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for n := range 41 {
		for range 50 {
			ts := make([]instant, n)
			for i := range ts {
				ts[i] = instantOf(base.Add(time.Duration(rng.IntN(12)) * time.Millisecond))
			}
			want := slices.Clone(ts)
			slices.Sort(want)
			want = slices.Compact(want)
			if got := sortedUnique(slices.Clone(ts)); !slices.Equal(got, want) {
				t.Fatalf("sortedUnique(%v) = %v, want %v", ts, got, want)
			}
		}
	}
}

// Purposes and states are matched in any case: as Genesys spells them
// (the fast path) and otherwise.
func TestRoleAndPhaseIgnoreCase(t *testing.T) {
	for _, tc := range []struct {
		purpose string
		want    role
	}{
		{"agent", roleAgent}, {"Agent", roleAgent}, {"USER", roleAgent}, {"acd", roleACD}, {"ACD", roleACD},
		{"digitalbotflow", roleIVR}, {"DigitalBotFlow", roleIVR}, {"customer", roleOther}, {"Customer", roleOther}, {"", roleOther},
	} {
		if got := roleOf(tc.purpose); got != tc.want {
			t.Errorf("roleOf(%q) = %v, want %v", tc.purpose, got, tc.want)
		}
	}
	for _, tc := range []struct {
		state string
		held  bool
		want  phase
	}{
		{"connected", false, phaseConnected}, {"Connected", true, phaseHeld}, {"DISCONNECTED", false, phaseEnded},
		{"Alerting", false, phaseAlerting}, {"parked", false, phaseHeld}, {"Parked", false, phaseHeld}, {"queued", false, phaseActive},
		{"", false, phaseActive},
	} {
		if got := phaseOfState(tc.state, tc.held); got != tc.want {
			t.Errorf("phaseOfState(%q, %v) = %v, want %v", tc.state, tc.held, got, tc.want)
		}
	}
}

// The vocabulary finds each of its words as its own string, and nothing
// else (a prefix, another case, a word of another list's length).
func TestVocabulary(t *testing.T) {
	for _, list := range [][]string{purposes, states, disconnectTypes} {
		for _, v := range list {
			got, ok := vocabulary.find([]byte(v))
			if !ok || got != v || unsafe.StringData(got) != unsafe.StringData(v) {
				t.Errorf("find(%q) = %q, %v: not the vocabulary's string", v, got, ok)
			}
			for _, other := range []string{strings.ToUpper(v), v[:len(v)-1], v + "x", "x" + v} {
				if got, ok := vocabulary.find([]byte(other)); ok {
					t.Errorf("find(%q) = %q: not a word of the vocabulary", other, got)
				}
			}
		}
	}
	if _, ok := vocabulary.find(nil); ok {
		t.Error("find of nothing found a word")
	}
}
