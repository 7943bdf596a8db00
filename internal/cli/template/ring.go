package template

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
)

// ringValues reads keys through their key rings (one batch): a key is its
// current value, except a ring variable of another key — KEY_OLD (the
// delivery suffix) or, with numbering, KEY_N — which is that ring's value
// ("" when the ring has no such value, e.g. once the grace ended), even
// where a bundle stores a KEY_OLD field of its own. A secret that is not
// one of its base key's ring fields (a separate KEY_OLD in a dotenv file)
// stays itself. Errors are NotFound *Errors naming the missing keys.
func (r *renderer) ringValues(keys []string) (map[string]keyward.Secret, error) {
	if r.rings == nil {
		r.rings = map[string]*keyward.KeyRing{}
	}
	want := slices.Clone(keys)
	bases := map[string]string{}
	for _, k := range keys {
		if b := ringBase(k, r.opts.Ring); b != "" {
			bases[k] = b
			if !slices.Contains(want, b) {
				want = append(want, b)
			}
		}
	}
	rings, err := r.store.KeyRings(r.ctx, want)
	for k, ring := range rings {
		r.rings[k] = ring
	}
	failed := map[string]error{}
	var other keyward.MultiError
	if err != nil {
		var m keyward.MultiError
		if !errors.As(err, &m) {
			return nil, err
		}
		for _, e := range m {
			var ke *keyward.Error
			if errors.As(e, &ke) && ke.Key != "" {
				failed[ke.Key] = e
			} else {
				other = append(other, e)
			}
		}
	}
	out := map[string]keyward.Secret{}
	var errs keyward.MultiError
	for _, k := range keys {
		b := bases[k]
		br := rings[b]
		own := rings[k]
		if br != nil && (own == nil || slices.Contains(keyward.RingCompanions(r.store.RingLayout(b)), strings.TrimPrefix(k, b))) {
			idx, _ := export.IsRingVar(k, b, r.opts.Ring)
			if all := br.Keys(); idx < len(all) {
				out[k] = all[idx].Secret
			} else {
				out[k] = keyward.NewSecretString("")
			}
			continue
		}
		if own != nil {
			out[k] = own.Current.Secret
			continue
		}
		if e := failed[k]; e != nil {
			errs = append(errs, e)
		}
	}
	errs = append(errs, other...)
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

// ringBase is the key whose ring variable name could be, or "".
func ringBase(name string, o export.RingOptions) string {
	if suf := o.Suffix(); suf != "" && len(name) > len(suf) && strings.HasSuffix(name, suf) {
		return name[:len(name)-len(suf)]
	}
	if o.Numbered {
		if i := strings.LastIndexByte(name, '_'); i > 0 {
			if _, ok := export.IsRingVar(name, name[:i], o); ok {
				return name[:i]
			}
		}
	}
	return ""
}

// ringFunc is the template's {{ ring "KEY" }}: every value of KEY's key
// ring, current first.
func (r *renderer) ringFunc(key string) ([]string, error) {
	ring := r.rings[key]
	if ring == nil {
		// Not a literal {{ ring "KEY" }} (those are read before rendering):
		// the key was computed and may be a value.
		if err := r.fetchComputed(key); err != nil {
			return nil, err
		}
		if ring = r.rings[key]; ring == nil {
			return nil, r.unknown(key)
		}
	}
	var out []string
	for _, k := range ring.Keys() {
		out = append(out, k.Secret.RevealString())
	}
	return out, nil
}

// Run runs `keyward template` with opts (for tests of other packages).
func Run(ctx context.Context, opts *Options) error { return run(ctx, opts) }
