package local

import "github.com/keyward/keyward/driver"

// RotationLayout implements driver.RotationLayouter: the local store keeps
// every version with its metadata, so a rotation is one atomic file write
// whose new version's Meta records the previous versions still in grace
// (keyward.ring) and the rotation time (keyward.rotated).
func (d *localDriver) RotationLayout(string) driver.RotationLayout { return driver.LayoutVersionMeta }
