package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

const jwt = "KWCANARY-jwt-0123456789abcdef"

func filtered(t testing.TB, secrets map[string][]byte, chunks ...[]byte) string {
	t.Helper()
	var out bytes.Buffer
	f, _ := New(&out, secrets)
	for _, c := range chunks {
		if n, err := f.Write(c); err != nil || n != len(c) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestRedactsEveryForm(t *testing.T) {
	v := []byte(jwt + "/+?&=\"\\ é")
	secrets := map[string][]byte{"JWT_SECRET_KEY": v}
	for name, form := range map[string]string{
		"plain":          string(v),
		"base64":         base64.StdEncoding.EncodeToString(v),
		"base64url":      base64.URLEncoding.EncodeToString(v),
		"base64 offset1": base64.StdEncoding.EncodeToString(append([]byte("x"), v...)),
		"base64 offset2": base64.StdEncoding.EncodeToString(append([]byte("xy"), v...)),
		"hex":            hex.EncodeToString(v),
		"HEX":            strings.ToUpper(hex.EncodeToString(v)),
		"query":          url.QueryEscape(string(v)),
		"path":           url.PathEscape(string(v)),
		"json":           `KWCANARY-jwt-0123456789abcdef/+?\u0026=\"\\ é`,
	} {
		got := filtered(t, secrets, []byte("before "+form+" after\n"))
		if !strings.Contains(got, "[REDACTED:JWT_SECRET_KEY]") || strings.Contains(got, jwt) {
			t.Errorf("%s form not redacted (output %d bytes)", name, len(got))
		}
		if !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after\n") {
			t.Errorf("%s: surrounding text damaged", name)
		}
	}
}

func TestSplitAcrossWrites(t *testing.T) {
	secrets := map[string][]byte{"K": []byte(jwt)}
	in := []byte("log: token=" + jwt + " done\n")
	for cut := 1; cut < len(in); cut++ {
		got := filtered(t, secrets, in[:cut], in[cut:])
		if got != "log: token=[REDACTED:K] done\n" {
			t.Fatalf("split at %d: output differs (len %d)", cut, len(got))
		}
	}
	// one byte at a time
	var chunks [][]byte
	for i := range in {
		chunks = append(chunks, in[i:i+1])
	}
	if got := filtered(t, secrets, chunks...); got != "log: token=[REDACTED:K] done\n" {
		t.Fatalf("byte-at-a-time output differs")
	}
}

func TestNoDelayForHarmlessText(t *testing.T) {
	var out bytes.Buffer
	f, _ := New(&out, map[string][]byte{"K": []byte(jwt)})
	_, _ = f.Write([]byte("Password prompt: "))
	if out.String() != "Password prompt: " {
		t.Fatalf("text that cannot start a secret was held back: %q", out.String())
	}
	_, _ = f.Write([]byte("KWCAN"))
	if out.String() != "Password prompt: " {
		t.Fatalf("a possible secret prefix was emitted early")
	}
	_, _ = f.Write([]byte("DY!"))
	if out.String() != "Password prompt: KWCANDY!" {
		t.Fatalf("held bytes not released once they could no longer be a secret: %q", out.String())
	}
}

func TestShortValuesSkipped(t *testing.T) {
	var out bytes.Buffer
	f, skipped := New(&out, map[string][]byte{"PORT": []byte("5432"), "DEBUG": []byte("true"), "JWT": []byte(jwt)})
	if strings.Join(skipped, ",") != "DEBUG,PORT" {
		t.Fatalf("skipped = %v", skipped)
	}
	_, _ = f.Write([]byte("port 5432 debug true " + jwt))
	f.Close()
	if out.String() != "port 5432 debug true [REDACTED:JWT]" {
		t.Fatalf("unexpected output")
	}
}

func TestOverlappingSecrets(t *testing.T) {
	secrets := map[string][]byte{"A": []byte("abcdefgh12"), "B": []byte("gh12345678"), "C": []byte("abcdefgh1234567890")}
	got := filtered(t, secrets, []byte("xabcdefgh1234567890y"))
	for k, v := range secrets {
		if strings.Contains(got, string(v)) {
			t.Fatalf("%s survived", k)
		}
	}
	if got != "x[REDACTED:C]y" {
		t.Fatalf("leftmost-longest should pick C: %q", got)
	}
}

// FuzzFilter: no injected value of at least MinLength ever appears in the
// output, however the stream is cut.
func FuzzFilter(f *testing.F) {
	f.Add([]byte("secret-value-1"), []byte("other-secret-22"), []byte("noise secret-value-1 more"), uint64(7))
	f.Add([]byte("aaaaaaaaaa"), []byte("aaaaaaaaab"), []byte("aaaaaaaaaaaaaaaaaaab"), uint64(1))
	f.Fuzz(func(t *testing.T, a, b, text []byte, seed uint64) {
		secrets := map[string][]byte{"A": a, "B": b}
		r := rand.New(rand.NewPCG(seed, seed))
		// Plant the values and their encodings into the text at random places.
		var in []byte
		in = append(in, text...)
		for _, v := range [][]byte{a, b, []byte(base64.StdEncoding.EncodeToString(a)), []byte(hex.EncodeToString(b))} {
			at := 0
			if len(in) > 0 {
				at = r.IntN(len(in) + 1)
			}
			in = append(in[:at], append(append([]byte{}, v...), in[at:]...)...)
		}
		var chunks [][]byte
		for rest := in; len(rest) > 0; {
			n := 1 + r.IntN(len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		got := []byte(filtered(t, secrets, chunks...))
		for k, v := range secrets {
			if len(v) < MinLength || bytes.Contains([]byte("[REDACTED:A][REDACTED:B]"), v) {
				continue
			}
			if bytes.Contains(got, v) {
				t.Fatalf("value %s (len %d) appears in the filtered output", k, len(v))
			}
		}
		// Without secrets the filter is the identity.
		if string(filtered(t, nil, chunks...)) != string(in) {
			t.Fatalf("filter without secrets changed the stream")
		}
	})
}

func benchInput() []byte {
	line := "2026-11-27T10:00:00Z INFO request handled path=/api/v1/users status=200 duration=12ms user=alice\n"
	return bytes.Repeat([]byte(line), (1<<20)/len(line))
}

func benchSecrets() map[string][]byte {
	s := map[string][]byte{}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		b := make([]byte, 32)
		for j := range b {
			b[j] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[r.IntN(62)]
		}
		s["SECRET_"+string(rune('A'+i%26))+string(rune('A'+i/26))] = b
	}
	return s
}

// BenchmarkFilter: 1 MiB of log lines through the filter with 50 secrets
// (each in ~12 forms), in 32 KiB writes as a pipe delivers them.
func BenchmarkFilter(b *testing.B) {
	in := benchInput()
	secrets := benchSecrets()
	f, _ := New(io.Discard, secrets)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		for off := 0; off < len(in); off += 32 << 10 {
			_, _ = f.Write(in[off:min(off+32<<10, len(in))])
		}
		f.Close()
	}
}

// BenchmarkNew: building the filter for 50 secrets (what keyward run pays
// once at start).
func BenchmarkNew(b *testing.B) {
	secrets := benchSecrets()
	for b.Loop() {
		New(io.Discard, secrets)
	}
}

// copySink copies what it is given, as a pipe's reader would.
type copySink struct{ buf []byte }

func (c *copySink) Write(p []byte) (int, error) { c.buf = append(c.buf[:0], p...); return len(p), nil }

// BenchmarkCat is the baseline: the same bytes in the same 32 KiB writes,
// copied once, as cat does.
func BenchmarkCat(b *testing.B) {
	in := benchInput()
	sink := &copySink{}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		for off := 0; off < len(in); off += 32 << 10 {
			_, _ = sink.Write(in[off:min(off+32<<10, len(in))])
		}
	}
}

// TestCompileIsLazy: Compile only sorts the keys and names the skipped
// ones; the patterns and the automaton are built when a filter first
// writes (keyward run -- true never builds them), and then redact.
func TestCompileIsLazy(t *testing.T) {
	r, skipped := Compile(map[string][]byte{"LONG": []byte("lazy-canary-value"), "SHORT": []byte("abc")})
	if len(skipped) != 1 || skipped[0] != "SHORT" {
		t.Fatalf("skipped = %v, want [SHORT]", skipped)
	}
	if r.patterns != nil || r.ac != nil {
		t.Fatal("Compile built the patterns before any write")
	}
	var out strings.Builder
	w := r.Writer(&out)
	if _, err := w.Write([]byte("x lazy-canary-value y")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if r.ac == nil || out.String() != "x [REDACTED:LONG] y" {
		t.Fatalf("after a write: automaton built %v, output %q", r.ac != nil, strings.ReplaceAll(out.String(), "lazy-canary-value", "[CANARY]"))
	}
}
