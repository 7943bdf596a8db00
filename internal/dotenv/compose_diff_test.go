package dotenv

import (
	"maps"
	"strings"
	"testing"

	composedotenv "github.com/compose-spec/compose-go/v2/dotenv"
)

// FuzzDiffCompose checks Parse against Docker Compose's own parser: on any
// input both accept (outside the documented differences: CR bytes and a
// bare key on an unterminated last line), they must give the same map.
// Inputs Parse rejects are the stricter cases (text after a closing quote,
// NUL, invalid UTF-8, over-long lines) and are not compared.
func FuzzDiffCompose(f *testing.F) {
	for _, tc := range parseCases {
		if !tc.notCompose && tc.env == nil {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		if strings.ContainsAny(in, "\r") || !strings.HasSuffix(in, "\n") {
			return
		}
		m, err := ParseMap([]byte(in), nil)
		if err != nil {
			return
		}
		cm, cerr := composedotenv.ParseWithLookup(strings.NewReader(in), func(string) (string, bool) { return "", false })
		if cerr != nil {
			t.Fatalf("compose-go rejects input keyward accepts (%d bytes)", len(in))
		}
		if !maps.Equal(m, cm) {
			t.Fatalf("keyward and compose-go differ on a %d-byte input (%d vs %d keys)", len(in), len(m), len(cm))
		}
	})
}
