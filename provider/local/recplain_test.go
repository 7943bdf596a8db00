package local

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// recPlainSeeds are records as keyward writes them (json.Marshal), and
// near misses that only the reference decoder may judge.
func recPlainSeeds(t testing.TB) [][]byte {
	at := time.Date(2026, 12, 1, 14, 10, 55, 123456789, time.UTC)
	var out [][]byte
	for _, p := range []recPlain{
		{Key: "DATABASE_URL", Created: at, Value: []byte("fuzz-canary-postgres://u:p@h/db")},
		{Key: "EMPTY", Created: at, Value: []byte{}},
		{Key: "META", Created: at.In(time.FixedZone("x", 3600)), Meta: map[string]string{"kw.rotated": "2026-12-01", "k": "v"}, Value: []byte{0, 1, 2, 0xff}},
		{Key: "M", Meta: map[string]string{}},
		{Key: "PRUNED", PrunedThrough: 12, PrunedCount: 7, PrunedAt: at},
		// escapes: json.Marshal writes \u003c, \" (a rotated key's ring
		// in its metadata) and non-ASCII as is.
		{Key: "HTML", Created: at, Meta: map[string]string{"rotation": "{\"grace\":\"1h\"}", "a<b": "c&d"}},
		{Key: "ÜNICODE", Created: at, Value: []byte("x")},
	} {
		b, err := json.Marshal(&p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, s := range []string{
		`{}`, `{"k":"A"}`, `{"K":"A"}`, `{"k":"A","k":"B"}`, `{"k":"A"} `, ` {"k":"A"}`, `{"k":"A"}{}`,
		`{"k":"A","x":1}`, `{"k":null}`, `{"pt":-1}`, `{"pt":01}`, `{"pt":1e2}`, `{"pt":1.0}`, `{"pt":0}`,
		`{"pt":123456789012345678}`, `{"v":"!!"}`, `{"v":"YQ=="}`, `{"v":"YQ"}`, `{"v":""}`, `{"t":"2026-13-01T00:00:00Z"}`,
		`{"t":"2026-12-01T00:00:00Z"}`, `{"t":"2026-12-01T00:00:00+01:00"}`, `{"m":{"a":"1","a":"2"}}`, `{"m":{"a":1}}`,
		`{"m":{}}`, `{"k":"A\u0042"}`, `{"k":"a\tb"}`, `{"k":"A",}`, `{,"k":"A"}`, `{"k":"A"`, `{"k" :"A"}`,
		`{"k":"A"}]`, `{"k":"A"}}`, `{"k":"A\"`, `{"k":"\q"}`, `{"k":"\u00"}`, `{"\u006b":"A"}`, `{"m":{"a\"b":"\u003c"}}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestDecodeRecPlainFastTakesWhatKeywardWrites: the records keyward
// writes are read by the fast path (not the reflection fallback), with
// exactly encoding/json's result.
func TestDecodeRecPlainFastTakesWhatKeywardWrites(t *testing.T) {
	for i, b := range recPlainSeeds(t)[:7] {
		fast, ok := decodeRecPlainFast(b)
		if !ok {
			t.Errorf("seed %d: the fast path declined a record json.Marshal wrote", i)
			continue
		}
		ref, err := decodeRecPlainJSON(b)
		if err != nil || !reflect.DeepEqual(fast, ref) {
			t.Errorf("seed %d: fast and encoding/json disagree (ref err %v)", i, err)
		}
	}
}

// FuzzDecodeRecPlain: for every input, a record the fast path accepts is
// one encoding/json accepts, decoded to the same value; whatever it
// declines goes to encoding/json itself. So decodeRecPlain is
// encoding/json's decoder, only faster on keyward's own output.
func FuzzDecodeRecPlain(f *testing.F) {
	for _, b := range recPlainSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeRecPlain(b)
		ref, rerr := decodeRecPlainJSON(b)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("decodeRecPlain error %v, encoding/json error %v", err != nil, rerr != nil)
		}
		if err == nil && !reflect.DeepEqual(got, ref) {
			t.Fatal("decodeRecPlain and encoding/json decode the record differently")
		}
	})
}
