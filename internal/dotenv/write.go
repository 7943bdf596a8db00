package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
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

// Quote renders v as a .env value that Parse reads back exactly: bare when
// it is made only of characters that need no quoting, otherwise in double
// quotes with \ " and $ escaped and carriage returns written as \r.
// Newlines stay literal, so a PEM key is written over several lines.
//
// A .env file cannot hold NUL bytes or invalid UTF-8; Quote refuses them.
func Quote(v string) (string, error) {
	if i := strings.IndexByte(v, 0); i >= 0 {
		return "", fmt.Errorf("value has a NUL byte at index %d, which a .env file cannot hold", i)
	}
	if !utf8.ValidString(v) {
		return "", errors.New("value is not valid UTF-8, which a .env file cannot hold (base64-encode it)")
	}
	if bare(v) {
		return v, nil
	}
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
	return b.String(), nil
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
