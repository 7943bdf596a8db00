package rotation

import (
	"context"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// layout is how one rotation layout (see package driver, "Rotation
// abilities") runs the steps of a rotation and retires what a rotation
// kept. There is one type per layout (layout_*.go); Rotate and Retire ask
// layoutOf and never switch on the layout themselves. The Store reads
// every layout's state (keyward.Store.RotationState, one reader per layout
// in the root package's keyring.go); these types write it, and reach the
// provider only through the Store.
type layout interface {
	// plan lists the steps a rotation would perform after StepPlanned (a
	// dry run reports them).
	plan(revoke bool) []Step
	// prepare reads, before anything is written, what the first
	// check-and-set of the rotation needs.
	prepare(ctx context.Context, r *rotor) error
	// rotate makes nv current, keeping the previous value in grace (or
	// revoking it), from the state st read before.
	rotate(ctx context.Context, r *rotor, st *keyward.RotationState, nv keyward.Secret) error
	// resume completes (Options.Resume) or rolls back (Options.Abort) the
	// unfinished rotation st reports.
	resume(ctx context.Context, r *rotor, st *keyward.RotationState) error
	// retire ends the grace of the expired previous values (not a dry
	// run) and says what it did, or would do.
	retire(ctx context.Context, s *keyward.Store, st *keyward.RotationState, expired []keyward.RingKey, dryRun bool) ([]Retired, error)
}

var layouts = map[driver.RotationLayout]layout{
	driver.LayoutVersionMeta: versionMetaLayout{},
	driver.LayoutVersions:    versionsLayout{},
	driver.LayoutFields:      fieldsLayout{},
	driver.LayoutNative:      nativeLayout{},
}

// layoutOf is the layout named l. A layout this package does not know is
// written as fields, as the Store reads it.
func layoutOf(l driver.RotationLayout) layout {
	if lay, ok := layouts[l]; ok {
		return lay
	}
	return fieldsLayout{}
}

// deleteField deletes a companion field (KEY_OLD, KEY_PENDING); one that is
// already gone is fine, so every step that deletes one can run again.
func deleteField(ctx context.Context, s *keyward.Store, key string) error {
	if err := s.Delete(ctx, key); err != nil && keyward.ErrorCode(err) != keyward.NotFound {
		return err
	}
	return nil
}

// revoking is steps followed, when revoking, by StepRetired: the layouts
// that can end a version's grace at once do so as a last step.
func revoking(revoke bool, steps ...Step) []Step {
	if revoke {
		return append(steps, StepRetired)
	}
	return steps
}

// retired lists expired as retired by how.
func retired(key string, expired []keyward.RingKey, how string) []Retired {
	out := make([]Retired, 0, len(expired))
	for _, p := range expired {
		out = append(out, Retired{Key: key, ID: p.ID, Expired: p.Expires, How: how})
	}
	return out
}
