package scan

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// fake builds an obviously fake test secret at run time.
func fake(prefix string, n int, fill string) string {
	return prefix + strings.Repeat(fill, n/len(fill)+1)[:n]
}

// A canary managed value with every special character class so each
// encoding differs from the raw form.
var canary = "KWCANARY/" + "t0p+s3cr3t&x=y \"q\"<z>\n-é"

func newScanner(t testing.TB, values ...Managed) *Scanner {
	t.Helper()
	s, err := New(Options{Managed: values})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func managed(key, env, v string) Managed {
	return Managed{Key: key, Env: env, Value: keyward.NewSecretString(v)}
}

func TestManagedEncodingsRecall(t *testing.T) {
	v := []byte(canary)
	s := newScanner(t, managed("DB_PASSWORD", "production", canary))
	var jsonEsc bytes.Buffer
	enc := json.NewEncoder(&jsonEsc)
	enc.SetEscapeHTML(false)
	enc.Encode(canary)
	jsonHTML, _ := json.Marshal(canary)
	cases := []struct {
		name, enc string
		text      string
	}{
		{"raw", EncRaw, canary},
		{"hex", EncHexLower, hex.EncodeToString(v)},
		{"HEX", EncHexUpper, strings.ToUpper(hex.EncodeToString(v))},
		{"json", EncJSON, strings.TrimSpace(jsonEsc.String())},
		{"json-html", EncJSON, string(jsonHTML)},
		{"go", EncGo, strconv.Quote(canary)},
		{"query", EncPercent, url.QueryEscape(canary)},
		{"path", EncPercent, url.PathEscape(canary)},
	}
	for k := 0; k < 3; k++ {
		for _, b := range []struct {
			enc string
			e   *base64.Encoding
		}{{EncBase64, base64.StdEncoding}, {EncBase64URL, base64.URLEncoding}} {
			// Embed the value after k other bytes, then encode the lot.
			pre := strings.Repeat("Q", k)
			cases = append(cases, struct{ name, enc, text string }{
				b.enc + "-align" + strconv.Itoa(k), b.enc, b.e.EncodeToString([]byte(pre + canary + "tail"))})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte("prefix line\nconfig: " + tc.text + " # end\n")
			ms := s.ScanBytes(data, "x.txt")
			found := false
			for _, m := range ms {
				// Forms that coincide (a Go and a JSON escape, base64 and
				// base64url without + or /) are reported under one name.
				if m.Kind == KindManaged && m.Key == "DB_PASSWORD" && m.Env == "production" && m.Encoding != EncRaw {
					found = true
				}
				if m.Kind == KindManaged && tc.enc == EncRaw && m.Encoding == EncRaw {
					found = true
				}
			}
			if !found {
				t.Fatalf("managed value in %s encoding not found (%d matches)", tc.enc, len(ms))
			}
		})
	}
}

func TestShortValuesSkipped(t *testing.T) {
	s := newScanner(t, managed("PIN", "", "1234567"), managed("OK", "", "12345678"))
	if len(s.Skipped()) != 1 || s.Skipped()[0].Key != "PIN" || s.Searched() != 1 {
		t.Fatalf("skipped %d, searched %d; want PIN skipped", len(s.Skipped()), s.Searched())
	}
	if ms := s.ScanBytes([]byte("a 1234567 b"), "f"); len(ms) != 0 {
		t.Fatalf("short value matched")
	}
}

// A managed value overlapping a rule keyword is still found (overlapping
// automaton matches), and vice versa.
func TestOverlapWithKeywords(t *testing.T) {
	v := "mypassword_" + strings.Repeat("z", 10)
	s := newScanner(t, managed("K", "", v))
	ms := s.ScanBytes([]byte("x = \""+v+"\"\n"), "f")
	if len(ms) == 0 || ms[0].Kind != KindManaged {
		t.Fatalf("value containing a keyword not found: %d matches", len(ms))
	}
}

func TestAllowComment(t *testing.T) {
	v := fake("kw-allow-", 20, "ab")
	s := newScanner(t, managed("K", "", v))
	for _, tc := range []struct {
		text string
		want int
	}{
		{"token: " + v + "\n", 1},
		{"token: " + v + " # keyward:allow\n", 0},
		{"// keyward:allow\ntoken: " + v + "\n", 1},
		{"token: " + v + " // gitleaks:allow\n", 0},
	} {
		ms := s.ScanBytes([]byte(tc.text), "f")
		got := 0
		for _, m := range ms {
			if m.Kind == KindManaged {
				got++
			}
		}
		if got != tc.want {
			t.Errorf("case %q: %d managed matches, want %d", strings.ReplaceAll(tc.text, v, "<v>"), got, tc.want)
		}
	}
}

func TestBinaryFilesManagedOnly(t *testing.T) {
	v := fake("kw-binary-", 20, "cd")
	s := newScanner(t, managed("K", "", v))
	stripe := "sk_live_" + strings.Repeat("x", 24)
	data := []byte("\x00\x01ELF " + v + " " + stripe + "\x00")
	ms := s.ScanBytes(data, "bin")
	if len(ms) != 1 || ms[0].Kind != KindManaged {
		t.Fatalf("binary: %d matches, want only the managed one", len(ms))
	}
}

func TestFingerprintKeyed(t *testing.T) {
	a, _ := New(Options{FingerprintKey: []byte("aaaaaaaaaaaaaaaa")})
	b, _ := New(Options{FingerprintKey: []byte("bbbbbbbbbbbbbbbb")})
	if a.Fingerprint([]byte("x")) == b.Fingerprint([]byte("x")) || len(a.Fingerprint([]byte("x"))) != 12 {
		t.Fatal("fingerprint must depend on the key and be 12 hex digits")
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncd\nef")
	for _, tc := range []struct{ off, line, col int }{{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {7, 3, 2}} {
		l, c := Position(data, tc.off)
		if l != tc.line || c != tc.col {
			t.Errorf("Position(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
}
