package local

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// decodeRecPlain decodes a record's plaintext as encoding/json would
// (unknown fields and trailing data refused). What keyward writes itself
// (json.Marshal of a recPlain: no white space, each field once, ASCII
// strings without escapes) is read by decodeRecPlainFast, without the
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

// decodeRecPlainJSON is the reference decoder.
func decodeRecPlainJSON(plain []byte) (recPlain, error) {
	var p recPlain
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return recPlain{}, err
	}
	if dec.More() {
		return recPlain{}, errors.New("trailing data after the record")
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

// str reads a string of printable ASCII with no escapes.
func (d *fastJSON) str() (string, bool) {
	b, ok := d.span()
	return string(b), ok
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

// int reads a non-negative integer of at most 15 digits, no leading zero.
func (d *fastJSON) int() (int, bool) {
	start, n := d.i, 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' && d.i-start < 15 {
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
