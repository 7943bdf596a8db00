// Package redact filters a byte stream, replacing secret values — and their
// base64, hex, URL and JSON-escaped forms — with [REDACTED:KEY]. keyward run
// passes its child's stdout and stderr through it.
//
// One Aho–Corasick automaton (leftmost-longest) matches every form of every
// value in a single pass. A value split across two writes is still caught:
// the filter holds back only the longest tail of what it has seen that is a
// prefix of some pattern, and emits everything else at once, so output is
// not delayed unless it might be the start of a secret.
//
// Values shorter than MinLength are not redacted: a short value ("1",
// "true", "prod") matches unrelated output everywhere, and redacting it would
// itself reveal the value to anyone watching which characters disappear.
package redact

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// MinLength is the shortest value (and the shortest encoded form) redacted.
const MinLength = 8

// Filter is an io.WriteCloser that redacts and forwards to another writer.
// Close flushes what it held back; it does not close the underlying writer.
type Filter struct {
	w io.Writer
	r *Redactor

	mu      sync.Mutex
	pending []byte
	out     []byte
	matches []match
}

// Forms returns the forms of value the filter looks for: the value itself;
// standard and URL-safe base64 (padded, and the alignment-independent cores
// for the value starting at byte offsets 0, 1 and 2 of an encoded stream);
// lower- and upper-case hex; query and path percent-encoding; JSON string
// escaping. Forms shorter than MinLength are dropped.
func Forms(value []byte) [][]byte {
	if len(value) < MinLength {
		return nil
	}
	seen := map[string]bool{}
	var out [][]byte
	add := func(b []byte) {
		if len(b) >= MinLength && !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	add(value)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		add([]byte(enc.EncodeToString(value)))
		for k := 0; k < 3; k++ {
			add(Base64Core(enc, value, k))
		}
	}
	h := hex.EncodeToString(value)
	add([]byte(h))
	add([]byte(strings.ToUpper(h)))
	add([]byte(url.QueryEscape(string(value))))
	add([]byte(url.PathEscape(string(value))))
	if j, err := json.Marshal(string(value)); err == nil && len(j) >= 2 {
		add(j[1 : len(j)-1])
	}
	return out
}

// Base64Core returns the characters of enc's encoding of value that do not
// depend on the bytes around it, when value starts at byte offset k (0, 1 or
// 2) of a 3-byte group in a larger encoded stream.
func Base64Core(enc *base64.Encoding, value []byte, k int) []byte {
	padded := make([]byte, k+len(value))
	copy(padded[k:], value)
	s := enc.Strict().WithPadding(base64.NoPadding).EncodeToString(padded)
	from := (8*k + 5) / 6
	to := 8 * (k + len(value)) / 6
	if to <= from || to > len(s) {
		return nil
	}
	return []byte(s[from:to])
}

// Redactor is a compiled set of secrets; its Writers share it.
type Redactor struct {
	secrets map[string][]byte
	keys    []string // of secrets, sorted

	// The patterns (every encoded form of every value) and their automaton
	// are built on first use: a child that writes nothing (keyward run --
	// true) never pays for them.
	once     sync.Once
	patterns [][]byte
	repl     [][]byte
	ac       *automaton
}

func (r *Redactor) automaton() *automaton {
	r.once.Do(r.build)
	return r.ac
}

// build computes the patterns and their automaton.
func (r *Redactor) build() {
	owner := map[string]string{}
	for _, k := range r.keys {
		for _, p := range Forms(r.secrets[k]) {
			if _, dup := owner[string(p)]; dup {
				continue
			}
			owner[string(p)] = k
			r.patterns = append(r.patterns, p)
			r.repl = append(r.repl, []byte("[REDACTED:"+k+"]"))
		}
	}
	r.secrets = nil
	if len(r.patterns) > 0 {
		r.ac = buildAutomaton(r.patterns)
	}
}

// Compile prepares the secrets (key → value) once, for any number of
// filters. Values shorter than MinLength are skipped; their keys are
// returned, sorted, so the caller can say so. The work of compiling is done
// when a filter first writes.
func Compile(secrets map[string][]byte) (*Redactor, []string) {
	r := &Redactor{secrets: make(map[string][]byte, len(secrets))}
	var skipped []string
	for k, v := range secrets {
		if len(v) < MinLength {
			skipped = append(skipped, k)
			continue
		}
		r.secrets[k] = v
		r.keys = append(r.keys, k)
	}
	sort.Strings(r.keys)
	sort.Strings(skipped)
	return r, skipped
}

// Writer returns a filter over w. Filters are independent streams; each is
// safe for one writer at a time (and locks for more).
func (r *Redactor) Writer(w io.Writer) *Filter {
	return &Filter{w: w, r: r}
}

// New returns a filter writing to w that redacts the values in secrets
// (key → value): Compile(secrets) then Writer(w).
func New(w io.Writer, secrets map[string][]byte) (*Filter, []string) {
	r, skipped := Compile(secrets)
	return r.Writer(w), skipped
}

// Write redacts p and forwards what is safe to emit. It always consumes all
// of p unless the underlying writer fails.
func (f *Filter) Write(p []byte) (int, error) {
	ac := f.r.automaton()
	if ac == nil {
		return f.w.Write(p)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := append(f.pending, p...)
	// The automaton's final state is the longest suffix of buf that is a
	// prefix of some pattern: those bytes might yet become a secret, so
	// they are held back. A match starting before them is final (a longer
	// pattern starting there would make a longer such suffix).
	ms, state := ac.scan(buf, f.matches[:0])
	f.matches = ms
	n, err := f.emit(buf, ms, len(buf)-int(ac.depth[state]))
	// Keep the unemitted tail (copy: buf may alias f.pending's array).
	f.pending = append(f.pending[:0:0], buf[n:]...)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// emit writes buf up to at least boundary, redacting the chosen matches
// that start before boundary, and returns how many bytes it consumed.
func (f *Filter) emit(buf []byte, ms []match, boundary int) (int, error) {
	out := f.out[:0]
	pos := 0
	for _, m := range leftmostLongest(ms) {
		if m.start >= boundary {
			break
		}
		out = append(out, buf[pos:m.start]...)
		out = append(out, f.r.repl[m.id]...)
		pos = m.end
	}
	if pos < boundary {
		out = append(out, buf[pos:boundary]...)
		pos = boundary
	}
	f.out = out
	if len(out) == 0 {
		return pos, nil
	}
	_, err := f.w.Write(out)
	return pos, err
}

// Close flushes held-back bytes (redacting any complete match among them).
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) == 0 {
		return nil
	}
	// pending is only ever filled with an automaton (Write passes
	// everything through without one).
	ms, _ := f.r.automaton().scan(f.pending, f.matches[:0])
	_, err := f.emit(f.pending, ms, len(f.pending))
	f.pending = nil
	return err
}
