package keyward

import (
	"context"

	"github.com/keyward/keyward/driver"
)

// The rotation bridge: the provider calls of rotation that are not Get,
// Put or Delete — the steps of a provider's native rotation (driver.Rotator)
// and version disabling (driver.VersionDisabler). Package rotation reaches
// providers only through the Store, through these methods and Get, Put,
// Delete and RotationState, so every rotation step gets what every other
// operation gets: the closed check, the store's Timeout, the purge of the
// key's cached values, error wrapping with the provider's code, and an
// audit record (see write). The audit actions are rotate.stage,
// rotate.promote, rotate.discard, rotate.retire and rotate.disable; audit
// search --action rotate finds them all. Applications do not need these
// methods: rotation.Rotate and rotation.Retire sequence them.

// StageRotation persists value as key's pending value in a provider with
// native rotation (driver.Rotator.Stage): Get keeps returning the current
// value. It fails with FailedPrecondition when another value is pending or
// the current version is not req.IfCurrent, and with Unimplemented when the
// provider has no native rotation.
func (s *Store) StageRotation(ctx context.Context, key string, value Secret, req *driver.StageRequest) (Version, error) {
	rot, ok := able[driver.Rotator](s, driver.AbilityRotate)
	return s.write(ctx, write{op: "rotate", action: "rotate.stage", key: key, needKey: true, able: ok, value: value},
		func(ctx context.Context) (Version, error) {
			if req == nil {
				req = &driver.StageRequest{}
			}
			return rot.Stage(ctx, key, value.Reveal(), req)
		})
}

// PromoteRotation makes the pending version current
// (driver.Rotator.Promote); the old current one becomes a previous value
// with the expiry given to StageRotation. It returns the new current version.
func (s *Store) PromoteRotation(ctx context.Context, key, pending string) (Version, error) {
	rot, ok := able[driver.Rotator](s, driver.AbilityRotate)
	return s.write(ctx, write{op: "rotate", action: "rotate.promote", key: key, needKey: true, able: ok},
		func(ctx context.Context) (Version, error) { return rot.Promote(ctx, key, pending) })
}

// DiscardRotation removes a pending version that was never promoted
// (driver.Rotator.Discard).
func (s *Store) DiscardRotation(ctx context.Context, key, pending string) error {
	rot, ok := able[driver.Rotator](s, driver.AbilityRotate)
	_, err := s.write(ctx, write{op: "rotate", action: "rotate.discard", key: key, needKey: true, able: ok},
		func(ctx context.Context) (Version, error) {
			return Version{ID: pending}, rot.Discard(ctx, key, pending)
		})
	return err
}

// RetireRotation ends a previous version's grace now in a provider with
// native rotation (driver.Rotator.Retire).
func (s *Store) RetireRotation(ctx context.Context, key, version string) error {
	rot, ok := able[driver.Rotator](s, driver.AbilityRotate)
	_, err := s.write(ctx, write{op: "retire", action: "rotate.retire", key: key, needKey: true, able: ok},
		func(ctx context.Context) (Version, error) {
			return Version{ID: version}, rot.Retire(ctx, key, version)
		})
	return err
}

// DisableVersion disables one version of key: the backend keeps it but no
// longer serves it (driver.VersionDisabler: GCP, Azure). Rotation uses it to
// retire a previous version. Unimplemented when the provider cannot
// (Can("disable-version") says beforehand).
func (s *Store) DisableVersion(ctx context.Context, key, version string) error {
	dis, ok := able[driver.VersionDisabler](s, driver.AbilityDisableVersion)
	_, err := s.write(ctx, write{op: "retire", action: "rotate.disable", key: key, needKey: true, able: ok},
		func(ctx context.Context) (Version, error) {
			return Version{ID: version}, dis.DisableVersion(ctx, key, version)
		})
	return err
}
