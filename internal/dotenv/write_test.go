package dotenv

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// pieces are the fragments random values are built from: everything that
// is special to a .env parser somewhere.
var pieces = []string{
	"a", "Z", "0", " ", "  ", "\t", "\n", "\r", "\r\n", "\n\n", "#", " #", "# ", "=", "'", `"`, `\`, `\\`,
	`\n`, `\"`, `\'`, "$", "$$", "${", "}", "${HOME}", "$HOME", "${X:-d}", `\$`, `\0101`, "export ",
	"é", "ß", "🔑", "秘密", "\u00a0", "\u0085", "\uFEFF", "\x01", "\x7f", ":", "[", "]", "`", "%",
}

func randValue(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestQuoteRoundTripProperty writes random maps and parses them back, with a
// hostile lookup that would change any value it was consulted for.
func TestQuoteRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(20240601, 7))
	hostile := func(string) (string, bool) { return "INTERPOLATED", true }
	for i := range 3000 {
		m := map[string]string{}
		for j := range 1 + r.IntN(5) {
			m[[]string{"A", "B_2", "c.d", "e-f", "KEY"}[j]] = randValue(r)
		}
		text, err := Marshal(m)
		if err != nil {
			t.Fatalf("iteration %d: Marshal: %v", i, err)
		}
		got, err := ParseMap(text, &Options{Lookup: hostile})
		if err != nil {
			t.Fatalf("iteration %d: Parse of Marshal output: %v", i, err)
		}
		if !maps.Equal(got, m) {
			for k := range m {
				if got[k] != m[k] {
					t.Fatalf("iteration %d: key %s does not round-trip (wrote %d bytes, read %d)", i, k, len(m[k]), len(got[k]))
				}
			}
			t.Fatalf("iteration %d: key sets differ (%d vs %d)", i, len(got), len(m))
		}
	}
}

func TestQuoteRefuses(t *testing.T) {
	for _, v := range []string{"a\x00b", "\xff", "ok\xc3"} {
		if _, err := Quote(v); err == nil {
			t.Errorf("Quote accepted a %d-byte value a .env cannot hold", len(v))
		}
	}
	if _, err := Marshal(map[string]string{"A": "x\x00"}); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("Marshal of a NUL value: %v", err)
	}
	for _, k := range []string{"", "A B", "A=B", "A#", "Ü"} {
		if _, err := Marshal(map[string]string{k: "v"}); err == nil {
			t.Errorf("Marshal accepted key %q", k)
		}
	}
	if _, err := Marshal(map[string]string{"A": strings.Repeat("x", MaxLineBytes)}); err == nil {
		t.Errorf("Marshal accepted a value longer than a line may be")
	}
}

func TestQuoteForms(t *testing.T) {
	for v, want := range map[string]string{
		"plain-value_1.2": "plain-value_1.2",
		"":                `""`,
		"a b":             `"a b"`,
		`$x"\`:            `"\$x\"\\"`,
		"l1\r\nl2":        "\"l1\\r\nl2\"",
	} {
		got, err := Quote(v)
		if err != nil || got != want {
			t.Errorf("Quote(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
}

// FuzzParse: Parse never panics; whatever it accepts, Marshal writes back
// to text that parses to the same map.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMap(data, nil)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		for k, v := range m {
			if ValidKey(k) != nil || !utf8.ValidString(v) {
				delete(m, k) // keys Marshal does not write (unicode, [ ]); values are always valid
			}
		}
		text, err := Marshal(m)
		if err != nil {
			return // a value line too long to write
		}
		back, err := ParseMap(text, nil)
		if err != nil {
			t.Fatalf("Parse of Marshal output: %v", err)
		}
		if !maps.Equal(back, m) {
			t.Fatalf("round trip changed %d keys", len(m))
		}
	})
}

// FuzzQuote: any value Quote accepts parses back byte for byte.
func FuzzQuote(f *testing.F) {
	for _, p := range pieces {
		f.Add(p)
	}
	f.Add("-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n")
	f.Fuzz(func(t *testing.T, v string) {
		q, err := Quote(v)
		if err != nil {
			if strings.IndexByte(v, 0) < 0 && utf8.ValidString(v) {
				t.Fatalf("Quote refused a valid %d-byte value: %v", len(v), err)
			}
			return
		}
		if len(q) >= MaxLineBytes {
			return
		}
		m, err := ParseMap([]byte("K="+q+"\n"), nil)
		if err != nil {
			t.Fatalf("Parse of a quoted %d-byte value: %v", len(v), err)
		}
		if !bytes.Equal([]byte(m["K"]), []byte(v)) {
			t.Fatalf("value of %d bytes read back as %d bytes", len(v), len(m["K"]))
		}
	})
}
