package schema

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var errPosRE = regexp.MustCompile(`^[^:]+:\d+:\d+: `)

// FuzzLoad: the loader never panics, and every error it returns is an
// ErrorList whose entries carry file:line:column. Seeds are the files in
// testdata/seeds (run as normal tests).
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/seeds/*.yaml")
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/seeds")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("secrets:\n  A: {format: hex, rotation: {every: 1d}}\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "k.yaml")
		if err != nil {
			var l ErrorList
			if !errors.As(err, &l) || len(l) == 0 {
				t.Fatalf("error is not an ErrorList: %v", err)
			}
			for _, e := range l {
				if !errPosRE.MatchString(e.Error()) {
					t.Fatalf("error without a position: %q", e.Error())
				}
			}
			return
		}
		for _, name := range c.Order {
			if c.Secrets[name] == nil {
				t.Fatalf("secret %q in Order but not in Secrets", name)
			}
		}
	})
}

// FuzzParseExample: the .env.example reader never panics and returns only
// valid names.
func FuzzParseExample(f *testing.F) {
	f.Add([]byte("A=1\n# c\nexport B='x y' # z\nC=\"q\"\nbad line\n"))
	f.Add([]byte(exampleFile))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kv := range ParseExample(data) {
			if !secretNameRE.MatchString(kv.Key) || kv.Line <= 0 {
				t.Fatalf("bad entry %q at line %d", kv.Key, kv.Line)
			}
		}
	})
}
