package mem

import "github.com/keyward/keyward/driver"

// RotationLayout implements driver.RotationLayouter: mem keeps per-version
// metadata, so a rotation is one atomic write whose Meta records the
// previous versions still in grace.
func (d *memDriver) RotationLayout(string) driver.RotationLayout { return driver.LayoutVersionMeta }
