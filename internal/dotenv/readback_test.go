package dotenv

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	cgo "github.com/compose-spec/compose-go/v2/dotenv"
)

// readbackValues are the values export must carry: $, backslashes, quotes,
// backticks, newlines, and random mixtures of every special fragment.
func readbackValues() []string {
	vs := []string{
		"abc$def123XYZ", "price $5", "$$", "a$", "$HOME", `back\slash`, `two\\back`, `end\`, `it's`, `say "hi"`,
		"`cmd`", "line1\nline2", "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n", "cr\rlf", "tab\there",
		`mix '$x' "y" \z`, "#not-a-comment", "v #comment?", " lead", "trail ", "", "${NOT_EXPANDED}", `\$`, `\n`,
	}
	r := rand.New(rand.NewPCG(4242, 13))
	for range 1500 {
		vs = append(vs, randValue(r))
	}
	return vs
}

func marshalIndexed(t *testing.T, vs []string) ([]byte, map[string]string) {
	t.Helper()
	m := make(map[string]string, len(vs))
	for i, v := range vs {
		m[fmt.Sprintf("K%04d", i)] = v
	}
	text, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return text, m
}

// What export writes, Docker Compose's own parser reads back exactly.
func TestMarshalReadsBackInCompose(t *testing.T) {
	text, want := marshalIndexed(t, readbackValues())
	got, err := cgo.UnmarshalBytesWithLookup(text, func(string) (string, bool) { return "INTERPOLATED", true })
	if err != nil {
		t.Fatalf("compose-go cannot parse Marshal's output: %v", err)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: compose-go reads %d bytes back, wrote %d", k, len(got[k]), len(v))
		}
	}
}

// What export writes, python-dotenv (interpolation on, as load_dotenv
// defaults) reads back exactly, except the values Portable says it cannot.
// CI installs Debian's python3-dotenv (.ci/run); without it the test is
// skipped and says so.
func TestMarshalReadsBackInPythonDotenv(t *testing.T) {
	if err := exec.Command("python3", "-c", "import dotenv").Run(); err != nil {
		t.Skip("python3 with the dotenv module is not installed (apt-get install python3-dotenv)")
	}
	// A value python-dotenv cannot read back also derails the statements
	// after it, so the file holds only the values Portable accepts; the
	// others are counted, and export warns about them by name.
	var vs []string
	skipped := 0
	for _, v := range readbackValues() {
		if Portable(v) != "" {
			skipped++
			continue
		}
		vs = append(vs, v)
	}
	text, want := marshalIndexed(t, vs)
	p := filepath.Join(t.TempDir(), "export.env")
	if err := os.WriteFile(p, text, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", "-c", `
import json, sys
from dotenv import dotenv_values
print(json.dumps(dotenv_values(sys.argv[1], interpolate=True)))
`, p).Output()
	if err != nil {
		t.Fatalf("python-dotenv: %v", err)
	}
	var got map[string]*string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if g := got[k]; g == nil || *g != v {
			n := -1
			if g != nil {
				n = len(*g)
			}
			t.Errorf("%s: python-dotenv reads %d bytes back, wrote %d (Quote form %s)", k, n, len(v), mustQuote(v))
		}
	}
	if len(got) != len(want) {
		t.Errorf("python-dotenv read %d keys, Marshal wrote %d", len(got), len(want))
	}
	if skipped > (skipped+len(vs))/2 { // the random values are hostile: many mix $ with CR or \\
		t.Errorf("%d of %d values are not portable to python-dotenv", skipped, skipped+len(vs))
	}
	for _, v := range []string{"abc$def123XYZ", `back\slash`, `end\`, `it's`, "`cmd`", "line1\nline2", "cr\rlf", `mix '$x' "y" \z`, "price $5"} {
		if why := Portable(v); why != "" {
			t.Errorf("a %d-byte value the issue names is not portable: %s", len(v), why)
		}
	}
}

func mustQuote(v string) string {
	q, _ := Quote(v)
	if len(q) > 40 {
		return fmt.Sprintf("(%d bytes)", len(q))
	}
	return fmt.Sprintf("%q", q)
}
