package export

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
)

// DefaultOldSuffix names the variable that holds a key's most recent
// previous value while it is in grace: JWT_SECRET_KEY_OLD, the name the
// secret-management guide's rotate_jwt_secret gives it (jwt_secret_key_old).
const DefaultOldSuffix = "_OLD"

// RingOptions says how key rings are delivered as variables.
type RingOptions struct {
	// OldSuffix names the most recent previous value: KEY+OldSuffix, while
	// it is in grace. Nil means DefaultOldSuffix; "" delivers no such
	// variable.
	OldSuffix *string
	// Numbered also delivers every value of the ring as KEY_0 (the current
	// value, the same as KEY), KEY_1 (the most recent previous value),
	// KEY_2 …, newest first, for services that accept several keys.
	Numbered bool
}

// Suffix is the old-value suffix in effect.
func (o RingOptions) Suffix() string {
	if o.OldSuffix == nil {
		return DefaultOldSuffix
	}
	return *o.OldSuffix
}

// ValidSuffix checks an old-value suffix: letters, digits and '_' (so
// KEY+suffix stays an environment variable name), or empty.
func ValidSuffix(s string) error {
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return fmt.Errorf("old suffix %q may hold only letters, digits and '_'", s)
		}
	}
	return nil
}

// DeliveryKeys drops from a listing of the whole store the fields a
// rotation layout keeps next to a listed key (KEY_OLD, KEY_ROTATION,
// KEY_PENDING in a bundle; KEY_ROTATION next to a versioned secret): the
// key ring delivers them instead, so the guide's stored jwt_secret_key_old
// and the delivered JWT_SECRET_KEY_OLD are one variable, present exactly
// while the previous value is in grace.
func DeliveryKeys(s *keyward.Store, listed []string) []string {
	have := make(map[string]bool, len(listed))
	for _, k := range listed {
		have[k] = true
	}
	drop := map[string]bool{}
	for _, k := range listed {
		for _, suf := range keyward.RingCompanions(s.RingLayout(k)) {
			if have[k+suf] {
				drop[k+suf] = true
			}
		}
	}
	if len(drop) == 0 {
		return listed
	}
	out := make([]string, 0, len(listed)-len(drop))
	for _, k := range listed {
		if !drop[k] {
			out = append(out, k)
		}
	}
	return out
}

// RingVars returns the variables a key ring adds next to KEY (the current
// value itself is not among them): KEY+suffix for the most recent previous
// value in grace, and with Numbered KEY_0, KEY_1 ….
func RingVars(r *keyward.KeyRing, o RingOptions) []Entry {
	var out []Entry
	if suf := o.Suffix(); suf != "" && len(r.Previous) > 0 {
		out = append(out, Entry{Key: r.Key + suf, Value: r.Previous[0].Secret})
	}
	if o.Numbered {
		for i, k := range r.Keys() {
			out = append(out, Entry{Key: r.Key + "_" + strconv.Itoa(i), Value: k.Secret})
		}
	}
	return out
}

// RingEntries reads keys' rings (one lookup per key, batched where the
// provider can) and returns each key's current value followed by its ring
// variables. A ring variable whose name is also one of keys is an error
// (rename the secret, or change delivery.old_suffix). Missing keys are
// errors as Store.KeyRings reports them.
func RingEntries(ctx context.Context, s *keyward.Store, keys []string, o RingOptions) ([]Entry, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rings, err := s.KeyRings(ctx, keys)
	if err != nil {
		return nil, err
	}
	return ExpandRings(keys, rings, o)
}

// ExpandRings is RingEntries over rings already read.
func ExpandRings(keys []string, rings map[string]*keyward.KeyRing, o RingOptions) ([]Entry, error) {
	out := make([]Entry, 0, len(keys))
	from := map[string]string{}
	isKey := make(map[string]bool, len(keys))
	for _, k := range keys {
		isKey[k] = true
	}
	for _, k := range keys {
		r := rings[k]
		if r == nil {
			return nil, keyward.Errorf(keyward.NotFound, "get", "%q disappeared from the store", k)
		}
		out = append(out, Entry{Key: k, Value: r.Current.Secret})
		for _, e := range RingVars(r, o) {
			if isKey[e.Key] {
				return nil, keyward.Errorf(keyward.InvalidArgument, "deliver",
					"%s (from the key ring of %s) is also a secret of its own; rename it or set delivery.old_suffix in keyward.yaml", e.Key, k)
			}
			if prev, dup := from[e.Key]; dup {
				return nil, keyward.Errorf(keyward.InvalidArgument, "deliver",
					"%s comes from the key rings of both %s and %s", e.Key, prev, k)
			}
			from[e.Key] = k
			out = append(out, e)
		}
	}
	return out, nil
}

// IsRingVar reports whether name is a ring variable of base under o
// (base+suffix, or base_N with Numbered) and returns the ring index: 0 for
// base_0 (current), 1 for the old value or base_1, ….
func IsRingVar(name, base string, o RingOptions) (int, bool) {
	rest, ok := strings.CutPrefix(name, base)
	if !ok || rest == "" {
		return 0, false
	}
	if suf := o.Suffix(); suf != "" && rest == suf {
		return 1, true
	}
	if o.Numbered && strings.HasPrefix(rest, "_") {
		if n, err := strconv.Atoi(rest[1:]); err == nil && n >= 0 && strconv.Itoa(n) == rest[1:] {
			return n, true
		}
	}
	return 0, false
}
