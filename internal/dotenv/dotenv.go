// Package dotenv parses and writes .env files with Docker Compose's
// semantics, and reports every malformed input as file:line:column.
//
// Parse reads KEY=VALUE statements:
//
//	# a comment line
//	export API_URL=https://api.example.com   # inline comment (unquoted values only)
//	GREETING='literal $NOT_EXPANDED \n'      # single quotes: literal, only \' is special
//	PEM="-----BEGIN KEY-----
//	AAAA
//	-----END KEY-----"                        # double quotes: escapes, multi-line, ${VAR}
//	DSN=postgres://${DB_USER}:${DB_PASSWORD:-dev}@db/app
//
// The rules are Docker Compose's (compose-spec/compose-go/v2/dotenv), which
// this package reproduces and checks itself against in its tests; the
// ${VAR} interpolation is compose-go's own template engine. Parse differs
// from compose-go only where compose-go accepts input that is almost
// certainly a mistake or loses information:
//
//   - text after a closing quote (other than a # comment) is an error, where
//     compose-go would silently read it as another statement;
//   - CRLF line endings are read as LF everywhere, also inside quoted values;
//   - NUL bytes, invalid UTF-8 and lines longer than MaxLineBytes are errors;
//   - a bare KEY on the last line without a newline is read like any bare
//     KEY (taken from the lookup), where compose-go misreads it;
//   - interpolation is bounded (MaxValueExpansion, MaxFileExpansion,
//     MaxNesting, MaxSubstitutions, MaxInterpolationWork), so a few hundred
//     bytes cannot expand to gigabytes or take minutes.
//
// Errors never contain a value or a line of the file: only the file name,
// the position and what is wrong, so they are safe to log.
//
// Marshal and Quote write .env text that Parse reads back byte for byte.
package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/template"
)

// MaxLineBytes is the longest line Parse accepts: 128 KiB, the Linux limit
// on one environment string (MAX_ARG_STRLEN), so a longer value could never
// reach a process environment anyway.
const MaxLineBytes = 128 << 10

// MaxFileBytes is the largest .env file Parse accepts.
const MaxFileBytes = 16 << 20

// Limits on ${VAR} interpolation, so that a few hundred bytes of .env
// cannot expand to gigabytes or keep the CPU busy for minutes. An input
// over a limit is a *SyntaxError naming the file, the line and column of
// the value, the key being defined and the variable involved — never a
// value. See docs/providers/dotenv.md.
const (
	// MaxValueExpansion bounds the bytes substitution may insert into one
	// value (the values of the variables it references, added up): 1 MiB.
	MaxValueExpansion = 1 << 20
	// MaxFileExpansion bounds the bytes substitution may insert into all
	// the values of one file together: 16 MiB.
	MaxFileExpansion = 16 << 20
	// MaxNesting bounds how deeply ${...} may nest inside a default or
	// alternative value (${A:-${B:-x}} nests 2 deep).
	MaxNesting = 16
	// MaxSubstitutions bounds the variable lookups interpolation makes in
	// one file.
	MaxSubstitutions = 20_000
	// MaxInterpolationWork bounds the text interpolation has to rescan in
	// one file: Docker Compose's engine reads the rest of a value again
	// for every reference with an operator (${A:-x}, ${A-x}, ${A:+x},
	// ${A+x}, ${A:?msg}, ${A?msg}), so a value of n bytes with k such
	// references costs k×n. The sum over the file's values is bounded.
	MaxInterpolationWork = 1 << 20
)

// Entry is one KEY=VALUE statement.
type Entry struct {
	Key   string
	Value string
	// Line and Col locate the statement's key (1-based; Col counts runes).
	Line, Col int
}

// Options controls Parse. The zero value reads a file called ".env" and
// interpolates only from keys defined earlier in the same file.
type Options struct {
	// Name is the file name used in errors.
	Name string
	// Lookup resolves ${VAR} references and bare KEY lines. As in Docker
	// Compose it is consulted before keys defined earlier in the file.
	// os.LookupEnv gives Compose's behaviour; nil means no environment.
	Lookup func(string) (string, bool)
	// NoInterpolate leaves $VAR and ${VAR} in values as written (escape
	// sequences in double quotes are still processed; $$ stays $$).
	NoInterpolate bool
	// Warn, if set, is called for every reference to a variable that is
	// not set (neither in Lookup nor earlier in the file) and has no
	// default: Docker Compose reads it as an empty string and warns too.
	Warn func(Warning)
}

// Warning is a reference to an undefined variable. It names the variable
// and where the reference is, never a value.
type Warning struct {
	File      string
	Line, Col int
	Variable  string
	// Braced is set for ${VAR}; python-dotenv expands only that form, and
	// keeps a bare $VAR as written where Compose reads it as empty.
	Braced bool
}

func (w Warning) String() string {
	if w.Braced {
		return fmt.Sprintf("%s:%d:%d: variable %s is not set: ${%s} reads as an empty string (write $$ for a literal $, or read the file with ?interpolate=false)", w.File, w.Line, w.Col, w.Variable, w.Variable)
	}
	return fmt.Sprintf("%s:%d:%d: variable %s is not set: $%s reads as an empty string, as in Docker Compose, where python-dotenv keeps it as written (write $$ for a literal $, or read the file with ?interpolate=false)", w.File, w.Line, w.Col, w.Variable, w.Variable)
}

// SyntaxError reports malformed input. It never carries file content.
type SyntaxError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Parse parses .env text and returns its statements in file order.
// A key that appears twice appears twice; use Map for "last one wins".
func Parse(data []byte, opts *Options) ([]Entry, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = ".env"
	}
	if len(data) > MaxFileBytes {
		return nil, &SyntaxError{File: o.Name, Line: 1, Col: 1, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileBytes)}
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if err := validate(o.Name, data); err != nil {
		return nil, err
	}
	src := strings.ReplaceAll(string(data), "\r\n", "\n")
	p := &parser{src: src, opts: o, seen: map[string]string{}, budget: budget{
		fileExpansion: MaxFileExpansion, substitutions: MaxSubstitutions, work: MaxInterpolationWork}}
	p.lines = lineStarts(src)
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.out, nil
}

// ParseMap parses .env text into a map; a repeated key keeps its last value.
func ParseMap(data []byte, opts *Options) (map[string]string, error) {
	es, err := Parse(data, opts)
	if err != nil {
		return nil, err
	}
	return Map(es), nil
}

// Map turns entries into a map; a repeated key keeps its last value.
func Map(es []Entry) map[string]string {
	m := make(map[string]string, len(es))
	for _, e := range es {
		m[e.Key] = e.Value
	}
	return m
}

// validate checks the raw bytes: NUL, invalid UTF-8, over-long lines.
func validate(name string, data []byte) error {
	line, lineStart := 1, 0
	for i := 0; i < len(data); {
		c := data[i]
		if c == '\n' {
			line++
			i++
			lineStart = i
			continue
		}
		if i-lineStart >= MaxLineBytes {
			return &SyntaxError{File: name, Line: line, Col: runeCol(data[lineStart:i]),
				Msg: fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)}
		}
		if c == 0 {
			return &SyntaxError{File: name, Line: line, Col: runeCol(data[lineStart:i]), Msg: "NUL byte"}
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return &SyntaxError{File: name, Line: line, Col: runeCol(data[lineStart:i]), Msg: "invalid UTF-8"}
		}
		i += n
	}
	return nil
}

// runeCol is the 1-based rune column of the byte after prefix.
func runeCol(prefix []byte) int { return utf8.RuneCount(prefix) + 1 }

func lineStarts(s string) []int {
	ls := []int{0}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			ls = append(ls, i+1)
		}
	}
	return ls
}

type parser struct {
	src   string
	lines []int
	opts  Options
	seen  map[string]string
	out   []Entry
	budget
}

// budget is what is left of the file's interpolation limits.
type budget struct {
	fileExpansion int
	substitutions int
	work          int
}

func (p *parser) pos(off int) (line, col int) {
	// binary search the line containing off
	lo, hi := 0, len(p.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if p.lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, utf8.RuneCountInString(p.src[p.lines[lo]:off]) + 1
}

func (p *parser) errAt(off int, format string, args ...any) error {
	l, c := p.pos(off)
	return &SyntaxError{File: p.opts.Name, Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
}

// isSpace is compose-go's notion of blank: white space other than a newline.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

func isKeyRune(r rune) bool {
	switch r {
	case '_', '.', '-', '[', ']':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

func (p *parser) skip(i int, f func(rune) bool) int {
	for i < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[i:])
		if !f(r) {
			break
		}
		i += n
	}
	return i
}

func (p *parser) parse() error {
	s := p.src
	i := 0
	for {
		i = p.skip(i, unicode.IsSpace)
		if i >= len(s) {
			return nil
		}
		if s[i] == '#' {
			i = eol(s, i)
			continue
		}
		// "export KEY=..." (export followed by blanks).
		if strings.HasPrefix(s[i:], "export") {
			if j := p.skip(i+len("export"), isSpace); j > i+len("export") && j < len(s) && s[j] != '\n' {
				i = j
			}
		}
		keyStart := i
		var term byte // '=', ':', '\n' or 0 at end of input
		j := i
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if r == '=' || r == ':' || r == '\n' {
				term = byte(r)
				break
			}
			if !isSpace(r) && !isKeyRune(r) {
				if j == keyStart {
					return p.errAt(j, "expected KEY=VALUE: a key is letters, digits and _ . - [ ]")
				}
				return p.errAt(j, "invalid character in key (a key is letters, digits and _ . - [ ])")
			}
			j += n
		}
		key := strings.TrimRightFunc(s[keyStart:j], isSpace)
		if key == "" {
			return p.errAt(keyStart, "missing key before '%c'", term)
		}
		if k := strings.IndexFunc(key, isSpace); k >= 0 {
			return p.errAt(keyStart+k, "key contains a space")
		}
		kl, kc := p.pos(keyStart)
		if term == '\n' || term == 0 {
			// A bare KEY takes its value from the lookup, if it has one.
			if p.opts.Lookup != nil {
				if v, ok := p.opts.Lookup(key); ok {
					p.add(Entry{Key: key, Value: v, Line: kl, Col: kc})
				}
			}
			i = j
			continue
		}
		i = p.skip(j+1, isSpace)
		var (
			value string
			err   error
		)
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			value, i, err = p.quoted(key, i)
		} else {
			value, i, err = p.unquoted(key, i)
		}
		if err != nil {
			return err
		}
		p.add(Entry{Key: key, Value: value, Line: kl, Col: kc})
	}
}

func (p *parser) add(e Entry) {
	p.seen[e.Key] = e.Value
	p.out = append(p.out, e)
}

func eol(s string, i int) int {
	if k := strings.IndexByte(s[i:], '\n'); k >= 0 {
		return i + k
	}
	return len(s)
}

// unquoted reads to the end of the line, drops a " #" comment and trailing
// blanks, and interpolates.
func (p *parser) unquoted(key string, i int) (string, int, error) {
	end := eol(p.src, i)
	v := p.src[i:end]
	v, _, _ = strings.Cut(v, " #")
	v = strings.TrimRightFunc(v, unicode.IsSpace)
	v, err := p.interpolate(key, v, i)
	return v, end, err
}

// quoted reads a quoted value starting at the quote at i. Inside either
// quote a backslash escapes the quote character; double-quoted values then
// get their escape sequences expanded and are interpolated.
func (p *parser) quoted(key string, i int) (string, int, error) {
	s := p.src
	q := s[i]
	var b strings.Builder
	esc := false
	for k := i + 1; k < len(s); k++ {
		c := s[k]
		if c != q {
			if !esc && c == '\\' {
				esc = true
				continue
			}
			if esc {
				esc = false
				b.WriteByte('\\')
			}
			b.WriteByte(c)
			continue
		}
		if esc {
			esc = false
			b.WriteByte(c)
			continue
		}
		// Closing quote: only blanks and a comment may follow on the line.
		after := p.skip(k+1, isSpace)
		if after < len(s) && s[after] != '\n' && s[after] != '#' {
			return "", 0, p.errAt(after, "unexpected text after the closing quote (quote the whole value, or start a comment with #)")
		}
		v := b.String()
		if q == '"' {
			var err error
			if v, err = p.interpolate(key, expandEscapes(v), i); err != nil {
				return "", 0, err
			}
		}
		return v, eol(s, after), nil
	}
	return "", 0, p.errAt(i, "unterminated quoted value (the %c here is never closed)", q)
}

// limitHit aborts the template engine from inside its lookup function
// when a limit is reached; interpolate recovers it.
type limitHit struct{ msg string }

func (p *parser) interpolate(key, v string, off int) (out string, err error) {
	if p.opts.NoInterpolate || !strings.Contains(v, "$") {
		return v, nil
	}
	// Check the shape before running the engine: nesting and the work the
	// engine would do are known from the text alone.
	depth, opRefs := shape(v)
	if depth > MaxNesting {
		return "", p.errAt(off, "value of %s: ${...} nests %d deep; the limit is %d", key, depth, MaxNesting)
	}
	if w := opRefs * len(v); w > p.work {
		return "", p.errAt(off, "value of %s: too much interpolation work (%d references with a default or alternative in a %d-byte value; the limit for a file is %d references × bytes)",
			key, opRefs, len(v), MaxInterpolationWork)
	} else {
		p.work -= w
	}
	valueExpansion := MaxValueExpansion
	defer func() {
		if r := recover(); r != nil {
			hit, ok := r.(limitHit)
			if !ok {
				panic(r)
			}
			out, err = "", p.errAt(off, "value of %s: %s", key, hit.msg)
		}
	}()
	opts := []template.Option{template.WithoutLogging}
	if p.opts.Warn != nil {
		opts = append(opts, template.WithReplacementFunction(p.warnUnset(off)))
	}
	out, err = template.SubstituteWithOptions(v, func(name string) (string, bool) {
		if p.substitutions--; p.substitutions < 0 {
			panic(limitHit{fmt.Sprintf("more than %d variable substitutions in one file (at ${%s})", MaxSubstitutions, name)})
		}
		val, ok := "", false
		if p.opts.Lookup != nil {
			val, ok = p.opts.Lookup(name)
		}
		if !ok {
			val, ok = p.seen[name]
		}
		if valueExpansion -= len(val); valueExpansion < 0 {
			panic(limitHit{fmt.Sprintf("expanding ${%s} would make the value larger than the %d MiB limit on what interpolation may add to one value", name, MaxValueExpansion>>20)})
		}
		if p.fileExpansion -= len(val); p.fileExpansion < 0 {
			panic(limitHit{fmt.Sprintf("expanding ${%s} would exceed the %d MiB limit on what interpolation may add to one file", name, MaxFileExpansion>>20)})
		}
		return val, ok
	}, opts...)
	if err != nil {
		// template errors quote the value; never repeat it.
		var mr *template.MissingRequiredError
		if errors.As(err, &mr) {
			return "", p.errAt(off, "required variable %s is missing a value", mr.Variable)
		}
		return "", p.errAt(off, "invalid ${...} interpolation (write $$ for a literal $)")
	}
	return out, nil
}

// shape measures a value's interpolation syntax as Compose's engine will
// meet it: how deeply ${ nests, and how many references carry an operator
// (a default, an alternative or a required-message), each of which makes
// the engine read the rest of the value again. It errs on the high side.
func shape(v string) (depth, opRefs int) {
	cur := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '$':
			if i+1 >= len(v) {
				continue
			}
			switch v[i+1] {
			case '$':
				i++
			case '{':
				i++
				if cur++; cur > depth {
					depth = cur
				}
				j := i + 1
				for j < len(v) && (v[j] == '_' || v[j] >= 'a' && v[j] <= 'z' || v[j] >= 'A' && v[j] <= 'Z' || v[j] >= '0' && v[j] <= '9') {
					j++
				}
				if j < len(v) && v[j] == ':' {
					j++
				}
				if j < len(v) && (v[j] == '-' || v[j] == '+' || v[j] == '?') {
					opRefs++
				}
			}
		case '}':
			if cur > 0 {
				cur--
			}
		}
	}
	return depth, opRefs
}

// warnUnset wraps compose-go's replacement so that a reference it reads as
// empty because the variable is not set (exactly where compose-go itself
// would log a warning) is reported through Options.Warn, located by
// searching the source from the value's start at off.
func (p *parser) warnUnset(off int) template.ReplacementFunc {
	cursor := off
	return func(sub string, m template.Mapping, cfg *template.Config) (string, error) {
		val, applied, err := template.DefaultReplacementAppliedFunc(sub, m, cfg)
		if err != nil || applied || !strings.HasPrefix(sub, "$") {
			return val, err
		}
		name, braced := strings.TrimPrefix(sub, "$"), false
		if strings.HasPrefix(name, "{") {
			name, braced = name[1:], true
		}
		if k := strings.IndexFunc(name, func(r rune) bool { return r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) }); k >= 0 {
			name = name[:k]
		}
		ref := "$" + name
		if braced {
			ref = "${" + name
		}
		at := off
		if k := strings.Index(p.src[cursor:], ref); k >= 0 {
			at = cursor + k
			cursor = at + 1
		}
		line, col := p.pos(at)
		p.opts.Warn(Warning{File: p.opts.Name, Line: line, Col: col, Variable: name, Braced: braced})
		return val, nil
	}
}

// escapeSeq and expandEscapes are compose-go's (Apache-2.0): the escape
// sequences Docker Compose expands inside double quotes.
var escapeSeq = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(\\(?:[abcfnrtv$"\\]|0\d{0,3}))`) }) // compiled on first use, not in init

func expandEscapes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return escapeSeq().ReplaceAllStringFunc(s, func(m string) string {
		if m == `\$` {
			// The template engine reads $$ as a literal $.
			return "$$"
		}
		if strings.HasPrefix(m, `\0`) {
			m = strings.Replace(m, `\0`, `\`, 1)
		}
		v, _, _, err := strconv.UnquoteChar(m, '"')
		if err != nil {
			return m
		}
		return string(v)
	})
}
