package keyward

import (
	"context"

	"github.com/keyward/keyward/driver"
)

// KeyRings returns the key rings of several keys, for delivering them
// (keyward run, export, template). It reads as little as it can: the
// current values of every key, together with the companion fields its
// layout keeps (KEY_OLD, KEY_ROTATION and KEY_PENDING for bundles,
// KEY_ROTATION for versioned stores), in one batch when the provider can
// batch; then only the previous versions the rings name. A key that does
// not rotate costs no more than a Get.
//
// Keys that could not be read are absent from the map; their errors (a
// NotFound *Error for a missing key) are returned together as a MultiError.
// Like KeyRing, every ring is read from the provider, not the cache — except
// that a listing with values the Store made in the last moments (a Vault
// bundle listed by the same command) answers for the values it held; each
// is audited as one "get" event per key (a delivery reads the value).
func (s *Store) KeyRings(ctx context.Context, keys []string) (map[string]*KeyRing, error) {
	if err := s.checkOpen("keyring", ""); err != nil {
		return nil, err
	}
	ctx = s.prefetchRings(ctx, keys)
	out := make(map[string]*KeyRing, len(keys))
	if errs := fanOut(keys, s.inProcess(), func(k string) (*KeyRing, error) { return s.keyRing(ctx, k, "get") }, out); len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

// RingCompanions are the suffixes of the fields a rotation layout keeps
// next to a key: what a delivery of the whole store leaves out, because the
// key ring delivers them (KEY_OLD becomes the ring's previous value, and
// only while it is in grace). The versions layout keeps only KEY_ROTATION.
func RingCompanions(layout driver.RotationLayout) []string {
	if rr, ok := ringReaders[layout]; ok {
		return rr.companions()
	}
	return nil
}

// RingLayout is the rotation layout the store uses for key ("" for a
// read-only store).
func (s *Store) RingLayout(key string) driver.RotationLayout {
	return driver.LayoutOf(s.d, key)
}

type prefetchKey struct{}

// prefetched holds current values read in one batch; dget answers from it.
type prefetched struct {
	vals map[string]*driver.Value
	// asked are the keys the batch asked for: one absent from vals does not exist.
	asked map[string]bool
}

// prefetchRings reads, in one batch, the current values the ring lookups
// of keys will need, and returns a context carrying them. Without a
// BatchGetter (or when the batch fails) the lookups read one by one.
func (s *Store) prefetchRings(ctx context.Context, keys []string) context.Context {
	bg, ok := able[driver.BatchGetter](s, driver.AbilityBatchGet)
	if !ok {
		return ctx
	}
	writable := driver.Has(s.d, driver.AbilityWrite)
	asked := map[string]bool{}
	var want []string
	add := func(k string) {
		if !asked[k] {
			asked[k] = true
			want = append(want, k)
		}
	}
	for _, k := range keys {
		lay := driver.LayoutOf(s.d, k)
		if lay == driver.LayoutNative {
			continue // the provider's own RotationState call
		}
		add(k)
		if writable {
			for _, suf := range RingCompanions(lay) {
				add(k + suf)
			}
		}
	}
	if len(want) < 2 {
		return ctx
	}
	// A listing with values made moments ago in this command (run lists,
	// then delivers) already answers: its cached values, and its absent
	// keys, so a Vault bundle is read once per command, not twice.
	got := map[string]*driver.Value{}
	var missing []string
	for _, k := range want {
		exists, known := s.listedFresh(k)
		switch {
		case known && !exists:
			// absent from the listing: asked, not in got
		case known:
			if v := s.fresh(k, ""); v != nil {
				got[k] = &driver.Value{Data: v.Secret.Reveal(), Version: v.Version}
				continue
			}
			missing = append(missing, k)
		default:
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		cctx, cancel := s.withTimeout(ctx)
		defer cancel()
		var fetched map[string]*driver.Value
		err := s.retry(cctx, func(ctx context.Context) error {
			var err error
			fetched, err = bg.GetMany(ctx, missing)
			return err
		})
		if err != nil {
			return ctx
		}
		for k, v := range fetched {
			got[k] = v
		}
	}
	return context.WithValue(ctx, prefetchKey{}, &prefetched{vals: got, asked: asked})
}

// fromPrefetch answers a current-version read from the batch, if it asked.
func (s *Store) fromPrefetch(ctx context.Context, key, version string) (*driver.Value, error, bool) {
	if version != "" {
		return nil, nil, false
	}
	p, _ := ctx.Value(prefetchKey{}).(*prefetched)
	if p == nil || !p.asked[key] {
		return nil, nil, false
	}
	v := p.vals[key]
	if v == nil {
		return nil, &Error{Code: NotFound, Op: "get", Key: key, Store: s.opts.URL}, true
	}
	cp := *v
	cp.Data = append([]byte(nil), v.Data...)
	return &cp, nil, true
}
