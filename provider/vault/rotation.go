//go:build !keyward_omit_vault

package vault

import (
	"context"
	"time"

	"github.com/keyward/keyward/driver"
)

// RotationLayout implements driver.RotationLayouter for keyward rotate.
//
// In the bundle layout (the guide's one KV secret) the previous value is
// the field KEY_OLD, next to KEY, with the rotation record in KEY_ROTATION
// and an unfinished rotation's value in KEY_PENDING; every step is one KV v2
// version written with check-and-set, and a second concurrent rotation
// fails on the create-only write of KEY_PENDING. In the keys layout on KV v2
// the previous value is the secret's previous KV version, with the record
// in the secret KEY_ROTATION.
//
// The KV version is the detected one (kv=1 or a mount Vault reports as
// version 1): KV v1 keeps no versions, so it always uses the fields layout.
func (d *kvDriver) RotationLayout(string) driver.RotationLayout {
	if d.o.Layout == LayoutKeys && d.kvVersion() != 1 {
		return driver.LayoutVersions
	}
	return driver.LayoutFields
}

// kvVersion is the KV version in use, detecting the mount if no call has
// yet (RotationLayout has no context of its own; detection is one bounded
// request, and a failure falls back to the configured version).
func (d *kvDriver) kvVersion() int {
	if d.o.KVVersion != 0 {
		return d.o.KVVersion
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t, err := d.resolve(ctx)
	if err != nil {
		return 0
	}
	return t.version
}
