// Package gen generates new secret values from named recipes, using only
// crypto/rand.
//
// Most users want one of the guide's three recipes:
//
//	s, err := gen.Generate("urlsafe", 32)  // python: secrets.token_urlsafe(32)
//	s, err := gen.Generate("base64", 32)   // openssl rand -base64 32
//	s, err := gen.Generate("uuid", 0)      // python: str(uuid.uuid4()).replace('-', '')
//
// A recipe can also be written as a spec string, "RECIPE" or "RECIPE:SIZE",
// which is what `keyward set --generate` and keyward.yaml accept:
//
//	s, err := gen.GenerateSpec("alnum:40")
//
// # Recipes
//
//   - urlsafe: SIZE random bytes, base64url without padding (secrets.token_urlsafe).
//   - base64: SIZE random bytes, standard base64 with padding (openssl rand -base64).
//   - hex: SIZE random bytes, lower-case hex (secrets.token_hex, openssl rand -hex).
//   - uuid: a random (version 4) UUID, 32 hex digits without dashes.
//   - uuid-dashed: a random (version 4) UUID in its usual 8-4-4-4-12 form.
//   - alnum: SIZE characters from A-Z a-z 0-9, each uniform (rejection sampling).
//   - passphrase: SIZE words from the BIP39 English list, joined by "-".
//
// SIZE 0 means the recipe's default (32 bytes for the byte recipes, 32
// characters for alnum, 12 words for passphrase). Every recipe gives at least
// 128 bits of entropy: smaller sizes are refused with InvalidArgument.
//
// # Errors
//
// An unknown recipe or a bad size is a *keyward.Error with code
// InvalidArgument; the message lists the known recipes or the allowed sizes.
package gen

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/keyward/keyward"
)

// Default is the recipe used when none is named.
const Default = "urlsafe"

// Recipe describes one way of generating a secret.
type Recipe struct {
	// Name is what users type: "urlsafe", "hex", …
	Name string `json:"name"`
	// Description is one line for help text.
	Description string `json:"description"`
	// Unit is what Size counts: "bytes", "characters" or "words"; "" for
	// recipes with a fixed size (uuid).
	Unit string `json:"unit,omitempty"`
	// DefaultSize is used when the size is 0.
	DefaultSize int `json:"default_size,omitempty"`
	// MinSize and MaxSize bound the size (MinSize gives 128 bits of entropy).
	MinSize int `json:"min_size,omitempty"`
	MaxSize int `json:"max_size,omitempty"`
	// BitsPerUnit is the entropy each unit of size carries.
	BitsPerUnit float64 `json:"bits_per_unit,omitempty"`

	gen func(n int) []byte
}

// Sized reports whether the recipe takes a size.
func (r Recipe) Sized() bool { return r.Unit != "" }

// Bits is the entropy of a value of size n (0 = default size).
func (r Recipe) Bits(n int) float64 {
	if !r.Sized() {
		return 122 // a version 4 UUID has 122 random bits
	}
	if n == 0 {
		n = r.DefaultSize
	}
	return float64(n) * r.BitsPerUnit
}

const (
	maxBytes = 4096
	maxChars = 8192
	maxWords = 128
)

const alnumAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

//go:embed bip39-english.txt
var wordlistText string

// words is the BIP39 English word list (bip-0039/english.txt from
// github.com/bitcoin/bips, MIT licence): 2048 words, 11 bits each. Split
// on first use, not in init: every keyward command links this package.
var words = sync.OnceValue(func() []string { return strings.Fields(wordlistText) })

var recipes = []Recipe{
	{Name: "urlsafe", Description: "random bytes as base64url without padding (python secrets.token_urlsafe)",
		Unit: "bytes", DefaultSize: 32, MinSize: 16, MaxSize: maxBytes, BitsPerUnit: 8,
		gen: func(n int) []byte { return []byte(base64.RawURLEncoding.EncodeToString(randomBytes(n))) }},
	{Name: "base64", Description: "random bytes as standard base64 with padding (openssl rand -base64)",
		Unit: "bytes", DefaultSize: 32, MinSize: 16, MaxSize: maxBytes, BitsPerUnit: 8,
		gen: func(n int) []byte { return []byte(base64.StdEncoding.EncodeToString(randomBytes(n))) }},
	{Name: "hex", Description: "random bytes as lower-case hex (openssl rand -hex, python secrets.token_hex)",
		Unit: "bytes", DefaultSize: 32, MinSize: 16, MaxSize: maxBytes, BitsPerUnit: 8,
		gen: func(n int) []byte { return []byte(hex.EncodeToString(randomBytes(n))) }},
	{Name: "uuid", Description: "random UUID (version 4) as 32 hex digits, no dashes (python uuid.uuid4().hex)",
		gen: func(int) []byte { return []byte(strings.ReplaceAll(uuid4(), "-", "")) }},
	{Name: "uuid-dashed", Description: "random UUID (version 4) in the 8-4-4-4-12 form",
		gen: func(int) []byte { return []byte(uuid4()) }},
	{Name: "alnum", Description: "letters and digits A-Z a-z 0-9, each uniformly chosen",
		Unit: "characters", DefaultSize: 32, MinSize: 22, MaxSize: maxChars, BitsPerUnit: math.Log2(62),
		gen: func(n int) []byte { return alnum(n) }},
	{Name: "passphrase", Description: "words from the BIP39 English list joined by '-'",
		Unit: "words", DefaultSize: 12, MinSize: 12, MaxSize: maxWords, BitsPerUnit: 11,
		gen: func(n int) []byte { return passphrase(n) }},
}

// Recipes lists the recipes, in the order help text shows them.
func Recipes() []Recipe {
	out := make([]Recipe, len(recipes))
	copy(out, recipes)
	return out
}

// Names lists the recipe names.
func Names() []string {
	out := make([]string, len(recipes))
	for i, r := range recipes {
		out[i] = r.Name
	}
	return out
}

// Lookup finds a recipe by name.
func Lookup(name string) (Recipe, bool) {
	for _, r := range recipes {
		if r.Name == name {
			return r, true
		}
	}
	return Recipe{}, false
}

// Spec is a parsed "RECIPE[:SIZE]" string. Size 0 means the default.
type Spec struct {
	Recipe string
	Size   int
}

func (s Spec) String() string {
	if s.Size == 0 {
		return s.Recipe
	}
	return s.Recipe + ":" + strconv.Itoa(s.Size)
}

// Parse parses "RECIPE" or "RECIPE:SIZE" and checks the recipe and size.
func Parse(spec string) (Spec, error) {
	name, size, hasSize := strings.Cut(strings.TrimSpace(spec), ":")
	if name == "" {
		name = Default
	}
	s := Spec{Recipe: name}
	if hasSize {
		n, err := strconv.Atoi(size)
		if err != nil || n <= 0 {
			return Spec{}, keyward.Errorf(keyward.InvalidArgument, "generate", "size %q in %q is not a positive whole number", size, spec)
		}
		s.Size = n
	}
	if _, err := check(s.Recipe, s.Size); err != nil {
		return Spec{}, err
	}
	return s, nil
}

func check(name string, n int) (Recipe, error) {
	if name == "" {
		name = Default
	}
	r, ok := Lookup(name)
	if !ok {
		return Recipe{}, keyward.Errorf(keyward.InvalidArgument, "generate", "unknown recipe %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	switch {
	case n < 0:
		return Recipe{}, keyward.Errorf(keyward.InvalidArgument, "generate", "size %d is negative", n)
	case n == 0:
	case !r.Sized():
		return Recipe{}, keyward.Errorf(keyward.InvalidArgument, "generate", "recipe %q has a fixed size and takes no size", name)
	case n < r.MinSize:
		return Recipe{}, keyward.Errorf(keyward.InvalidArgument, "generate",
			"recipe %q needs at least %d %s (128 bits of entropy), got %d", name, r.MinSize, r.Unit, n)
	case n > r.MaxSize:
		return Recipe{}, keyward.Errorf(keyward.InvalidArgument, "generate",
			"recipe %q allows at most %d %s, got %d", name, r.MaxSize, r.Unit, n)
	}
	return r, nil
}

// Generate makes a new value with recipe ("" means Default). n is the size
// in the recipe's unit (bytes, characters or words); 0 means its default.
func Generate(recipe string, n int) (keyward.Secret, error) {
	r, err := check(recipe, n)
	if err != nil {
		return keyward.Secret{}, err
	}
	if n == 0 {
		n = r.DefaultSize
	}
	return keyward.NewSecret(r.gen(n)), nil
}

// GenerateSpec parses spec ("RECIPE[:SIZE]") and generates a value.
func GenerateSpec(spec string) (keyward.Secret, error) {
	s, err := Parse(spec)
	if err != nil {
		return keyward.Secret{}, err
	}
	return Generate(s.Recipe, s.Size)
}

// randomBytes returns n bytes from crypto/rand. crypto/rand.Read never
// returns an error on supported platforms (Go 1.24+); if it ever did, a
// value we cannot trust must not be produced.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("keyward: crypto/rand failed: %v", err))
	}
	return b
}

func uuid4() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// alnum draws n characters uniformly from 62 symbols: a random byte is
// accepted only when it is below 248 (4×62), so byte%62 is unbiased.
func alnum(n int) []byte {
	const limit = 256 - 256%len(alnumAlphabet)
	out := make([]byte, 0, n)
	for len(out) < n {
		for _, c := range randomBytes(n - len(out) + 8) {
			if int(c) >= limit {
				continue
			}
			out = append(out, alnumAlphabet[int(c)%len(alnumAlphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// passphrase picks n words; 2048 = 2^11, so 11 bits of each 16 are uniform.
func passphrase(n int) []byte {
	b := randomBytes(2 * n)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = words()[binary.BigEndian.Uint16(b[2*i:])&0x7ff]
	}
	return []byte(strings.Join(parts, "-"))
}
