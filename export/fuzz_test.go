package export

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dotenv"
)

// FuzzRoundTrip: any value a format accepts parses back to the same bytes;
// a value it refuses is refused with an error naming the key, not the value.
// Seeds: testdata/fuzz/FuzzRoundTrip.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "plain", "a\nb", `"quoted" 'single' $HOME \back`, "tab\there\r\n", "é🔑\u2028\u0085", "nul\x00byte", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		es := []Entry{{Key: "K", Value: keyward.NewSecretString(v)}}
		check := func(format string, err error, got string, parseErr error) {
			if err != nil {
				if !strings.Contains(err.Error(), `"K"`) {
					t.Fatalf("%s: the error does not name the key", format)
				}
				if len(v) >= 4 && strings.Contains(err.Error(), v) {
					t.Fatalf("%s: the error holds the value", format)
				}
				return
			}
			if parseErr != nil {
				t.Fatalf("%s: output does not parse back: %v", format, parseErr)
			}
			if got != v {
				t.Fatalf("%s: %d bytes back, want %d", format, len(got), len(v))
			}
		}
		var b bytes.Buffer
		err := Dotenv(&b, es)
		var m map[string]string
		var perr error
		if err == nil {
			m, perr = dotenv.ParseMap(b.Bytes(), nil)
		}
		check("dotenv", err, m["K"], perr)
		if err == nil && (strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v)) {
			t.Fatal("dotenv accepted a value it cannot hold")
		}

		b.Reset()
		err = JSON(&b, es)
		var j map[string]string
		if err == nil {
			perr = json.Unmarshal(b.Bytes(), &j)
		}
		check("json", err, j["K"], perr)

		if utf8.ValidString(v) {
			var y string
			perr = yaml.Unmarshal([]byte(yq(v)), &y)
			check("yaml scalar", nil, y, perr)
		}
	})
}
