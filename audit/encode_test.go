package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

func jsonMarshal(t testing.TB, r *Record) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

var trickyStrings = []string{"", "plain", `q"uote\back`, "\x00\x01\b\f\n\r\t\x1f\x7f", "<html>&amp;", "é€😀", "\u2028\u2029",
	"bad\xffutf8\xc3", "\xed\xa0\x80", "line\nbreak", "a/b", "[REDACTED:K]"}

func pick(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return ""
	}
	return trickyStrings[rng.IntN(len(trickyStrings))] + trickyStrings[rng.IntN(len(trickyStrings))]
}

// TestEncodeMatchesJSON: appendRecord writes exactly encoding/json's bytes
// (HTML escaping off) for records with every field set or empty, tricky
// strings (control bytes, quotes, invalid UTF-8, U+2028), CI and
// Kubernetes actors and Keys, so logs written before and after verify alike.
func TestEncodeMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		r := &Record{V: rng.IntN(3), Seq: rng.Uint64() >> uint(rng.IntN(64)),
			Time:   time.Date(2026, 12, 1, 11, 50, 36, rng.IntN(1e9), time.UTC).Truncate(time.Duration(1+rng.IntN(1000)) * time.Microsecond),
			Actor:  Actor{User: pick(rng), UID: pick(rng), Host: pick(rng), PID: rng.IntN(3) * rng.IntN(1<<20), Process: pick(rng)},
			Action: pick(rng), Env: pick(rng), Store: pick(rng), Key: pick(rng), Version: pick(rng), Outcome: pick(rng), Code: pick(rng),
			Cached: rng.IntN(2) == 0, Stale: rng.IntN(2) == 0, ValueHMAC: pick(rng), Detail: pick(rng), Prev: pick(rng), Hash: pick(rng)}
		if i%4 == 1 {
			r.Actor.CI = &CI{System: pick(rng), Actor: pick(rng), Repo: pick(rng), Run: pick(rng), Job: pick(rng)}
		}
		if i%5 == 2 {
			r.Actor.K8s = &K8s{Namespace: pick(rng), ServiceAccount: pick(rng), Pod: pick(rng)}
		}
		if i%3 == 0 {
			for range rng.IntN(4) {
				r.Keys = append(r.Keys, KeyRecord{Key: pick(rng), Version: pick(rng), Cached: rng.IntN(2) == 0, Stale: rng.IntN(2) == 0, ValueHMAC: pick(rng)})
			}
		}
		if i == 0 {
			r = &Record{}
		}
		got, err := marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := jsonMarshal(t, r); !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if _, err := marshal(&Record{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Fatal("a year past 9999 encoded (encoding/json refuses it)")
	}
}

func FuzzEncodeMatchesJSON(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		r := &Record{V: 2, Seq: 7, Time: time.Unix(1700000000, 123456000).UTC(), Actor: Actor{User: a, CI: &CI{System: b}, K8s: &K8s{Pod: a}},
			Action: a, Key: b, Detail: a + b, Keys: []KeyRecord{{Key: a, Version: b}}, Prev: b, Hash: a}
		got, err := marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := jsonMarshal(t, r); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// TestLeadingSeq: the chain head's seq is read without a full decode from
// lines keyward writes, and anything else falls back to json.Unmarshal.
func TestLeadingSeq(t *testing.T) {
	for _, tc := range []struct {
		line string
		seq  uint64
		ok   bool
	}{
		{`{"v":1,"seq":42,"time":"2026-12-01T11:50:36Z","actor":{},"action":"get","outcome":"ok","prev":"","hash":""}`, 42, true},
		{`{"v":2,"seq":18446744073709551615,"x":1}`, 18446744073709551615, true},
		{`{"v":1,"seq":42,"time":`, 0, false},                  // not valid JSON: a cut line
		{`{"seq":42,"v":1}`, 0, false},                         // another order: json.Unmarshal decides
		{`{"v":1,"seq":42}`, 0, false},                         // no field after seq
		{`{"v":1,"seq":-1,"a":1}`, 0, false},                   // not a uint
		{`{"v":1,"seq":99999999999999999999,"a":1}`, 0, false}, // overflows
		{`{"v":,"seq":1,"a":1}`, 0, false},
	} {
		seq, ok := leadingSeq([]byte(tc.line))
		if seq != tc.seq || ok != tc.ok {
			t.Errorf("leadingSeq(%s) = %d, %v; want %d, %v", tc.line, seq, ok, tc.seq, tc.ok)
		}
	}
}
