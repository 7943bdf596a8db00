package keyward

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Redacted is what a Secret prints as.
const Redacted = "[REDACTED]"

// Secret holds a secret value. It prints as [REDACTED] under every fmt verb,
// in JSON, as text and through log/slog; the plaintext is only available
// through [Secret.Reveal] or [Secret.String]'s explicit sibling
// [Secret.RevealString]. Secrets are not comparable with ==, because ==
// is not constant-time: use [Secret.Equal].
type Secret struct {
	_ [0]func() // not comparable
	b []byte
}

// NewSecret wraps b. The Secret keeps b; the caller must not modify it later.
func NewSecret(b []byte) Secret { return Secret{b: b} }

// NewSecretString wraps s.
func NewSecretString(s string) Secret { return Secret{b: []byte(s)} }

// Reveal returns the plaintext bytes. Do not modify them.
func (s Secret) Reveal() []byte { return s.b }

// RevealString returns the plaintext as a string.
func (s Secret) RevealString() string { return string(s.b) }

// Len is the length of the value in bytes. Lengths are not considered secret.
func (s Secret) Len() int { return len(s.b) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// Equal compares two secrets in constant time (for equal lengths).
func (s Secret) Equal(o Secret) bool { return subtle.ConstantTimeCompare(s.b, o.b) == 1 }

// String returns [REDACTED].
func (s Secret) String() string { return Redacted }

// GoString returns [REDACTED], for %#v.
func (s Secret) GoString() string { return Redacted }

// Format prints [REDACTED] for every verb, %x and %q included.
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue makes log/slog print [REDACTED].
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON returns "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns [REDACTED] (for YAML, XML and other text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
