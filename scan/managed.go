package scan

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/keyward/keyward"
)

// MinValueLen is the shortest managed value the scanner searches for, in
// bytes. Shorter values are skipped (and reported by [Scanner.Skipped]):
// a value of a few bytes occurs by chance in ordinary text and code, so every
// hit would be noise, and the alignment-independent base64 fragment of a
// short value is shorter still (about 4n/3-2 characters), which makes the
// encoded forms even less selective. A value this short is also too weak to
// be worth protecting this way; generate a longer one.
const MinValueLen = 8

// Managed is one value keyward manages: a (key, environment) pair and one of
// its stored versions. The scanner never reports the value, only the key,
// the environment, the encoding it was found in and a keyed fingerprint.
type Managed struct {
	Key     string
	Env     string
	Version string
	Value   keyward.Secret
}

// Encodings of a managed value that the scanner searches for.
const (
	EncRaw       = "raw"
	EncHexLower  = "hex"
	EncHexUpper  = "hex-upper"
	EncBase64    = "base64"
	EncBase64URL = "base64url"
	EncPercent   = "percent"
	EncJSON      = "json-escaped"
	EncGo        = "go-escaped"
)

// Encodings lists every encoding a managed value is searched in.
var Encodings = []string{EncRaw, EncHexLower, EncHexUpper, EncBase64, EncBase64URL, EncPercent, EncJSON, EncGo}

type encoded struct {
	enc string
	pat []byte
}

// encodedForms returns the byte strings that reveal v: v itself, its hex,
// the alignment-independent middle of its standard and URL-safe base64 at
// each of the three byte offsets, and its percent-, JSON- and Go-escaped
// forms when they differ from v.
func encodedForms(v []byte) []encoded {
	out := []encoded{{EncRaw, v}}
	add := func(enc string, p []byte) {
		if len(p) < MinValueLen {
			return
		}
		for _, e := range out {
			if bytes.Equal(e.pat, p) {
				return
			}
		}
		out = append(out, encoded{enc, p})
	}
	h := hex.EncodeToString(v)
	add(EncHexLower, []byte(h))
	add(EncHexUpper, bytes.ToUpper([]byte(h)))
	for _, b := range []struct {
		enc string
		e   *base64.Encoding
	}{{EncBase64, base64.RawStdEncoding}, {EncBase64URL, base64.RawURLEncoding}} {
		for k := 0; k < 3; k++ {
			add(b.enc, base64Fragment(b.e, v, k))
		}
	}
	add(EncPercent, []byte(url.QueryEscape(string(v))))
	add(EncPercent, []byte(url.PathEscape(string(v))))
	var jb bytes.Buffer
	je := json.NewEncoder(&jb)
	je.SetEscapeHTML(false)
	if je.Encode(string(v)) == nil {
		add(EncJSON, unquote(bytes.TrimSuffix(jb.Bytes(), []byte("\n"))))
	}
	if j, err := json.Marshal(string(v)); err == nil {
		add(EncJSON, unquote(j))
	}
	add(EncGo, unquote([]byte(strconv.Quote(string(v)))))
	return out
}

func unquote(b []byte) []byte {
	if len(b) >= 2 {
		return b[1 : len(b)-1]
	}
	return b
}

// base64Fragment is the part of the base64 encoding of v that does not
// depend on the bytes around it when v starts k bytes (0, 1 or 2) past a
// 3-byte boundary of the encoded stream: output character j carries input
// bits [6j, 6j+6), so it is fixed by v alone when those bits all lie inside
// v's bits [8k, 8k+8n).
func base64Fragment(e *base64.Encoding, v []byte, k int) []byte {
	buf := make([]byte, k+len(v))
	copy(buf[k:], v)
	full := e.EncodeToString(buf)
	first := (8*k + 5) / 6
	last := (8 * (k + len(v))) / 6 // exclusive
	if last > len(full) {
		last = len(full)
	}
	if first >= last {
		return nil
	}
	return []byte(full[first:last])
}
