package rotation

import (
	"context"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// nativeLayout (AWS per-key staging labels): the provider's own
// driver.Rotator, reached through the Store's rotation bridge
// (StageRotation, PromoteRotation, DiscardRotation, RetireRotation), so each
// step is bounded by the store's timeout, refused on a closed store, purges
// the key's cached values and leaves an audit record.
type nativeLayout struct{}

func (nativeLayout) plan(revoke bool) []Step {
	return revoking(revoke, StepStaged, StepPromoted)
}

func (nativeLayout) prepare(context.Context, *rotor) error { return nil }

func (n nativeLayout) rotate(ctx context.Context, r *rotor, st *keyward.RotationState, nv keyward.Secret) error {
	v, err := r.s.StageRotation(ctx, r.key, nv, &driver.StageRequest{IfCurrent: st.Current.Version.ID, PreviousExpires: r.res.PreviousExpires, RotatedAt: r.now})
	if err != nil {
		return conflict(r.key, err)
	}
	r.step(StepStaged)
	return n.promote(ctx, r, v.ID, st.Current.Version.ID)
}

func (nativeLayout) promote(ctx context.Context, r *rotor, pending, old string) error {
	v, err := r.s.PromoteRotation(ctx, r.key, pending)
	if err != nil {
		return conflict(r.key, err)
	}
	r.res.To, r.res.NewVersion = v.ID, v.ID
	r.step(StepPromoted)
	if r.o.RevokePrevious && old != "" {
		if err := r.s.RetireRotation(ctx, r.key, old); err != nil {
			return err
		}
		r.step(StepRetired)
	}
	return nil
}

func (n nativeLayout) resume(ctx context.Context, r *rotor, st *keyward.RotationState) error {
	if r.o.Abort {
		r.res.Aborted = true
		if err := r.s.DiscardRotation(ctx, r.key, st.Pending.Version.ID); err != nil {
			return err
		}
		r.step(StepCleaned)
		return nil
	}
	r.res.Resumed = true
	return n.promote(ctx, r, st.Pending.Version.ID, st.Current.Version.ID)
}

func (nativeLayout) retire(ctx context.Context, s *keyward.Store, st *keyward.RotationState, expired []keyward.RingKey, dryRun bool) ([]Retired, error) {
	var out []Retired
	for _, p := range expired {
		if !dryRun {
			if err := s.RetireRotation(ctx, st.Key, p.Version.ID); err != nil {
				return out, err
			}
		}
		out = append(out, Retired{Key: st.Key, ID: p.ID, Expired: p.Expires, How: "disabled"})
	}
	return out, nil
}
