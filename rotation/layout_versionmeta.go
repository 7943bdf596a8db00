package rotation

import (
	"context"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// versionMetaLayout (local, mem): the new version's Meta names the
// previous versions that stay valid and until when, written atomically
// with the value. A rotation is one write; nothing is ever in flight.
type versionMetaLayout struct{}

func (versionMetaLayout) plan(bool) []Step { return []Step{StepPromoted} }

func (versionMetaLayout) prepare(context.Context, *rotor) error { return nil }

func (versionMetaLayout) rotate(ctx context.Context, r *rotor, st *keyward.RotationState, nv keyward.Secret) error {
	meta := map[string]string{driver.MetaRotated: r.now.Format(time.RFC3339Nano)}
	if refs := r.keptRefs(st); len(refs) > 0 {
		meta[driver.MetaRing] = driver.EncodeRing(refs)
	}
	v, err := r.s.Put(ctx, r.key, nv, &keyward.PutOptions{IfVersion: st.Current.Version.ID, Meta: meta, BestEffortCheck: true})
	if err != nil {
		return conflict(r.key, err)
	}
	r.res.To, r.res.NewVersion = v.ID, v.ID
	r.step(StepPromoted)
	return nil
}

// resume has nothing to do: one atomic write leaves nothing unfinished.
func (versionMetaLayout) resume(context.Context, *rotor, *keyward.RotationState) error { return nil }

// retire has nothing to do: expired versions already left the ring (see
// keyward.Store.RotationState).
func (versionMetaLayout) retire(context.Context, *keyward.Store, *keyward.RotationState, []keyward.RingKey, bool) ([]Retired, error) {
	return nil, nil
}
