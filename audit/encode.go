package audit

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecord appends r's JSON exactly as encoding/json (with HTML
// escaping off, the Record struct's field order and omitempty rules) would
// write it: the hash chain and Verify depend on the bytes, so records
// written by either encoder verify with the other (TestEncodeMatchesJSON).
// Written by hand because the reflection encoder's first use costs every
// keyward command ~0.2 ms.
func appendRecord(b []byte, r *Record) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.V), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"time":`...)
	var err error
	if b, err = appendTime(b, r.Time); err != nil {
		return nil, err
	}
	b = append(b, `,"actor":`...)
	b = appendActor(b, &r.Actor)
	b = append(b, `,"action":`...)
	b = appendString(b, r.Action)
	b = appendOptString(b, `,"env":`, r.Env)
	b = appendOptString(b, `,"store":`, r.Store)
	b = appendOptString(b, `,"key":`, r.Key)
	b = appendOptString(b, `,"version":`, r.Version)
	b = append(b, `,"outcome":`...)
	b = appendString(b, r.Outcome)
	b = appendOptString(b, `,"code":`, r.Code)
	b = appendOptBool(b, `,"cached":true`, r.Cached)
	b = appendOptBool(b, `,"stale":true`, r.Stale)
	b = appendOptString(b, `,"value_hmac":`, r.ValueHMAC)
	b = appendOptString(b, `,"detail":`, r.Detail)
	if len(r.Keys) > 0 {
		b = append(b, `,"keys":[`...)
		for i := range r.Keys {
			if i > 0 {
				b = append(b, ',')
			}
			k := &r.Keys[i]
			b = append(b, `{"key":`...)
			b = appendString(b, k.Key)
			b = appendOptString(b, `,"version":`, k.Version)
			b = appendOptBool(b, `,"cached":true`, k.Cached)
			b = appendOptBool(b, `,"stale":true`, k.Stale)
			b = appendOptString(b, `,"value_hmac":`, k.ValueHMAC)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"prev":`...)
	b = appendString(b, r.Prev)
	b = append(b, `,"hash":`...)
	b = appendString(b, r.Hash)
	return append(b, '}'), nil
}

func appendActor(b []byte, a *Actor) []byte {
	b = append(b, '{')
	n := len(b)
	field := func(name string) {
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, name...)
	}
	if a.User != "" {
		field(`"user":`)
		b = appendString(b, a.User)
	}
	if a.UID != "" {
		field(`"uid":`)
		b = appendString(b, a.UID)
	}
	if a.Host != "" {
		field(`"host":`)
		b = appendString(b, a.Host)
	}
	if a.PID != 0 {
		field(`"pid":`)
		b = strconv.AppendInt(b, int64(a.PID), 10)
	}
	if a.Process != "" {
		field(`"process":`)
		b = appendString(b, a.Process)
	}
	if c := a.CI; c != nil {
		field(`"ci":{"system":`)
		b = appendString(b, c.System)
		b = appendOptString(b, `,"actor":`, c.Actor)
		b = appendOptString(b, `,"repo":`, c.Repo)
		b = appendOptString(b, `,"run":`, c.Run)
		b = appendOptString(b, `,"job":`, c.Job)
		b = append(b, '}')
	}
	if k := a.K8s; k != nil {
		field(`"k8s":{`)
		m := len(b)
		sub := func(name, v string) {
			if v == "" {
				return
			}
			if len(b) > m {
				b = append(b, ',')
			}
			b = append(b, name...)
			b = appendString(b, v)
		}
		sub(`"namespace":`, k.Namespace)
		sub(`"service_account":`, k.ServiceAccount)
		sub(`"pod":`, k.Pod)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendTime is time.Time.MarshalJSON (RFC 3339 with nanoseconds, zeros
// trimmed); like it, a year outside 0–9999 is an error.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	out, err := t.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, out...), nil
}

func appendOptString(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, name...)
	return appendString(b, v)
}

func appendOptBool(b []byte, text string, v bool) []byte {
	if !v {
		return b
	}
	return append(b, text...)
}

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string encoding with HTML escaping off:
// ", \ and control bytes escaped (\b \f \n \r \t short), invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
