package rotation

import (
	"context"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Retired describes one previous value a sweep retired.
type Retired struct {
	Key     string    `json:"key"`
	ID      string    `json:"id"`
	Expired time.Time `json:"expired"`
	// How says what retiring did: "disabled" (the backend no longer serves
	// the version), "removed" (KEY_OLD deleted), "recorded" (marked retired
	// in the rotation record). In the version-meta layout (local, mem) there
	// is nothing to retire: a version leaves the ring when its grace ends.
	How string `json:"how"`
}

// Retire ends the grace of key's previous values whose grace has ended (by
// clock, time.Now when nil): it disables their versions where the backend
// can (GCP, Azure, AWS labels), removes KEY_OLD in bundles, and marks them
// retired in the rotation record. Values still in grace are untouched.
func Retire(ctx context.Context, s *keyward.Store, key string, clock func() time.Time, dryRun bool) ([]Retired, error) {
	if clock == nil {
		clock = time.Now
	}
	now := clock()
	st, err := s.RotationState(ctx, key)
	if err != nil {
		return nil, err
	}
	var expired []keyward.RingKey
	for _, p := range st.Previous {
		if !p.Expires.IsZero() && !now.Before(p.Expires) {
			expired = append(expired, p)
		}
	}
	if len(expired) == 0 || st.InFlight() {
		return nil, nil
	}
	d := s.Driver()
	var out []Retired
	switch st.Layout {
	case driver.LayoutVersionMeta:
		return nil, nil // expired versions already left the ring (see keyward.Store.RotationState)
	case driver.LayoutNative:
		rot := d.(driver.Rotator)
		for _, p := range expired {
			if !dryRun {
				if err := rot.Retire(ctx, key, p.Version.ID); err != nil {
					return out, wrapDriver(d, key, err)
				}
			}
			out = append(out, Retired{Key: key, ID: p.ID, Expired: p.Expires, How: "disabled"})
		}
		s.Purge()
		return out, nil
	case driver.LayoutFields:
		if !dryRun {
			if err := s.Delete(ctx, key+driver.SuffixOld); err != nil && keyward.ErrorCode(err) != keyward.NotFound {
				return nil, err
			}
			if st.Record != nil {
				rec := committed(st.Record)
				for i := range rec.Previous {
					rec.Previous[i].Retired = true
				}
				if _, err := s.Put(ctx, key+driver.SuffixRotation, keyward.NewSecret(rec.Encode()), nil); err != nil {
					return nil, err
				}
			}
		}
		for _, p := range expired {
			out = append(out, Retired{Key: key, ID: p.ID, Expired: p.Expires, How: "removed"})
		}
		return out, nil
	}
	// Versions layout: disable where possible, then record.
	dis, canDisable := d.(driver.VersionDisabler)
	canDisable = canDisable && driver.Has(d, driver.AbilityDisableVersion)
	how := "recorded"
	if canDisable {
		how = "disabled"
	}
	gone := map[string]bool{}
	for _, p := range expired {
		if !dryRun && canDisable {
			if err := dis.DisableVersion(ctx, key, p.Version.ID); err != nil && d.ErrorCode(err) != keyward.NotFound {
				return out, wrapDriver(d, key, err)
			}
		}
		gone[p.ID] = true
		out = append(out, Retired{Key: key, ID: p.ID, Expired: p.Expires, How: how})
	}
	if !dryRun && st.Record != nil {
		rec := committed(st.Record)
		for i := range rec.Previous {
			if gone[rec.Previous[i].ID] {
				rec.Previous[i].Retired = true
			}
		}
		if _, err := s.Put(ctx, key+driver.SuffixRotation, keyward.NewSecret(rec.Encode()), nil); err != nil {
			return out, err
		}
	}
	s.Purge()
	return out, nil
}
