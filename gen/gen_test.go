package gen

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyward/keyward"
)

func TestRecipes(t *testing.T) {
	urlsafe := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	std := regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)
	hexRE := regexp.MustCompile(`^[0-9a-f]+$`)
	uuidRE := regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)
	uuidDashed := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	alnumRE := regexp.MustCompile(`^[A-Za-z0-9]+$`)
	phraseRE := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	for _, tc := range []struct {
		recipe  string
		n       int
		wantLen int // in bytes of output; -1 to skip (passphrase)
		re      *regexp.Regexp
		decoded int // decoded length for byte recipes, 0 to skip
	}{
		{"urlsafe", 0, 43, urlsafe, 32},       // token_urlsafe(32) is 43 characters
		{"urlsafe", 32, 43, urlsafe, 32},      //
		{"urlsafe", 48, 64, urlsafe, 48},      //
		{"", 0, 43, urlsafe, 32},              // the default recipe
		{"base64", 0, 44, std, 32},            // openssl rand -base64 32 is 44 characters
		{"base64", 16, 24, std, 16},           //
		{"hex", 0, 64, hexRE, 32},             //
		{"hex", 20, 40, hexRE, 20},            //
		{"uuid", 0, 32, uuidRE, 0},            // uuid4().hex
		{"uuid-dashed", 0, 36, uuidDashed, 0}, //
		{"alnum", 0, 32, alnumRE, 0},          //
		{"alnum", 40, 40, alnumRE, 0},         //
		{"passphrase", 0, -1, phraseRE, 0},    //
		{"passphrase", 13, -1, phraseRE, 0},   //
	} {
		t.Run(fmt.Sprintf("%s:%d", tc.recipe, tc.n), func(t *testing.T) {
			s, err := Generate(tc.recipe, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			v := s.RevealString()
			if tc.wantLen >= 0 && len(v) != tc.wantLen {
				t.Fatalf("length %d, want %d", len(v), tc.wantLen)
			}
			if !tc.re.MatchString(v) {
				t.Fatalf("value of length %d does not match %s", len(v), tc.re)
			}
			if tc.decoded > 0 {
				var b []byte
				switch tc.recipe {
				case "urlsafe", "":
					b, err = base64.RawURLEncoding.DecodeString(v)
				case "base64":
					b, err = base64.StdEncoding.DecodeString(v)
				case "hex":
					b, err = hex.DecodeString(v)
				}
				if err != nil || len(b) != tc.decoded {
					t.Fatalf("decodes to %d bytes (err %v), want %d", len(b), err, tc.decoded)
				}
			}
			if tc.recipe == "passphrase" {
				want := tc.n
				if want == 0 {
					want = 12
				}
				if got := len(strings.Split(v, "-")); got != want {
					t.Fatalf("%d words, want %d", got, want)
				}
			}
			// Two draws differ (a collision at ≥122 bits means a broken generator).
			s2, _ := Generate(tc.recipe, tc.n)
			if s.Equal(s2) {
				t.Fatalf("two draws were equal")
			}
		})
	}
}

// Every symbol of each alphabet turns up over many draws, and no other does.
func TestAlphabetsCovered(t *testing.T) {
	for _, tc := range []struct {
		recipe   string
		alphabet string
	}{
		{"alnum", alnumAlphabet},
		{"urlsafe", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
		{"base64", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="},
		{"hex", "0123456789abcdef"},
	} {
		t.Run(tc.recipe, func(t *testing.T) {
			seen := map[rune]int{}
			for range 200 {
				s, err := Generate(tc.recipe, 64)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range s.RevealString() {
					seen[r]++
				}
			}
			for _, r := range tc.alphabet {
				if seen[r] == 0 {
					t.Errorf("symbol %q never appeared", r)
				}
			}
			for r := range seen {
				if !strings.ContainsRune(tc.alphabet, r) {
					t.Errorf("symbol %q is outside the alphabet", r)
				}
			}
		})
	}
}

// Rejection sampling keeps alnum uniform: over 620,000 symbols each of the
// 62 is expected 10,000 times (σ≈100). A plain byte%62 would give the first
// 8 symbols about 12,100 and the others about 9,700. The bound (±600, six
// σ) cannot flake in practice and still catches that bias.
func TestAlnumRoughlyUniform(t *testing.T) {
	counts := map[byte]int{}
	for range 100 {
		s, err := Generate("alnum", 6200)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Reveal() {
			counts[c]++
		}
	}
	for i := range len(alnumAlphabet) {
		c := counts[alnumAlphabet[i]]
		if c < 9400 || c > 10600 {
			t.Errorf("symbol %d appeared %d times, want about 10000", i, c)
		}
	}
}

func TestPassphraseWords(t *testing.T) {
	if len(words()) != 2048 {
		t.Fatalf("word list has %d words, want 2048", len(words()))
	}
	set := map[string]bool{}
	for _, w := range words() {
		if set[w] || !utf8.ValidString(w) || strings.Contains(w, "-") {
			t.Fatalf("bad or duplicate word at index %d", len(set))
		}
		set[w] = true
	}
	s, err := Generate("passphrase", 20)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range strings.Split(s.RevealString(), "-") {
		if !set[w] {
			t.Fatalf("word %d is not in the list", i)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		recipe string
		n      int
		want   string
	}{
		{"nosuch", 0, `unknown recipe "nosuch" (known: urlsafe, base64, hex, uuid, uuid-dashed, alnum, passphrase)`},
		{"urlsafe", -1, "negative"},
		{"urlsafe", 8, "at least 16 bytes"},
		{"urlsafe", maxBytes + 1, "at most 4096 bytes"},
		{"alnum", 10, "at least 22 characters"},
		{"passphrase", 4, "at least 12 words"},
		{"uuid", 16, "takes no size"},
	} {
		t.Run(tc.recipe, func(t *testing.T) {
			_, err := Generate(tc.recipe, tc.n)
			if err == nil {
				t.Fatal("want an error")
			}
			if keyward.ErrorCode(err) != keyward.InvalidArgument {
				t.Fatalf("code %v, want invalid argument", keyward.ErrorCode(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "keyward: failed to generate: ") {
				t.Fatalf("error %q is not in the keyward style", err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Spec
		wantErr bool
	}{
		{"urlsafe", Spec{"urlsafe", 0}, false},
		{"urlsafe:48", Spec{"urlsafe", 48}, false},
		{"hex:16", Spec{"hex", 16}, false},
		{"uuid", Spec{"uuid", 0}, false},
		{"", Spec{"urlsafe", 0}, false},
		{" alnum:40 ", Spec{"alnum", 40}, false},
		{"uuid:16", Spec{}, true},
		{"hex:0", Spec{}, true},
		{"hex:-3", Spec{}, true},
		{"hex:", Spec{}, true},
		{"hex:abc", Spec{}, true},
		{"hex:32:1", Spec{}, true},
		{"nosuch", Spec{}, true},
		{"hex:8", Spec{}, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("Parse(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if !tc.wantErr {
			if _, err := Parse(got.String()); err != nil {
				t.Errorf("round trip of %q: %v", got, err)
			}
		}
	}
}

func TestGenerateSpec(t *testing.T) {
	s, err := GenerateSpec("hex:24")
	if err != nil || s.Len() != 48 {
		t.Fatalf("hex:24 gave %d characters, err %v", s.Len(), err)
	}
	if _, err := GenerateSpec("hex:2"); err == nil {
		t.Fatal("hex:2 must be refused")
	}
}

func TestRecipesList(t *testing.T) {
	rs := Recipes()
	if len(rs) != len(Names()) {
		t.Fatal("Recipes and Names disagree")
	}
	for _, r := range rs {
		if r.Description == "" {
			t.Errorf("%s has no description", r.Name)
		}
		if r.Sized() && (r.DefaultSize < r.MinSize || r.DefaultSize > r.MaxSize) {
			t.Errorf("%s: default size %d outside [%d, %d]", r.Name, r.DefaultSize, r.MinSize, r.MaxSize)
		}
		if r.Bits(r.MinSize) < 128 && r.Sized() {
			t.Errorf("%s: minimum size gives %.0f bits, want ≥128", r.Name, r.Bits(r.MinSize))
		}
	}
	rs[0].Name = "changed"
	if Recipes()[0].Name == "changed" {
		t.Fatal("Recipes must return a copy")
	}
}

// FuzzParse: Parse never panics, and whatever it accepts generates.
func FuzzParse(f *testing.F) {
	f.Add("urlsafe:32")
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			if keyward.ErrorCode(err) != keyward.InvalidArgument {
				t.Fatalf("code %v, want invalid argument", keyward.ErrorCode(err))
			}
			return
		}
		if _, err := Generate(s.Recipe, s.Size); err != nil {
			t.Fatalf("Parse accepted %+v but Generate failed: %v", s, err)
		}
	})
}
