package export

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/dotenv"
)

// Dotenv writes es as a .env file, keys sorted. Values are quoted so that
// keyward's (and Docker Compose's) parser reads back the exact bytes:
// double quotes with \ " $ escaped, newlines kept literal. A .env file cannot
// hold a NUL byte or invalid UTF-8; such a value is an error naming its key.
func Dotenv(w io.Writer, es []Entry) error {
	es = sorted(es)
	if err := checkDuplicates(FormatDotenv, es); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, e := range es {
		if err := dotenv.ValidKey(e.Key); err != nil {
			return keyError(FormatDotenv, e.Key, "not a valid .env key (use letters, digits and _ . -)")
		}
		v := e.Value.RevealString()
		if i := strings.IndexByte(v, 0); i >= 0 {
			return keyError(FormatDotenv, e.Key, "the value has a NUL byte (at index %d), which a .env file cannot hold", i)
		}
		if !utf8.ValidString(v) {
			return keyError(FormatDotenv, e.Key, "the value is not valid UTF-8, which a .env file cannot hold")
		}
		if err := dotenv.Write(&buf, []dotenv.Entry{{Key: e.Key, Value: v}}); err != nil {
			// dotenv's errors name the key and never the value.
			return keyError(FormatDotenv, e.Key, "%s", strings.TrimPrefix(err.Error(), e.Key+": "))
		}
	}
	return writeAll(w, &buf)
}

// JSON writes es as one JSON object, keys sorted, values as strings. JSON
// strings hold any Unicode text, NUL included; a value that is not valid
// UTF-8 cannot be a JSON string and is an error naming its key.
func JSON(w io.Writer, es []Entry) error {
	es = sorted(es)
	if err := checkDuplicates(FormatJSON, es); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteString("{")
	for i, e := range es {
		if !utf8.ValidString(e.Key) {
			return keyError(FormatJSON, e.Key, "the key is not valid UTF-8")
		}
		if !utf8.Valid(e.Value.Reveal()) {
			return keyError(FormatJSON, e.Key, "the value is not valid UTF-8, which a JSON string cannot hold")
		}
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n  ")
		_ = enc.Encode(e.Key)
		buf.Truncate(buf.Len() - 1) // Encode adds a newline
		buf.WriteString(": ")
		_ = enc.Encode(e.Value.RevealString())
		buf.Truncate(buf.Len() - 1)
	}
	if len(es) > 0 {
		buf.WriteString("\n")
	}
	buf.WriteString("}\n")
	return writeAll(w, &buf)
}

// ShellQuote quotes s for POSIX sh with single quotes: every byte stands for
// itself inside '…', and a single quote is written as: close the quotes,
// a backslash-escaped quote, reopen the quotes.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ValidShellName reports whether k is a POSIX shell variable name.
func ValidShellName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Shell writes es as "export KEY='value'" lines for sh, bash and zsh
// (eval "$(keyward export --format shell)"). A shell variable cannot hold a
// NUL byte, and a key must be a shell name; either is an error naming the key.
func Shell(w io.Writer, es []Entry) error {
	es = sorted(es)
	if err := checkDuplicates(FormatShell, es); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, e := range es {
		if !ValidShellName(e.Key) {
			return keyError(FormatShell, e.Key, "not a shell variable name (letters, digits and _, not starting with a digit)")
		}
		v := e.Value.RevealString()
		if i := strings.IndexByte(v, 0); i >= 0 {
			return keyError(FormatShell, e.Key, "the value has a NUL byte (at index %d), which a shell variable cannot hold", i)
		}
		buf.WriteString("export " + e.Key + "=" + ShellQuote(v) + "\n")
	}
	return writeAll(w, &buf)
}
