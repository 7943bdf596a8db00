package rotation

import (
	"context"
	"errors"
	"strconv"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// fieldsLayout (bundles: AWS and Vault bundles, a Kubernetes Secret): the
// previous value is the field KEY_OLD, as in the secret-management guide's
// rotate_jwt_secret, with the record in KEY_ROTATION and an in-flight value
// in KEY_PENDING. Every step is one write and idempotent, so a rotation
// resumes from any point.
type fieldsLayout struct{}

func (fieldsLayout) plan(bool) []Step {
	return []Step{StepStaged, StepOldSaved, StepPromoted, StepRecorded, StepCleaned}
}

func (fieldsLayout) prepare(context.Context, *rotor) error { return nil }

func nextCounter(id string) string {
	n, err := strconv.Atoi(id)
	if err != nil {
		return "1"
	}
	return strconv.Itoa(n + 1)
}

func (f fieldsLayout) rotate(ctx context.Context, r *rotor, st *keyward.RotationState, nv keyward.Secret) error {
	if _, err := r.s.Put(ctx, r.key+driver.SuffixPending, nv, &keyward.PutOptions{IfVersion: "0", BestEffortCheck: true}); err != nil {
		if lostRace(err) {
			// There was no pending value when we read the state: another
			// rotation started in between.
			return opErr(r.key, keyward.FailedPrecondition, "%w; nothing was lost: the other rotation's value is current or about to be", ErrConflict)
		}
		return err
	}
	// The pending slot is ours. Check that nobody rotated the key between
	// our read and taking the slot, or the old value we would keep is stale.
	now, err := r.s.RotationState(ctx, r.key)
	if err == nil && (!now.Current.Secret.Equal(st.Current.Secret) || now.Current.ID != st.Current.ID) {
		err = opErr(r.key, keyward.FailedPrecondition, "%w", ErrConflict)
	}
	if err != nil {
		if derr := r.s.Delete(context.WithoutCancel(ctx), r.key+driver.SuffixPending); derr != nil {
			err = errors.Join(err, derr)
		}
		return err
	}
	r.step(StepStaged)
	rec := committed(st.Record)
	if rec.ID == "" {
		rec.ID = st.Current.ID
	}
	var prev []driver.RingRef
	if !r.o.RevokePrevious {
		prev = []driver.RingRef{{ID: st.Current.ID, Expires: r.res.PreviousExpires}}
	}
	rec.Next = &keyward.RotationRecord{ID: nextCounter(st.Current.ID), RotatedAt: r.now, Previous: prev}
	return f.finish(ctx, r, st, &rec, false)
}

// finish runs the fields steps after staging: record the intent,
// save the old value, promote, commit, clean up. Each step is idempotent.
func (fieldsLayout) finish(ctx context.Context, r *rotor, st *keyward.RotationState, rec *keyward.RotationRecord, promoted bool) error {
	next := rec.Next
	r.res.To = next.ID
	r.res.RotatedAt = next.RotatedAt
	if len(next.Previous) > 0 {
		r.res.PreviousExpires = next.Previous[0].Expires
	} else {
		r.res.Revoked = true
	}
	if !promoted {
		if err := r.putRecord(ctx, rec, ""); err != nil {
			return err
		}
		if len(next.Previous) > 0 {
			if _, err := r.s.Put(ctx, r.key+driver.SuffixOld, st.Current.Secret, nil); err != nil {
				return err
			}
		} else if err := deleteField(ctx, r.s, r.key+driver.SuffixOld); err != nil {
			return err
		}
		r.step(StepOldSaved)
		pend, err := r.s.GetValue(ctx, r.key+driver.SuffixPending, &keyward.GetOptions{NoCache: true})
		if err != nil {
			return err
		}
		v, err := r.s.Put(ctx, r.key, pend.Secret, nil)
		if err != nil {
			return err
		}
		r.res.NewVersion = v.ID
		r.step(StepPromoted)
	}
	c := *next
	if err := r.putRecord(ctx, &c, ""); err != nil {
		return err
	}
	r.step(StepRecorded)
	if err := deleteField(ctx, r.s, r.key+driver.SuffixPending); err != nil {
		return err
	}
	r.step(StepCleaned)
	return nil
}

func (f fieldsLayout) resume(ctx context.Context, r *rotor, st *keyward.RotationState) error {
	if st.Promoted {
		// The new value is current: the rotation can only be completed.
		r.res.Resumed = true
		if st.Record != nil && st.Record.Next != nil {
			rec := committed(st.Record)
			rec.Next = st.Record.Next
			return f.finish(ctx, r, st, &rec, true)
		}
		// The record is committed too: only the cleanup is left.
		if st.Record != nil {
			r.res.To, r.res.RotatedAt = st.Record.ID, st.Record.RotatedAt
			if len(st.Record.Previous) > 0 {
				r.res.PreviousExpires = st.Record.Previous[0].Expires
			}
		}
		if err := deleteField(ctx, r.s, r.key+driver.SuffixPending); err != nil {
			return err
		}
		r.step(StepCleaned)
		return nil
	}
	if r.o.Resume {
		r.res.Resumed = true
		rec := committed(st.Record)
		if st.Record != nil && st.Record.Next != nil {
			rec.Next = st.Record.Next
		} else {
			// Staged, but the intent was not recorded: grant the grace from now.
			if rec.ID == "" {
				rec.ID = st.Current.ID
			}
			rec.Next = &keyward.RotationRecord{ID: nextCounter(st.Current.ID), RotatedAt: r.now,
				Previous: []driver.RingRef{{ID: st.Current.ID, Expires: r.now.Add(r.grace)}}}
		}
		return f.finish(ctx, r, st, &rec, false)
	}
	// Abort: the new value never became current.
	r.res.Aborted = true
	if st.Record != nil && st.Record.Next != nil {
		c := committed(st.Record)
		if err := r.putRecord(ctx, &c, ""); err != nil {
			return err
		}
	}
	if err := deleteField(ctx, r.s, r.key+driver.SuffixPending); err != nil {
		return err
	}
	r.step(StepCleaned)
	return nil
}

// retire removes KEY_OLD and marks every previous value retired in the
// record.
func (fieldsLayout) retire(ctx context.Context, s *keyward.Store, st *keyward.RotationState, expired []keyward.RingKey, dryRun bool) ([]Retired, error) {
	if !dryRun {
		if err := deleteField(ctx, s, st.Key+driver.SuffixOld); err != nil {
			return nil, err
		}
		if st.Record != nil {
			rec := committed(st.Record)
			for i := range rec.Previous {
				rec.Previous[i].Retired = true
			}
			if _, err := putRecord(ctx, s, st.Key, &rec, ""); err != nil {
				return nil, err
			}
		}
	}
	return retired(st.Key, expired, "removed"), nil
}
