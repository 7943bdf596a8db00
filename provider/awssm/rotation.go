//go:build !keyward_omit_awssm

package awssm

import "github.com/keyward/keyward/driver"

// RotationLayout implements driver.RotationLayouter for keyward rotate:
// bundles keep the previous value in the guide's <key>_old field (with
// keyward's <key>_rotation record), surviving later writes of other keys.
func (d *bundleDriver) RotationLayout(string) driver.RotationLayout { return driver.LayoutFields }

// RotationLayout implements driver.RotationLayouter: per-key secrets use
// the service's staging labels (see rotation_keys.go).
func (d *keysDriver) RotationLayout(string) driver.RotationLayout { return driver.LayoutNative }
