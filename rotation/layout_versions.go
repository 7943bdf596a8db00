package rotation

import (
	"context"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// versionsLayout (GCP, Azure, Vault keys): the previous value is an older
// version; the grace is recorded in KEY_ROTATION. The record first takes
// the intent (check-and-set on the record read), then the new version is
// written (check-and-set on the current version), then the record commits.
// Where the backend can disable a version (Store.DisableVersion), revoked
// and retired versions are disabled.
type versionsLayout struct{}

func (versionsLayout) plan(revoke bool) []Step {
	return revoking(revoke, StepStaged, StepPromoted, StepRecorded)
}

// prepare reads the record's version now, for the check-and-set of the
// intent: before anything can race with us.
func (versionsLayout) prepare(ctx context.Context, r *rotor) error {
	v, err := r.s.GetValue(ctx, r.key+driver.SuffixRotation, &keyward.GetOptions{NoCache: true})
	switch {
	case keyward.ErrorCode(err) == keyward.NotFound:
		r.recVer = "0"
	case err != nil:
		return err
	default:
		r.recVer = v.Version.ID
	}
	return nil
}

func (versionsLayout) rotate(ctx context.Context, r *rotor, st *keyward.RotationState, nv keyward.Secret) error {
	rec := committed(st.Record)
	rec.From = st.Current.Version.ID
	rec.Next = &keyward.RotationRecord{RotatedAt: r.now, Previous: r.keptRefs(st)}
	// The intent, check-and-set on the record we read: of two concurrent
	// rotations only one records its intent.
	intent, err := putRecord(ctx, r.s, r.key, &rec, r.recVer)
	if err != nil {
		return conflict(r.key, err)
	}
	r.step(StepStaged)
	v, err := r.s.Put(ctx, r.key, nv, &keyward.PutOptions{IfVersion: st.Current.Version.ID, BestEffortCheck: true})
	if err != nil {
		// Take our intent back (only if it is still ours) so the key is not
		// left in flight: after a lost check-and-set, not after AlreadyExists
		// (which lostRace also counts as a lost race).
		if keyward.ErrorCode(err) == keyward.FailedPrecondition && lostRace(err) {
			c := committed(st.Record)
			_ = r.putRecord(context.WithoutCancel(ctx), &c, intent)
		}
		return conflict(r.key, err)
	}
	r.res.To, r.res.NewVersion = v.ID, v.ID
	r.step(StepPromoted)
	next := *rec.Next
	next.ID = v.ID
	if err := r.putRecord(ctx, &next, intent); err != nil {
		return err
	}
	r.step(StepRecorded)
	if r.o.RevokePrevious {
		return disableAll(ctx, r, st.Previous, st.Current)
	}
	return nil
}

// disableAll disables the old current version and every previous one,
// where the backend can.
func disableAll(ctx context.Context, r *rotor, prev []keyward.RingKey, cur keyward.RingKey) error {
	if !r.s.Can("disable-version") {
		return nil
	}
	for _, p := range append([]keyward.RingKey{cur}, prev...) {
		if err := r.s.DisableVersion(ctx, r.key, p.Version.ID); err != nil && keyward.ErrorCode(err) != keyward.NotFound {
			return err
		}
	}
	r.step(StepRetired)
	return nil
}

func (versionsLayout) resume(ctx context.Context, r *rotor, st *keyward.RotationState) error {
	r.res.Resumed = true
	if st.Promoted {
		next := *st.Record.Next
		next.ID = st.Current.Version.ID
		r.res.To, r.res.NewVersion = next.ID, next.ID
		r.res.RotatedAt = next.RotatedAt
		if len(next.Previous) > 0 {
			r.res.PreviousExpires = next.Previous[0].Expires
		}
		if err := r.putRecord(ctx, &next, ""); err != nil {
			return err
		}
		r.step(StepRecorded)
		return nil
	}
	// The new value was never written: there is nothing to complete.
	r.res.Resumed, r.res.Aborted = false, true
	c := committed(st.Record)
	if err := r.putRecord(ctx, &c, ""); err != nil {
		return err
	}
	r.step(StepCleaned)
	return nil
}

// retire disables the expired versions where the backend can, then marks
// them retired in the record.
func (versionsLayout) retire(ctx context.Context, s *keyward.Store, st *keyward.RotationState, expired []keyward.RingKey, dryRun bool) ([]Retired, error) {
	canDisable := s.Can("disable-version")
	how := "recorded"
	if canDisable {
		how = "disabled"
	}
	var out []Retired
	gone := map[string]bool{}
	for _, p := range expired {
		if !dryRun && canDisable {
			if err := s.DisableVersion(ctx, st.Key, p.Version.ID); err != nil && keyward.ErrorCode(err) != keyward.NotFound {
				return out, err
			}
		}
		gone[p.ID] = true
		out = append(out, Retired{Key: st.Key, ID: p.ID, Expired: p.Expires, How: how})
	}
	if !dryRun && st.Record != nil {
		rec := committed(st.Record)
		for i := range rec.Previous {
			if gone[rec.Previous[i].ID] {
				rec.Previous[i].Retired = true
			}
		}
		if _, err := putRecord(ctx, s, st.Key, &rec, ""); err != nil {
			return out, err
		}
	}
	return out, nil
}
