//go:build !keyward_omit_vault

package vault

import "github.com/keyward/keyward/driver"

// RotationLayout implements driver.RotationLayouter for keyward rotate.
//
// In the bundle layout (the guide's one KV secret) the previous value is
// the field KEY_OLD, next to KEY, with the rotation record in KEY_ROTATION
// and an unfinished rotation's value in KEY_PENDING; every step is one KV v2
// version written with check-and-set, and a second concurrent rotation
// fails on the create-only write of KEY_PENDING. In the keys layout on KV v2
// the previous value is the secret's previous KV version, with the record
// in the secret KEY_ROTATION.
func (d *Driver) RotationLayout(string) driver.RotationLayout {
	if d.o.Layout == LayoutKeys && d.o.KVVersion != 1 {
		return driver.LayoutVersions
	}
	return driver.LayoutFields
}
