package scan

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/internal/lazyre"
	"github.com/pelletier/go-toml/v2"
)

// gitleaks' configuration file shape (v8), the parts keyward honours.
type glConfig struct {
	Title      string        `toml:"title"`
	Rules      []glRule      `toml:"rules"`
	Allowlist  *glAllowlist  `toml:"allowlist"`
	Allowlists []glAllowlist `toml:"allowlists"`
	Extend     *struct {
		UseDefault bool   `toml:"useDefault"`
		Path       string `toml:"path"`
	} `toml:"extend"`
}

type glRule struct {
	ID          string        `toml:"id"`
	Description string        `toml:"description"`
	Regex       string        `toml:"regex"`
	SecretGroup int           `toml:"secretGroup"`
	Entropy     float64       `toml:"entropy"`
	Keywords    []string      `toml:"keywords"`
	Path        string        `toml:"path"`
	Tags        []string      `toml:"tags"`
	Allowlist   *glAllowlist  `toml:"allowlist"`
	Allowlists  []glAllowlist `toml:"allowlists"`
}

type glAllowlist struct {
	Description string   `toml:"description"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	Paths       []string `toml:"paths"`
	StopWords   []string `toml:"stopwords"`
	Commits     []string `toml:"commits"`
}

// RulesFileError is a malformed rules file; it names the file, line,
// column and field, never a value written in the file.
type RulesFileError struct {
	File string
	Line int
	Col  int // 1 when only the line is known
	Msg  string
}

func (e *RulesFileError) Error() string {
	col := e.Col
	if col < 1 {
		col = 1
	}
	return fmt.Sprintf("keyward: failed to load rules: %s:%d:%d: %s", e.File, e.Line, col, e.Msg)
}

// dropQuoted removes the quoted pieces of the file a parser message repeats
// ('…', "…", `…`), which could be a value.
func dropQuoted(msg string) string {
	var b strings.Builder
	var q rune
	for _, r := range msg {
		switch {
		case q != 0:
			if r == q {
				q = 0
				b.WriteString("…" + string(r))
			}
		case r == '\'' || r == '"' || r == '`':
			q = r
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	if q != 0 {
		b.WriteString("…")
	}
	return b.String()
}

// shownKey is the key at fault as an error may show it, and msg without
// it. A key is the file's text (a quoted key can hold anything, a secret or
// a newline included), so only the parts that are field names of the
// format are shown; any other part is "…", also where go-toml's message
// repeats it unquoted ("key X is already defined").
func shownKey(key []string, msg string) (string, string) {
	parts := make([]string, len(key))
	for i, k := range key {
		if ruleFileKeys()[k] {
			parts[i] = k
			continue
		}
		parts[i] = "…"
		if k != "" {
			msg = strings.ReplaceAll(msg, k, "…")
		}
	}
	return strings.Join(parts, "."), msg
}

// ruleFileKeys are the keys of the gitleaks format keyward reads (the toml
// tags of glConfig and the types in it).
var ruleFileKeys = sync.OnceValue(func() map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag != "" && !keys[tag] {
				keys[tag] = true
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[glConfig]())
	return keys
})

// LoadRulesFile reads a gitleaks-format (v8) TOML rule file.
func LoadRulesFile(path string) ([]*Rule, error) {
	b, err := fsutil.ReadFile(path, fsutil.MaxRulesFile)
	if err != nil {
		return nil, fmt.Errorf("keyward: failed to read rules: %w", err)
	}
	return ParseRules(path, b)
}

// ParseRules parses a gitleaks-format rule file. Each [[rules]] entry
// becomes a Rule: regex, secretGroup, entropy, keywords (anchors; rules
// without keywords run over whole files), path, and the rule's and the
// file's allowlists (regexes, paths, stopwords). [extend] useDefault adds
// keyward's built-in rules. Errors name name:line.
func ParseRules(name string, data []byte) ([]*Rule, error) {
	var c glConfig
	if err := toml.Unmarshal(data, &c); err != nil {
		// The message may quote the text at fault (a value of the file,
		// perhaps a secret): only its first line, with quoted parts cut.
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			key, raw := shownKey(de.Key(), strings.TrimPrefix(de.Error(), "toml: "))
			msg := dropQuoted(firstLine(raw))
			// "cannot decode TOML string into struct field scan.glRule.Entropy
			// of type float64": the Go field is keyward's business, the
			// wanted type is the user's.
			if i, j := strings.Index(msg, " into struct field "), strings.LastIndex(msg, " of type "); i >= 0 && j > i {
				want := msg[j+len(" of type "):]
				switch {
				case strings.HasPrefix(want, "[]scan."):
					want = "an array of tables"
				case strings.HasPrefix(strings.TrimPrefix(want, "*"), "scan.") || strings.HasPrefix(strings.TrimPrefix(want, "*"), "struct"):
					want = "a table"
				}
				msg = msg[:i] + ", want " + want
			}
			if key != "" {
				msg = key + ": " + msg // the field, never its value
			}
			return nil, &RulesFileError{File: name, Line: max(line, 1), Col: max(col, 1), Msg: msg}
		}
		return nil, &RulesFileError{File: name, Line: 1, Col: 1, Msg: dropQuoted(firstLine(strings.TrimPrefix(err.Error(), "toml: ")))}
	}
	ruleLines := sectionLines(data, "[[rules]]")
	lineOf := func(i int) int {
		if i < len(ruleLines) {
			return ruleLines[i]
		}
		return 1
	}
	var global []glAllowlist
	if c.Allowlist != nil {
		global = append(global, *c.Allowlist)
	}
	global = append(global, c.Allowlists...)
	var rules []*Rule
	if c.Extend != nil && c.Extend.UseDefault {
		rules = append(rules, BuiltinRules()...)
	}
	ids := map[string]bool{}
	for i, gr := range c.Rules {
		fail := func(msg string) error { return &RulesFileError{File: name, Line: lineOf(i), Col: 1, Msg: msg} }
		failAt := func(field, msg string) error {
			line, col := fieldPos(data, lineOf(i), field)
			return &RulesFileError{File: name, Line: line, Col: col, Msg: msg}
		}
		if gr.ID == "" {
			return nil, fail("rule has no id")
		}
		if ids[gr.ID] {
			return nil, fail(fmt.Sprintf("rule %q is defined twice", gr.ID))
		}
		ids[gr.ID] = true
		r := &Rule{ID: gr.ID, Description: gr.Description, SecretGroup: gr.SecretGroup, Entropy: gr.Entropy,
			Before: 256, After: 1024}
		if gr.Regex == "" {
			if gr.Path == "" {
				return nil, fail(fmt.Sprintf("rule %q has neither regex nor path", gr.ID))
			}
			return nil, fail(fmt.Sprintf("rule %q: path-only rules are not supported", gr.ID))
		}
		re, err := regexp.Compile(gr.Regex)
		if err != nil {
			return nil, failAt("regex", fmt.Sprintf("rule %q: regex: %s", gr.ID, lazyre.Problem(err)))
		}
		r.Regex = re
		if gr.SecretGroup < 0 || gr.SecretGroup > re.NumSubexp() {
			return nil, failAt("secretGroup", fmt.Sprintf("rule %q: secretGroup %d, but the regex has %d groups", gr.ID, gr.SecretGroup, re.NumSubexp()))
		}
		if gr.Path != "" {
			if r.Path, err = regexp.Compile(gr.Path); err != nil {
				return nil, failAt("path", fmt.Sprintf("rule %q: path: %s", gr.ID, lazyre.Problem(err)))
			}
		}
		for _, k := range gr.Keywords {
			if k = strings.TrimSpace(k); k != "" {
				r.Keywords = append(r.Keywords, k)
			}
		}
		if len(r.Keywords) == 0 {
			// Anchor on the regexp's literal prefix when it has one.
			if p, _ := re.LiteralPrefix(); len(p) >= 3 {
				r.Keywords, r.CaseSensitive = []string{p}, true
			}
		}
		als := append([]glAllowlist(nil), global...)
		if gr.Allowlist != nil {
			als = append(als, *gr.Allowlist)
		}
		als = append(als, gr.Allowlists...)
		for _, al := range als {
			for _, x := range al.Regexes {
				are, err := regexp.Compile(x)
				if err != nil {
					return nil, fail(fmt.Sprintf("rule %q: allowlist regexes: %s", gr.ID, lazyre.Problem(err)))
				}
				r.Allow = append(r.Allow, are)
				if al.RegexTarget == "match" || al.RegexTarget == "line" {
					r.AllowMatch = true
				}
			}
			for _, x := range al.Paths {
				are, err := regexp.Compile(x)
				if err != nil {
					return nil, fail(fmt.Sprintf("rule %q: allowlist paths: %s", gr.ID, lazyre.Problem(err)))
				}
				r.AllowPaths = append(r.AllowPaths, are)
			}
			for _, sw := range al.StopWords {
				r.Stopwords = append(r.Stopwords, strings.ToLower(sw))
			}
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, &RulesFileError{File: name, Line: 1, Col: 1, Msg: "no [[rules]] (and no [extend] useDefault = true)"}
	}
	return rules, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// fieldPos finds the line and column of "field =" in the section starting
// at line from (1-based), or returns from, 1.
func fieldPos(data []byte, from int, field string) (int, int) {
	lines := bytes.Split(data, []byte{'\n'})
	for i := from; i < len(lines); i++ {
		l := bytes.TrimSpace(lines[i])
		if bytes.HasPrefix(l, []byte("[")) {
			break
		}
		if rest, ok := bytes.CutPrefix(l, []byte(field)); ok && bytes.HasPrefix(bytes.TrimSpace(rest), []byte("=")) {
			return i + 1, bytes.Index(lines[i], []byte(field)) + 1
		}
	}
	return from, 1
}

// sectionLines returns the 1-based lines where each header occurs.
func sectionLines(data []byte, header string) []int {
	var out []int
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte(header)) {
			out = append(out, i+1)
		}
	}
	return out
}
