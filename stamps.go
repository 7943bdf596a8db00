package keyward

import (
	"context"

	"github.com/keyward/keyward/driver"
)

// Stamps returns the provider's cheap change tokens for keys (see
// driver.ChangeStamper): a token that differs from an earlier one means the
// key may have changed; the same token means it did not. ok is false when
// the provider has no such ability (the caller then compares values).
// Stamps are metadata: they are not cached and not audited.
func (s *Store) Stamps(ctx context.Context, keys []string) (stamps map[string]string, ok bool, err error) {
	cs, ok := able[driver.ChangeStamper](s, driver.AbilityStamps)
	if !ok {
		return nil, false, nil
	}
	if err := s.checkOpen("stamps", ""); err != nil {
		return nil, true, err
	}
	cctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err = s.retry(cctx, func(ctx context.Context) error {
		var err error
		stamps, err = cs.Stamps(ctx, keys)
		return err
	})
	if err != nil {
		return nil, true, s.wrap("stamps", "", err)
	}
	return stamps, true, nil
}

// Audit adds a record to the store's audit trail for an action a caller
// took on what it read (keyward run --watch reloading its child names the
// keys and versions in Detail). e.Value must be empty: an action record
// never carries a value. Time, Store and Environment are filled in.
func (s *Store) Audit(ctx context.Context, e *Event) error {
	ev := *e
	ev.Value = Secret{}
	return s.audit(ctx, &ev)
}
