package schema

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in keyward.yaml, 1-based. The zero Pos means unknown.
type Pos struct {
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// Error is one problem in keyward.yaml, with the file and position it was
// found at. Messages never contain a secret value.
type Error struct {
	File string
	Pos  Pos
	Msg  string
	// Hint, if set, is a suggestion ("did you mean …").
	Hint string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Pos.Line, e.Pos.Column)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// ErrorList is every problem found in one keyward.yaml, in file order. Load
// reports them all at once rather than stopping at the first.
type ErrorList []*Error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return fmt.Sprintf("%d problems:\n\t%s", len(l), strings.Join(s, "\n\t"))
}

// Unwrap returns the individual errors.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Pos.Line != l[j].Pos.Line {
			return l[i].Pos.Line < l[j].Pos.Line
		}
		return l[i].Pos.Column < l[j].Pos.Column
	})
}

// suggest returns "did you mean X?" for the closest candidate, or "".
func suggest(got string, candidates []string) string {
	best, bestD := "", 1<<30
	g := strings.ToLower(got)
	for _, c := range candidates {
		d := levenshtein(g, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	limit := max(2, len(got)/3)
	if bestD > limit {
		return ""
	}
	return fmt.Sprintf("did you mean %q?", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
