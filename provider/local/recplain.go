package local

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"
)

// decodeRecPlain decodes a record's plaintext as encoding/json would
// (unknown fields and trailing data refused). What keyward writes itself
// (json.Marshal of a recPlain: no white space, each field once) is read by
// decodeRecPlainFast, without the
// reflection that made opening the records ~40% of a 50-secret `keyward
// run`'s store work; any other input falls back to encoding/json, so the
// result is encoding/json's for every input (FuzzDecodeRecPlain checks
// this).
func decodeRecPlain(plain []byte) (recPlain, error) {
	if p, ok := decodeRecPlainFast(plain); ok {
		return p, nil
	}
	return decodeRecPlainJSON(plain)
}

// errNotARecord is decodeRecPlainJSON's one error: encoding/json's own
// can quote the plaintext ("unknown field …", "cannot unmarshal number …").
var errNotARecord = errors.New("the plaintext is not a record")

// decodeRecPlainJSON is the reference decoder.
func decodeRecPlainJSON(plain []byte) (recPlain, error) {
	var p recPlain
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return recPlain{}, errNotARecord
	}
	// Only white space may follow (dec.More is false before a stray ] or }
	// too).
	if _, err := dec.Token(); err != io.EOF {
		return recPlain{}, errNotARecord
	}
	return p, nil
}

// decodeRecPlainFast reads the canonical form; ok is false for anything
// else (which the reference decoder then judges), never a guess.
func decodeRecPlainFast(b []byte) (p recPlain, ok bool) {
	d := fastJSON{b: b}
	if !d.byte('{') {
		return recPlain{}, false
	}
	var seen uint8
	for first := true; ; first = false {
		if d.byte('}') {
			break
		}
		if !first && !d.byte(',') {
			return recPlain{}, false
		}
		name, ok := d.str()
		if !ok || !d.byte(':') {
			return recPlain{}, false
		}
		var bit uint8
		switch name {
		case "k":
			bit = 1
			p.Key, ok = d.str()
		case "t":
			bit = 2
			ok = d.time(&p.Created)
		case "m":
			bit = 4
			p.Meta, ok = d.strMap()
		case "v":
			bit = 8
			var raw []byte
			if raw, ok = d.span(); ok {
				p.Value = make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
				n, err := base64.StdEncoding.Decode(p.Value, raw)
				p.Value, ok = p.Value[:n], err == nil
			}
		case "pt":
			bit = 16
			p.PrunedThrough, ok = d.int()
		case "pn":
			bit = 32
			p.PrunedCount, ok = d.int()
		case "pa":
			bit = 64
			ok = d.time(&p.PrunedAt)
		default:
			return recPlain{}, false
		}
		if !ok || seen&bit != 0 {
			return recPlain{}, false
		}
		seen |= bit
	}
	if d.i != len(d.b) {
		return recPlain{}, false
	}
	return p, true
}

// fastJSON reads the canonical subset of JSON decodeRecPlainFast accepts.
type fastJSON struct {
	b []byte
	i int
}

func (d *fastJSON) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string. One with escapes or non-ASCII (json.Marshal writes
// \" and \u003c in the key ring a rotated key's metadata holds) is read by
// encoding/json itself, token by token.
func (d *fastJSON) str() (string, bool) {
	start := d.i
	if b, ok := d.span(); ok {
		return string(b), true
	}
	d.i = start
	if !d.byte('"') {
		return "", false
	}
	for ; d.i < len(d.b); d.i++ {
		switch d.b[d.i] {
		case '\\':
			d.i++ // the escaped byte
		case '"':
			d.i++
			var s string
			if json.Unmarshal(d.b[start:d.i], &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}

// span reads such a string and returns its bytes in place (no copy: the
// base64 of a value is decoded from it straight into the value).
func (d *fastJSON) span() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			b := d.b[start:d.i]
			d.i++
			return b, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, false
		}
	}
	return nil, false
}

// time reads a quoted time through time.Time's own UnmarshalJSON, which is
// what encoding/json calls.
func (d *fastJSON) time(t *time.Time) bool {
	start := d.i
	if _, ok := d.span(); !ok {
		return false
	}
	return t.UnmarshalJSON(d.b[start:d.i]) == nil
}

// maxIntDigits is the most digits int reads: any such number fits an int
// (15 on 64-bit platforms, 9 where int has 32 bits; a longer one is
// encoding/json's to judge).
const maxIntDigits = 15 - 6*(64-strconv.IntSize)/32

// int reads a non-negative integer of at most maxIntDigits digits, no
// leading zero.
func (d *fastJSON) int() (int, bool) {
	start, n := d.i, 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' && d.i-start < maxIntDigits {
		n = n*10 + int(d.b[d.i]-'0')
		d.i++
	}
	digits := d.i - start
	if digits == 0 || (digits > 1 && d.b[start] == '0') {
		return 0, false
	}
	if d.i < len(d.b) && (d.b[d.i] >= '0' && d.b[d.i] <= '9' || d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	return n, true
}

// strMap reads an object of strings, each key once.
func (d *fastJSON) strMap() (map[string]string, bool) {
	if !d.byte('{') {
		return nil, false
	}
	m := map[string]string{}
	for first := true; ; first = false {
		if d.byte('}') {
			return m, true
		}
		if !first && !d.byte(',') {
			return nil, false
		}
		k, ok := d.str()
		if !ok || !d.byte(':') {
			return nil, false
		}
		v, ok := d.str()
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		m[k] = v
	}
}
