package redact

import (
	"bytes"
	"testing"
)

// naive finds every (overlapping) occurrence of every pattern.
func naive(patterns [][]byte, buf []byte) map[match]bool {
	out := map[match]bool{}
	for id, p := range patterns {
		for i := 0; i+len(p) <= len(buf); i++ {
			if bytes.Equal(buf[i:i+len(p)], p) {
				out[match{i, i + len(p), id}] = true
			}
		}
	}
	return out
}

// FuzzAutomaton checks the automaton against a naive matcher: the same
// overlapping matches, and a final state whose depth is the longest suffix
// of the input that is a prefix of some pattern.
func FuzzAutomaton(f *testing.F) {
	f.Add([]byte("he"), []byte("she"), []byte("hers"), []byte("ushers and his"))
	f.Add([]byte("aaaaaaaaaa"), []byte("aaaaaaaaab"), []byte("ab"), []byte("aaaaaaaaaaaab"))
	f.Fuzz(func(t *testing.T, p1, p2, p3, hay []byte) {
		var ps [][]byte
		for _, p := range [][]byte{p1, p2, p3} {
			if len(p) > 0 && len(p) < 64 {
				ps = append(ps, p)
			}
		}
		if len(ps) == 0 || len(hay) > 4096 {
			return
		}
		a := buildAutomaton(ps)
		got, state := a.scan(hay, nil)
		want := naive(ps, hay)
		// Duplicate patterns: the automaton reports each id; so does naive.
		if len(got) != len(want) {
			t.Fatalf("automaton found %d matches, naive %d", len(got), len(want))
		}
		for _, m := range got {
			if !want[m] {
				t.Fatalf("automaton reported a match naive did not: %+v", m)
			}
		}
		wantDepth := 0
		for l := min(len(hay), 64); l > 0; l-- {
			for _, p := range ps {
				if len(p) >= l && bytes.Equal(p[:l], hay[len(hay)-l:]) {
					wantDepth = l
					break
				}
			}
			if wantDepth > 0 {
				break
			}
		}
		if int(a.depth[state]) != wantDepth {
			t.Fatalf("final depth %d, want %d", a.depth[state], wantDepth)
		}
	})
}
