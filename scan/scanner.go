package scan

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/coregx/ahocorasick"
)

// MinFingerprintKeyLen is the shortest Options.FingerprintKey New accepts.
// A fingerprint is an HMAC of the secret under this key; a key anyone can
// guess lets them test guessed values against a report offline.
const MinFingerprintKeyLen = 16

// AllowMarkers are the inline comments that suppress a finding on their
// line.
var AllowMarkers = []string{"keyward:allow", "gitleaks:allow"}

// Options configure a Scanner.
type Options struct {
	// Managed are the values to find (with their encoded forms).
	Managed []Managed
	// Rules are the format rules. Nil means BuiltinRules(); an empty
	// non-nil slice means none.
	Rules []*Rule
	// FingerprintKey keys the HMAC behind each finding's fingerprint (at
	// least MinFingerprintKeyLen bytes). Fingerprints are comparable across
	// runs, reports and baselines only under the same key. Empty means a
	// random key for this Scanner alone: fingerprints then match nothing
	// written by another Scanner. There is no fixed default key. The CLI
	// uses a per-user key (docs/scan.md).
	FingerprintKey []byte

	// noAnchor (tests) runs every rule on merged windows, the reference
	// the anchored path is compared with.
	noAnchor bool
}

// Scanner finds managed values and credential formats in bytes. It is safe
// for concurrent use.
type Scanner struct {
	ac      *ahocorasick.Automaton // every pattern, lowered, over lowered bytes
	pats    []patInfo
	meta    []ruleMeta
	cache   *windowCache
	managed []Managed
	rules   []*Rule
	whole   []int // rules without keywords: run over whole files
	skipped []Managed
	key     []byte
	mfp     []string // fingerprints of managed values
}

type owner struct {
	managed int
	enc     string
}

// patInfo is one automaton pattern: the ASCII-lowered form of managed
// values and keywords. A hit counts for the case-sensitive ones only where
// the original bytes equal their exact form.
type patInfo struct {
	exact []exactPat
	ci    []int // rules with this case-insensitive keyword
}

type exactPat struct {
	form   []byte
	owners []owner // managed values with this encoded form
	rules  []int   // rules with this case-sensitive keyword
}

func (p *patInfo) exactFor(form []byte) *exactPat {
	for i := range p.exact {
		if bytes.Equal(p.exact[i].form, form) {
			return &p.exact[i]
		}
	}
	p.exact = append(p.exact, exactPat{form: form})
	return &p.exact[len(p.exact)-1]
}

// New builds a Scanner: one Aho–Corasick automaton holding every encoded
// form of every managed value and every rule keyword, ASCII-lowercased; it
// runs over an ASCII-lowercased copy of each buffer, and case-sensitive
// hits are confirmed against the original bytes.
func New(o Options) (*Scanner, error) {
	s := &Scanner{key: o.FingerprintKey, cache: newWindowCache()}
	switch {
	case len(s.key) == 0:
		s.key = make([]byte, 32)
		if _, err := rand.Read(s.key); err != nil {
			return nil, err
		}
	case len(s.key) < MinFingerprintKeyLen:
		return nil, fmt.Errorf("the fingerprint key is %d bytes; it must be at least %d (random) bytes", len(s.key), MinFingerprintKeyLen)
	}
	s.rules = o.Rules
	if s.rules == nil {
		s.rules = BuiltinRules()
	}
	index := map[string]int{}
	var patterns [][]byte
	pat := func(p []byte) *patInfo {
		p = lowerASCII(nil, p)
		i, ok := index[string(p)]
		if !ok {
			i = len(s.pats)
			index[string(p)] = i
			s.pats = append(s.pats, patInfo{})
			patterns = append(patterns, p)
		}
		return &s.pats[i]
	}
	for _, m := range o.Managed {
		v := m.Value.Reveal()
		if len(v) < MinValueLen {
			s.skipped = append(s.skipped, m)
			continue
		}
		mi := len(s.managed)
		s.managed = append(s.managed, m)
		s.mfp = append(s.mfp, s.Fingerprint(v))
		for _, e := range encodedForms(v) {
			p := pat(e.pat).exactFor(e.pat)
			dup := false
			for _, ow := range p.owners {
				if ow.managed == mi {
					dup = true
				}
			}
			if !dup {
				p.owners = append(p.owners, owner{mi, e.enc})
			}
		}
	}
	for ri, r := range s.rules {
		if r.Regex == nil {
			return nil, errors.New("keyward: rule " + r.ID + " has no regex")
		}
		s.meta = append(s.meta, newRuleMeta(r, o.noAnchor))
		if len(r.Keywords) == 0 {
			s.whole = append(s.whole, ri)
			continue
		}
		for _, k := range r.Keywords {
			if k == "" {
				continue
			}
			if r.CaseSensitive {
				p := pat([]byte(k)).exactFor([]byte(k))
				if len(p.rules) == 0 || p.rules[len(p.rules)-1] != ri {
					p.rules = append(p.rules, ri)
				}
				continue
			}
			if p := pat([]byte(k)); len(p.ci) == 0 || p.ci[len(p.ci)-1] != ri {
				p.ci = append(p.ci, ri)
			}
		}
	}
	if len(patterns) > 0 {
		ac, err := ahocorasick.NewBuilder().AddPatterns(patterns).Build()
		if err != nil {
			return nil, err
		}
		s.ac = ac
	}
	return s, nil
}

// Skipped returns the managed values not searched because they are shorter
// than MinValueLen.
func (s *Scanner) Skipped() []Managed { return s.skipped }

// Searched is the number of managed values searched.
func (s *Scanner) Searched() int { return len(s.managed) }

// Rules returns the scanner's rules.
func (s *Scanner) Rules() []*Rule { return s.rules }

// Fingerprint is the short keyed fingerprint of a secret: the first 12 hex
// digits of HMAC-SHA256(key, secret). It identifies a secret across files,
// encodings and runs without revealing it.
func (s *Scanner) Fingerprint(secret []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write(secret)
	return hex.EncodeToString(m.Sum(nil))[:12]
}

// KeyID names the fingerprint key without revealing it: the first 16 hex
// digits of HMAC-SHA256(key, "keyward scan key id v1"). Baselines record it,
// so a scan can tell a baseline written under another key (whose entries
// cannot match) from one that simply has no matching findings.
func (s *Scanner) KeyID() string {
	return KeyID(s.key)
}

// KeyID is Scanner.KeyID for a key.
func KeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("keyward scan key id v1"))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// Match is one hit in a buffer, before it is placed in a file or commit.
type Match struct {
	Kind        string // KindManaged or KindRule
	RuleID      string
	Description string
	Key, Env    string
	Version     string
	Encoding    string
	Start, End  int // byte offsets of the whole match
	Fingerprint string
}

// Kinds of finding.
const (
	KindManaged = "managed"
	KindRule    = "rule"
)

type window struct{ lo, hi int }

// BinarySniffLen is how many leading bytes decide whether data is binary
// (a NUL byte among them).
const BinarySniffLen = 8000

// IsBinary reports whether data looks binary.
func IsBinary(data []byte) bool {
	n := len(data)
	if n > BinarySniffLen {
		n = BinarySniffLen
	}
	return bytes.IndexByte(data[:n], 0) >= 0
}

// ScanBytes finds every managed value and rule match in data, in one pass
// of the automaton plus regexps on small windows. path is used only for
// rules limited to (or excluding) paths. Binary data is searched for
// managed values only. Matches on lines carrying an allow marker are
// dropped.
func (s *Scanner) ScanBytes(data []byte, path string) []Match {
	var out []Match
	binary := IsBinary(data)
	var wins map[int][]window
	if s.ac != nil {
		bp := scratchPool.Get().(*[]byte)
		low := lowerASCII(*bp, data)
		for _, m := range s.ac.FindAllOverlapping(low) {
			p := &s.pats[m.PatternID]
			for i := range p.exact {
				ex := &p.exact[i]
				if !bytes.Equal(data[m.Start:m.End], ex.form) {
					continue
				}
				for _, ow := range ex.owners {
					mv := &s.managed[ow.managed]
					out = append(out, Match{Kind: KindManaged, Key: mv.Key, Env: mv.Env, Version: mv.Version,
						Encoding: ow.enc, Start: m.Start, End: m.End, Fingerprint: s.mfp[ow.managed]})
				}
				if !binary {
					for _, ri := range ex.rules {
						wins = s.addWindow(wins, ri, m.Start, m.End)
					}
				}
			}
			if !binary {
				for _, ri := range p.ci {
					wins = s.addWindow(wins, ri, m.Start, m.End)
				}
			}
		}
		if cap(low) <= maxScratch {
			*bp = low[:0]
			scratchPool.Put(bp)
		}
	}
	if binary {
		return filterAllowed(dedupe(out), data)
	}
	ris := make([]int, 0, len(wins)+len(s.whole))
	for ri := range wins {
		ris = append(ris, ri)
	}
	sort.Ints(ris)
	for _, ri := range ris {
		out = s.runRule(out, ri, data, path, wins[ri])
	}
	for _, ri := range s.whole {
		out = s.runRule(out, ri, data, path, []window{{0, len(data)}})
	}
	out = dedupe(out)
	return filterAllowed(out, data)
}

func (s *Scanner) runRule(out []Match, ri int, data []byte, path string, ws []window) []Match {
	r := s.rules[ri]
	if r.Path != nil && !r.Path.MatchString(path) {
		return out
	}
	for _, ap := range r.AllowPaths {
		if ap.MatchString(path) {
			return out
		}
	}
	if s.meta[ri].anchored != nil {
		return s.runAnchored(out, ri, data, ws)
	}
	bounded := s.meta[ri].maxLen >= 0
	req := s.meta[ri].requires
	for i := range ws {
		w := &ws[i]
		w.lo, w.hi = max(0, w.lo), min(len(data), w.hi)
		if bounded {
			// One byte of context each side, so that \b, ^ and $ at a
			// window's edge see the real neighbours; a match that uses
			// the cut (starts at lo or ends at hi) is dropped below.
			w.lo, w.hi = max(0, w.lo-1), min(len(data), w.hi+1)
		} else {
			// An unbounded regexp runs on whole lines (bounded), as
			// gitleaks' line-oriented rules expect.
			w.lo, w.hi = lineBounds(data, w.lo, w.hi)
		}
	}
	for _, w := range mergeWindows(ws) {
		win := data[w.lo:w.hi]
		if req != nil && !bytes.Contains(win, req) {
			continue
		}
		var edges uint8
		if bounded && w.lo > 0 {
			edges |= 1
		}
		if bounded && w.hi < len(data) {
			edges |= 2
		}
		k := s.cache.key(ri, win, edges)
		rms, ok := s.cache.get(k)
		if !ok {
			rms = s.matchWindow(r, win, edges)
			s.cache.put(k, rms)
		}
		for _, m := range rms {
			out = append(out, Match{Kind: KindRule, RuleID: r.ID, Description: r.Description,
				Start: w.lo + m.start, End: w.lo + m.end, Fingerprint: m.fingerprint})
		}
	}
	return out
}

// matchWindow runs rule r on one window. edges has bit 1 when the window's
// first byte is context only, bit 2 when its last byte is.
func (s *Scanner) matchWindow(r *Rule, win []byte, edges uint8) []relMatch {
	var rms []relMatch
	for _, loc := range r.Regex.FindAllSubmatchIndex(win, -1) {
		if (edges&1 != 0 && loc[0] == 0) || (edges&2 != 0 && loc[1] == len(win)) {
			continue
		}
		ss, se := secretSpan(r, loc)
		if ss < 0 {
			continue
		}
		secret := win[ss:se]
		if !s.accept(r, secret, win[loc[0]:loc[1]]) {
			continue
		}
		rms = append(rms, relMatch{loc[0], loc[1], s.Fingerprint(secret)})
	}
	return rms
}

func secretSpan(r *Rule, loc []int) (int, int) {
	g := r.SecretGroup
	if g > 0 {
		if 2*g+1 < len(loc) && loc[2*g] >= 0 {
			return loc[2*g], loc[2*g+1]
		}
		return -1, -1
	}
	for i := 1; 2*i+1 < len(loc); i++ {
		if loc[2*i] >= 0 && loc[2*i+1] > loc[2*i] {
			return loc[2*i], loc[2*i+1]
		}
	}
	return loc[0], loc[1]
}

func (s *Scanner) accept(r *Rule, secret, whole []byte) bool {
	if len(secret) == 0 {
		return false
	}
	if r.Entropy > 0 && Entropy(secret) < r.Entropy {
		return false
	}
	if r.Check != nil && !r.Check(secret, whole) {
		return false
	}
	if r.builtin && exampleAllowed(secret) {
		return false
	}
	for _, a := range r.Allow {
		t := secret
		if r.AllowMatch {
			t = whole
		}
		if a.Match(t) {
			return false
		}
	}
	if len(r.Stopwords) > 0 {
		l := bytes.ToLower(secret)
		for _, sw := range r.Stopwords {
			if sw != "" && bytes.Contains(l, []byte(sw)) {
				return false
			}
		}
	}
	return true
}

func dedupe(ms []Match) []Match {
	if len(ms) < 2 {
		return ms
	}
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].Start != ms[j].Start {
			return ms[i].Start < ms[j].Start
		}
		return ms[i].End > ms[j].End
	})
	type k struct {
		kind, id, key, env, version string
		start                       int
	}
	seen := map[k]bool{}
	out := ms[:0]
	for _, m := range ms {
		kk := k{m.Kind, m.RuleID, m.Key, m.Env, m.Version, m.Start}
		if seen[kk] {
			continue
		}
		seen[kk] = true
		out = append(out, m)
	}
	return out
}

func filterAllowed(ms []Match, data []byte) []Match {
	out := ms[:0]
	for _, m := range ms {
		if !allowed(data, m.Start, m.End) {
			out = append(out, m)
		}
	}
	return out
}

// allowed reports whether the line holding start, or the one holding end,
// carries an allow marker.
func allowed(data []byte, start, end int) bool {
	for _, at := range []int{start, max(start, end-1)} {
		lo := bytes.LastIndexByte(data[:at], '\n') + 1
		hi := bytes.IndexByte(data[at:], '\n')
		if hi < 0 {
			hi = len(data)
		} else {
			hi += at
		}
		line := data[lo:hi]
		for _, mk := range AllowMarkers {
			if bytes.Contains(line, []byte(mk)) {
				return true
			}
		}
	}
	return false
}

// Position converts a byte offset to a 1-based line and column (bytes).
func Position(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line = bytes.Count(data[:off], []byte{'\n'}) + 1
	col = off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
	return line, col
}
