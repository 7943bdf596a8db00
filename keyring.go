package keyward

import (
	"context"
	"errors"
	"time"

	"github.com/keyward/keyward/driver"
)

// DefaultGuideGrace is how long a previous value found in a bundle's
// KEY_OLD field stays valid when no rotation record says otherwise (a
// bundle written by the secret-management guide's rotate_jwt_secret, which
// keeps "the old key for a 24-hour grace period"): 24 hours after the
// bundle version that holds it was written. When the store does not know
// when that was, the previous value has no recorded end and stays in the
// ring until the next rotation or `keyward rotate --retire`.
const DefaultGuideGrace = 24 * time.Hour

// RingKey is one value of a key ring.
type RingKey struct {
	// ID identifies the value stably (a version ID, or a rotation counter
	// for bundle fields). jwtkeys uses it as the JWT "kid".
	ID      string  `json:"id"`
	Secret  Secret  `json:"-"`
	Version Version `json:"version"`
	// Expires is when a previous value's grace ends; zero for the current
	// value, or for a previous value with no recorded end.
	Expires time.Time `json:"expires,omitzero"`
}

// KeyRing is the current value of a key plus every previous value still
// inside its grace window. Services that verify what they sign (JWT HMAC
// keys, webhook secrets) accept any key of the ring and sign with Current,
// so a rotation never rejects a token signed just before it.
type KeyRing struct {
	Key    string `json:"key"`
	Store  string `json:"store,omitempty"`
	Layout string `json:"layout"`
	// Current is the value new signatures use.
	Current RingKey `json:"current"`
	// Previous are the values still in grace, newest first.
	Previous []RingKey `json:"previous,omitempty"`
	// RotatedAt is when Current became current, if known.
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	// Fetched is when the ring was read (by the store's clock).
	Fetched time.Time `json:"fetched"`
}

// Keys returns Current followed by Previous.
func (r *KeyRing) Keys() []RingKey {
	return append([]RingKey{r.Current}, r.Previous...)
}

// Lookup returns the ring key with the given ID.
func (r *KeyRing) Lookup(id string) (RingKey, bool) {
	for _, k := range r.Keys() {
		if k.ID == id {
			return k, true
		}
	}
	return RingKey{}, false
}

// RotationState is a key's full rotation state: what a KeyRing is built
// from, plus a pending value and the previous values whose grace has ended
// but that are not retired yet. The rotation package and `keyward status`
// read it; applications want KeyRing.
type RotationState struct {
	Key       string
	Layout    driver.RotationLayout
	Current   RingKey
	RotatedAt time.Time
	// Pending is a value staged by a rotation that has not finished.
	Pending *RingKey
	// Previous are all previous values not retired, newest first,
	// including expired ones.
	Previous []RingKey
	// Record is the rotation record (versions and fields layouts), if any.
	Record *RotationRecord
	// Promoted reports, for an unfinished rotation, that the new value is
	// already current (the rotation can only be completed, not rolled back).
	Promoted bool
}

// InFlight reports an unfinished rotation.
func (st *RotationState) InFlight() bool {
	if st.Pending != nil || st.Promoted {
		return true
	}
	return st.Record != nil && st.Record.Next != nil
}

// KeyRing returns key's current value and every previous value still inside
// its grace window (by the store's clock), newest first.
func (s *Store) KeyRing(ctx context.Context, key string) (*KeyRing, error) {
	return s.keyRing(ctx, key, "keyring")
}

// keyRing is KeyRing audited as action.
func (s *Store) keyRing(ctx context.Context, key, action string) (*KeyRing, error) {
	st, err := s.RotationState(ctx, key)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := &KeyRing{Key: key, Store: s.opts.URL, Layout: string(st.Layout), Current: st.Current, RotatedAt: st.RotatedAt, Fetched: now}
	for _, p := range st.Previous {
		if p.Expires.IsZero() || now.Before(p.Expires) {
			r.Previous = append(r.Previous, p)
		}
	}
	if err := s.audit(ctx, &Event{Action: action, Key: key, Version: st.Current.Version.ID, Value: st.Current.Secret}); err != nil {
		return nil, err
	}
	return r, nil
}

// RotationState reads key's rotation state from the provider. It is not
// cached.
func (s *Store) RotationState(ctx context.Context, key string) (*RotationState, error) {
	if err := s.checkOpen("keyring", key); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, s.fail(ctx, "keyring", key, "", &Error{Code: InvalidArgument, Op: "keyring", Store: s.opts.URL, err: errors.New("empty key")})
	}
	cctx, cancel := s.withTimeout(ctx)
	defer cancel()
	layout, rr := ringReaderFor(driver.LayoutOf(s.d, key))
	st, err := rr.state(cctx, s, key)
	if err != nil {
		return nil, s.fail(ctx, "keyring", key, "", err)
	}
	st.Key, st.Layout = key, layout
	if st.RotatedAt.IsZero() {
		st.RotatedAt = st.Current.Version.Created
	}
	return st, nil
}

// ringReader reads a key's rotation state the way one rotation layout
// keeps it (see package driver, "Rotation abilities"): one type per layout,
// so adding a layout adds a type here (and one in package rotation, which
// writes what this reads) rather than a case to every switch.
type ringReader interface {
	// state reads key's rotation state (ctx is bounded by the store's
	// Timeout; errors are raw).
	state(ctx context.Context, s *Store, key string) (*RotationState, error)
	// companions are the suffixes of the fields the layout keeps next to
	// a key (RingCompanions).
	companions() []string
}

type (
	// versionMetaRing: versions with per-version Meta (local, mem).
	versionMetaRing struct{}
	// versionsRing: versions plus a KEY_ROTATION record (GCP, Azure, Vault keys).
	versionsRing struct{}
	// fieldsRing: KEY_OLD, KEY_ROTATION and KEY_PENDING fields (bundles, Kubernetes).
	fieldsRing struct{}
	// nativeRing: the provider's own driver.Rotator (AWS per-key secrets).
	nativeRing struct{}
)

var ringReaders = map[driver.RotationLayout]ringReader{
	driver.LayoutVersionMeta: versionMetaRing{},
	driver.LayoutVersions:    versionsRing{},
	driver.LayoutFields:      fieldsRing{},
	driver.LayoutNative:      nativeRing{},
}

// ringReaderFor is the reader of layout. A read-only provider ("") and an
// unknown layout read as fields: the current value is the whole ring.
func ringReaderFor(layout driver.RotationLayout) (driver.RotationLayout, ringReader) {
	if rr, ok := ringReaders[layout]; ok {
		return layout, rr
	}
	return driver.LayoutFields, fieldsRing{}
}

func (versionMetaRing) companions() []string { return nil }
func (versionsRing) companions() []string    { return []string{driver.SuffixRotation} }
func (fieldsRing) companions() []string {
	return []string{driver.SuffixOld, driver.SuffixRotation, driver.SuffixPending}
}
func (nativeRing) companions() []string { return nil }

// dget is a driver Get with the store's retry policy; errors are raw.
func (s *Store) dget(ctx context.Context, key, version string) (*driver.Value, error) {
	if v, err, ok := s.fromPrefetch(ctx, key, version); ok {
		return v, err // read in KeyRings' batch
	}
	var v *driver.Value
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		v, err = s.d.Get(ctx, key, version)
		return err
	})
	return v, err
}

// dgetOptional is dget that answers nil, nil for NotFound.
func (s *Store) dgetOptional(ctx context.Context, key, version string) (*driver.Value, error) {
	v, err := s.dget(ctx, key, version)
	if err != nil {
		if s.code(ctx, err) == NotFound {
			return nil, nil
		}
		return nil, err
	}
	return v, nil
}

func ringKey(id string, v *driver.Value) RingKey {
	return RingKey{ID: id, Secret: NewSecret(v.Data), Version: v.Version}
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (nativeRing) state(ctx context.Context, s *Store, key string) (*RotationState, error) {
	r, ok := able[driver.Rotator](s, driver.AbilityRotate)
	if !ok {
		return nil, &Error{Code: Unimplemented, Op: "keyring", Key: key, Store: s.opts.URL, err: errors.New("this provider has no native rotation")}
	}
	var ds *driver.RotationState
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		ds, err = r.RotationState(ctx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	if ds.Current == nil {
		return nil, &Error{Code: NotFound, Op: "keyring", Key: key, Store: s.opts.URL}
	}
	conv := func(e *driver.RingEntry) RingKey {
		return RingKey{ID: e.ID, Secret: NewSecret(e.Data), Version: e.Version, Expires: e.Expires}
	}
	st := &RotationState{Current: conv(ds.Current), RotatedAt: ds.RotatedAt}
	if ds.Pending != nil {
		p := conv(ds.Pending)
		st.Pending = &p
	}
	for i := range ds.Previous {
		st.Previous = append(st.Previous, conv(&ds.Previous[i]))
	}
	return st, nil
}

// MaxRingPrevious bounds how many previous versions a key ring holds: the
// most a rotation keeps in grace at once (rotation.MaxPrevious), and the
// most a ring read fetches whatever a stored value lists.
const MaxRingPrevious = 64

// previousFromRefs fetches the versions refs name, skipping retired,
// deleted and disabled ones.
//
// refs come from a stored value (version metadata or a rotation record),
// which is untrusted: at most MaxRingPrevious of them (the newest, which
// come first) are read, so a value listing thousands of versions cannot
// make a delivery issue thousands of provider reads. Rotation never writes
// more than that many.
func (s *Store) previousFromRefs(ctx context.Context, key, current string, refs []driver.RingRef) ([]RingKey, error) {
	var out []RingKey
	seen := map[string]bool{current: true}
	for _, ref := range refs {
		if ref.Retired || seen[ref.ID] {
			continue
		}
		if len(seen) > MaxRingPrevious {
			break
		}
		seen[ref.ID] = true
		v, err := s.dget(ctx, key, ref.ID)
		if err != nil {
			switch s.code(ctx, err) {
			case NotFound, FailedPrecondition:
				continue // deleted or disabled: not usable any more
			}
			return nil, err
		}
		if v.Version.Disabled {
			continue
		}
		rk := ringKey(ref.ID, v)
		rk.Expires = ref.Expires
		out = append(out, rk)
	}
	return out, nil
}

func (versionMetaRing) state(ctx context.Context, s *Store, key string) (*RotationState, error) {
	cur, err := s.dget(ctx, key, "")
	if err != nil {
		return nil, err
	}
	st := &RotationState{Current: ringKey(cur.Version.ID, cur), RotatedAt: parseTime(cur.Version.Meta[driver.MetaRotated])}
	// Nothing is left to retire in this layout once a grace has ended: the
	// ring leaves the version out by time, so expired refs are dropped here.
	now := s.now()
	var refs []driver.RingRef
	seen := map[string]bool{}
	for _, ref := range driver.ParseRing(cur.Version.Meta[driver.MetaRing]) {
		if seen[ref.ID] {
			continue // the first (newest) entry for a version wins
		}
		seen[ref.ID] = true
		if ref.Expires.IsZero() || now.Before(ref.Expires) {
			refs = append(refs, ref)
		}
	}
	st.Previous, err = s.previousFromRefs(ctx, key, cur.Version.ID, refs)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Store) record(ctx context.Context, key string) (*RotationRecord, error) {
	v, err := s.dgetOptional(ctx, key+driver.SuffixRotation, "")
	if err != nil || v == nil {
		return nil, err
	}
	rec, err := ParseRotationRecord(v.Data)
	if err != nil {
		return nil, &Error{Code: FailedPrecondition, Op: "keyring", Key: key + driver.SuffixRotation, Store: s.opts.URL, err: err}
	}
	return rec, nil
}

func (versionsRing) state(ctx context.Context, s *Store, key string) (*RotationState, error) {
	cur, err := s.dget(ctx, key, "")
	if err != nil {
		return nil, err
	}
	rec, err := s.record(ctx, key)
	if err != nil {
		return nil, err
	}
	st := &RotationState{Current: ringKey(cur.Version.ID, cur), Record: rec}
	eff := rec
	if rec != nil && rec.Next != nil {
		// In flight: promoted once the current version moved past From.
		if cur.Version.ID != rec.From {
			st.Promoted = true
			eff = rec.Next
		}
	}
	if eff != nil {
		if eff.ID == "" || eff.ID == cur.Version.ID {
			st.RotatedAt = eff.RotatedAt
		}
		st.Previous, err = s.previousFromRefs(ctx, key, cur.Version.ID, eff.Previous)
		if err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (fieldsRing) state(ctx context.Context, s *Store, key string) (*RotationState, error) {
	cur, err := s.dget(ctx, key, "")
	if err != nil {
		return nil, err
	}
	curSecret := NewSecret(cur.Data)
	st := &RotationState{Current: ringKey("0", cur)}
	if !driver.Has(s.d, driver.AbilityWrite) {
		return st, nil // read-only: no ring fields to look for
	}
	rec, err := s.record(ctx, key)
	if err != nil {
		return nil, err
	}
	st.Record = rec
	pend, err := s.dgetOptional(ctx, key+driver.SuffixPending, "")
	if err != nil {
		return nil, err
	}
	eff := rec
	if pend != nil {
		if NewSecret(pend.Data).Equal(curSecret) {
			st.Promoted = true
			if rec != nil && rec.Next != nil {
				eff = rec.Next
			}
		} else {
			id := "pending"
			if rec != nil && rec.Next != nil && rec.Next.ID != "" {
				id = rec.Next.ID
			}
			p := ringKey(id, pend)
			st.Pending = &p
		}
	}
	if eff != nil && eff.ID != "" {
		st.Current.ID = eff.ID
	}
	if eff != nil {
		st.RotatedAt = eff.RotatedAt
	}
	old, err := s.dgetOptional(ctx, key+driver.SuffixOld, "")
	if err != nil {
		return nil, err
	}
	if old != nil && !NewSecret(old.Data).Equal(curSecret) {
		rk := ringKey("old", old)
		switch {
		case eff != nil && len(eff.Previous) > 0:
			ref := eff.Previous[0]
			if ref.Retired {
				return st, nil
			}
			rk.ID, rk.Expires = ref.ID, ref.Expires
		case eff != nil && !eff.RotatedAt.IsZero():
			rk.Expires = eff.RotatedAt.Add(DefaultGuideGrace)
		case !old.Version.Created.IsZero():
			// The guide's own convention: KEY_OLD with no record.
			rk.Expires = old.Version.Created.Add(DefaultGuideGrace)
		}
		st.Previous = append(st.Previous, rk)
	}
	return st, nil
}
