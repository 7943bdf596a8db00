package plugin

import (
	"context"

	"github.com/keyward/keyward"
)

// LoopbackStore serves the driver behind s through the protocol in this
// process (LoopbackShared: s keeps owning it) and returns a new Store over
// the client side, configured by opts. The rotation suite
// (rotation/rotationtest) uses it to run every case again through the
// plugin boundary, given only the Store a provider's test opens. Closing
// the returned Store ends the conversation and leaves s open.
//
// It is one of the few callers of keyward.Store.Driver: serving the raw
// driver is the point.
func LoopbackStore(ctx context.Context, name string, s *keyward.Store, opts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := LoopbackShared(ctx, name, s.Driver())
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, opts), nil
}
