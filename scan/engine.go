package scan

import (
	"bytes"
	"hash/maphash"
	"regexp"
	"regexp/syntax"
	"sort"
	"sync"
	"unicode/utf8"
)

// This file holds the parts of the matching engine that keep rule regexps
// cheap on secret-dense input (issue 17, item 6):
//
//   - Case-insensitive keywords are found without folding each rune: the
//     buffer is ASCII-lowercased once into a pooled scratch buffer and the
//     one automaton, of lowered patterns, runs over it; hits of
//     case-sensitive patterns (managed values, keywords such as AKIA) are
//     confirmed against the original bytes. Keywords thus match in any
//     ASCII case mix, "apiKey" as well as "APIKEY".
//   - A rule whose regexp has a bounded match length runs on a window
//     anchored at the keyword hit (Before bytes before it, After bytes after
//     it, and never more than the regexp can match), not on whole lines.
//   - Windows are merged per rule, so overlapping hits run a regexp once;
//     and the outcome of a rule on a window's exact bytes is cached, so the
//     same line in a thousand versions of a file (history scans) runs the
//     regexp once.

// ruleMeta is what New derives from a rule.
type ruleMeta struct {
	// maxLen is the longest match the regexp can produce, in bytes; -1
	// when unbounded (x*, x+, x{n,}).
	maxLen int
	// anchored, for a rule whose matches start at a keyword (Rule.anchor)
	// and whose regexp is bounded: the regexp as ^(?:…), without a
	// leading \b, which wordStart then stands for.
	anchored  *regexp.Regexp
	wordStart bool
	requires  []byte
}

// newRuleMeta derives a rule's metadata; noAnchor (tests) keeps every rule
// on the window path.
func newRuleMeta(r *Rule, noAnchor bool) ruleMeta {
	m := ruleMeta{maxLen: maxMatchLen(r.Regex.String())}
	if r.requires != "" {
		m.requires = []byte(r.requires)
	}
	if !r.anchor || noAnchor || m.maxLen < 0 {
		return m
	}
	re, err := syntax.Parse(r.Regex.String(), syntax.Perl)
	if err != nil {
		return m
	}
	if re.Op == syntax.OpConcat && len(re.Sub) > 1 && re.Sub[0].Op == syntax.OpWordBoundary {
		re.Sub = re.Sub[1:]
		m.wordStart = true
	}
	a, err := regexp.Compile(`^(?:` + re.String() + `)`)
	if err != nil || a.NumSubexp() != r.Regex.NumSubexp() {
		return ruleMeta{maxLen: m.maxLen, requires: m.requires}
	}
	m.anchored = a
	return m
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// maxMatchLen bounds the length of a match of expr in bytes, or -1.
func maxMatchLen(expr string) int {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return -1
	}
	return reMaxLen(re)
}

func reMaxLen(re *syntax.Regexp) int {
	const unbounded = -1
	switch re.Op {
	case syntax.OpNoMatch, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && r < utf8.RuneSelf {
				// 'k' folds to the Kelvin sign, 's' to the long s.
				n += 3
			} else {
				n += utf8.RuneLen(r)
			}
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		hi := re.Rune[len(re.Rune)-1]
		if hi > utf8.MaxRune {
			hi = utf8.MaxRune
		}
		return utf8.RuneLen(hi)
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		return reMaxLen(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return unbounded
	case syntax.OpRepeat:
		if re.Max < 0 {
			return unbounded
		}
		n := reMaxLen(re.Sub[0])
		if n < 0 {
			return unbounded
		}
		return n * re.Max
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			m := reMaxLen(s)
			if m < 0 {
				return unbounded
			}
			n += m
		}
		return n
	case syntax.OpAlternate:
		n := 0
		for _, s := range re.Sub {
			m := reMaxLen(s)
			if m < 0 {
				return unbounded
			}
			n = max(n, m)
		}
		return n
	}
	return unbounded
}

// lowerASCII maps A–Z to a–z; every other byte is itself, so offsets in
// the lowered copy are offsets in the original.
var lowerTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

func lowerASCII(dst, src []byte) []byte {
	dst = append(dst[:0], src...)
	for i, c := range dst {
		dst[i] = lowerTable[c]
	}
	return dst
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxScratch is the largest buffer returned to the pool.
const maxScratch = 4 << 20

// addWindow records a keyword hit [start, end) of rule ri.
func (s *Scanner) addWindow(wins map[int][]window, ri, start, end int) map[int][]window {
	// An anchored rule runs at the keyword's start only.
	w := window{start, start}
	if m := &s.meta[ri]; m.anchored == nil {
		r := s.rules[ri]
		w = window{start - r.before(), end + r.after()}
		if l := m.maxLen; l >= 0 {
			// A match overlapping the hit starts after start-l and ends
			// before end+l.
			w = window{max(w.lo, start-l), min(w.hi, end+l)}
		}
	}
	if wins == nil {
		wins = map[int][]window{}
	}
	wins[ri] = append(wins[ri], w)
	return wins
}

// mergeWindows sorts ws and merges overlapping or touching windows.
func mergeWindows(ws []window) []window {
	sort.Slice(ws, func(i, j int) bool { return ws[i].lo < ws[j].lo })
	out := ws[:1]
	for _, w := range ws[1:] {
		if n := len(out); w.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, w.hi)
			continue
		}
		out = append(out, w)
	}
	return out
}

// relMatch is a rule match relative to its window. On the anchored path
// a match the rule's checks reject is kept with an empty fingerprint: it
// still consumes its bytes, as in a FindAll over the text.
type relMatch struct {
	start, end  int
	fingerprint string
}

// runAnchored runs rule ri once at each distinct keyword start, on the
// bytes the regexp can reach from there (plus one of context), skipping
// starts inside the previous match.
func (s *Scanner) runAnchored(out []Match, ri int, data []byte, hits []window) []Match {
	r, m := s.rules[ri], &s.meta[ri]
	sort.Slice(hits, func(i, j int) bool { return hits[i].lo < hits[j].lo })
	last, prev := -1, -1
	for _, h := range hits {
		p := h.lo
		if p == prev || p < last {
			continue
		}
		prev = p
		if m.wordStart && p > 0 && isWordByte(data[p-1]) {
			continue
		}
		win := data[p:min(len(data), p+m.maxLen+1)]
		if m.requires != nil && !bytes.Contains(win, m.requires) {
			continue
		}
		k := s.cache.key(ri, win, 4)
		rms, ok := s.cache.get(k)
		if !ok {
			rms = s.matchAnchored(r, m.anchored, win)
			s.cache.put(k, rms)
		}
		for _, rm := range rms {
			last = p + rm.end
			if rm.fingerprint != "" {
				out = append(out, Match{Kind: KindRule, RuleID: r.ID, Description: r.Description,
					Start: p + rm.start, End: p + rm.end, Fingerprint: rm.fingerprint})
			}
		}
	}
	return out
}

func (s *Scanner) matchAnchored(r *Rule, re *regexp.Regexp, win []byte) []relMatch {
	loc := re.FindSubmatchIndex(win)
	if loc == nil {
		return nil
	}
	rm := relMatch{start: loc[0], end: loc[1]}
	if ss, se := secretSpan(r, loc); ss >= 0 && s.accept(r, win[ss:se], win[loc[0]:loc[1]]) {
		rm.fingerprint = s.Fingerprint(win[ss:se])
	}
	return []relMatch{rm}
}

// windowCache remembers, per rule and exact window bytes (two independent
// 64-bit hashes and the length), the accepted matches. It is bounded: once
// full it stops learning, and lookups go on hitting what it holds.
type windowCache struct {
	seed1, seed2 maphash.Seed
	mu           sync.Mutex
	m            map[windowKey][]relMatch
}

type windowKey struct {
	rule   int
	h1, h2 uint64
	n      int
	edges  uint8
}

// maxCacheEntries bounds the cache (each entry is a key and usually no
// matches: about 64 bytes).
const maxCacheEntries = 1 << 17

func newWindowCache() *windowCache {
	return &windowCache{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), m: map[windowKey][]relMatch{}}
}

func (c *windowCache) key(rule int, win []byte, edges uint8) windowKey {
	return windowKey{rule: rule, h1: maphash.Bytes(c.seed1, win), h2: maphash.Bytes(c.seed2, win), n: len(win), edges: edges}
}

func (c *windowCache) get(k windowKey) ([]relMatch, bool) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	return v, ok
}

func (c *windowCache) put(k windowKey, v []relMatch) {
	c.mu.Lock()
	if len(c.m) < maxCacheEntries {
		c.m[k] = v
	}
	c.mu.Unlock()
}

// lineBounds widens [lo, hi) to whole lines, at most maxWiden bytes each
// way. It is how rules with unbounded regexps are run (as before).
func lineBounds(data []byte, lo, hi int) (int, int) {
	const maxWiden = 1024
	if i := bytes.LastIndexByte(data[max(0, lo-maxWiden):lo], '\n'); i >= 0 {
		lo = max(0, lo-maxWiden) + i + 1
	} else {
		lo = max(0, lo-maxWiden)
	}
	if i := bytes.IndexByte(data[hi:min(len(data), hi+maxWiden)], '\n'); i >= 0 {
		hi += i
	} else {
		hi = min(len(data), hi+maxWiden)
	}
	return lo, hi
}
