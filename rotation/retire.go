package rotation

import (
	"context"
	"time"

	"github.com/keyward/keyward"
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
	return layoutOf(st.Layout).retire(ctx, s, st, expired, dryRun)
}
