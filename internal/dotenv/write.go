package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// ValidKey reports whether k can be written as a .env key. Marshal accepts
// the portable subset of what Parse reads: ASCII letters, digits, _ . -
func ValidKey(k string) error {
	if k == "" {
		return errors.New("empty key")
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("key %q cannot be written to a .env file: use letters, digits and _ . -", k)
		}
	}
	return nil
}

// Quote renders v as a .env value that reads back exactly in this package's
// Parse, in Docker Compose (compose-go) and, wherever that is possible, in
// python-dotenv with interpolation on (Portable says when it is not):
//
//   - bare when it is made only of characters that need no quoting;
//   - without a $ and not ending in a backslash: in double quotes, with \
//     and " escaped and carriage returns written as \r (the three parsers
//     agree on those escapes);
//   - with a $: in single quotes, where neither Compose nor python-dotenv
//     expands $VAR, with ' written as \' — when single quotes can carry the
//     value for python-dotenv (no CR, no \\, no \', no trailing \);
//   - plain printable ASCII ending in a backslash: unquoted (python-dotenv
//     reads a trailing \" as an escaped quote);
//   - anything else in double quotes with \ " and $ escaped, which Parse
//     and Compose read exactly.
//
// Newlines stay literal, so a PEM key is written over several lines.
// A .env file cannot hold NUL bytes or invalid UTF-8; Quote refuses them.
func Quote(v string) (string, error) {
	if i := strings.IndexByte(v, 0); i >= 0 {
		return "", fmt.Errorf("value has a NUL byte at index %d, which a .env file cannot hold", i)
	}
	if !utf8.ValidString(v) {
		return "", errors.New("value is not valid UTF-8, which a .env file cannot hold (base64-encode it)")
	}
	q, _ := quote(v)
	return q, nil
}

// Portable says why Quote(v) would not read back exactly in python-dotenv
// with interpolation on, or "" when it does. (It always reads back exactly
// in Parse and in Docker Compose.) It never returns the value.
func Portable(v string) string {
	if pyVarRE().MatchString(v) {
		return "it contains ${...}, which python-dotenv expands in every kind of value"
	}
	_, why := quote(v)
	return why
}

// pyVarRE is python-dotenv's ${NAME} / ${NAME:-default} reference, which it
// expands in every kind of value, quoted or not, and cannot escape.
var pyVarRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{[^}:]*(?::-[^}]*)?\}`) }) // compiled on first use, not in init

// quote picks the form, and says why python-dotenv would misread it.
func quote(v string) (string, string) {
	dollar := strings.Contains(v, "$")
	trailing := strings.HasSuffix(v, `\`)
	switch {
	case bare(v):
		return v, ""
	case !dollar && !trailing:
		return doubleQuote(v), ""
	case dollar && !strings.Contains(v, "\r") && !strings.Contains(v, `\\`) && !strings.Contains(v, `\'`) && !trailing:
		var b strings.Builder
		b.WriteByte('\'')
		for i := 0; i < len(v); i++ {
			if v[i] == '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[i])
		}
		b.WriteByte('\'')
		return b.String(), ""
	case !dollar && plainASCII(v):
		return v, ""
	case dollar:
		return doubleQuote(v), "it contains $ together with a carriage return, \\\\, \\' or a trailing backslash, which python-dotenv reads differently in every quoting"
	}
	return doubleQuote(v), "it ends in a backslash and holds characters that need quotes; python-dotenv reads \\\" as an escaped quote"
}

func doubleQuote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 8)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// plainASCII reports whether v can be written unquoted with its
// backslashes: printable ASCII without # $ ' " and without blanks at
// either end, which every parser reads literally.
func plainASCII(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || strings.IndexByte("#$'\"", c) >= 0 {
			return false
		}
	}
	return true
}

func bare(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_./:@%+,=-", c) >= 0) {
			return false
		}
	}
	return true
}

// Marshal renders m as .env text, keys sorted, one KEY=VALUE per statement.
// Errors name the key, never the value.
func Marshal(m map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	es := make([]Entry, len(keys))
	for i, k := range keys {
		es[i] = Entry{Key: k, Value: m[k]}
	}
	var buf bytes.Buffer
	if err := Write(&buf, es); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write renders entries in order as .env text. Nothing is written if any
// entry cannot be represented.
func Write(w io.Writer, es []Entry) error {
	var buf bytes.Buffer
	for _, e := range es {
		if err := ValidKey(e.Key); err != nil {
			return err
		}
		q, err := Quote(e.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Key, err)
		}
		line := e.Key + "=" + q + "\n"
		for l := range strings.SplitSeq(line, "\n") {
			if len(l) >= MaxLineBytes {
				return fmt.Errorf("%s: value has a line longer than %d bytes, which a .env file cannot hold", e.Key, MaxLineBytes)
			}
		}
		buf.WriteString(line)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
