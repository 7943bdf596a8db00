//go:build !keyward_omit_gcpsm

package gcpsm

import (
	"context"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/keyward/keyward/driver"
)

// Rotation (keyward rotate) on Secret Manager: the new value is a new
// version of the secret; the previous value is the version before it,
// which keeps serving by its version number during the grace period. The
// grace record lives in the companion secret KEY_ROTATION
// (jwt-secret-key-rotation). When the grace ends (`keyward rotate --retire`
// or --due), the previous version is disabled with DisableSecretVersion: it
// is kept, can be re-enabled, and no longer serves.

var _ driver.VersionDisabler = (*store)(nil)

// DisableVersion implements driver.VersionDisabler.
func (d *store) DisableVersion(ctx context.Context, key, version string) error {
	name, err := d.secretName(key)
	if err != nil {
		return err
	}
	c, err := d.getClient(ctx)
	if err != nil {
		return err
	}
	_, err = c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: name + "/versions/" + version})
	if err != nil {
		return wrapRPC(ctx, err)
	}
	return nil
}
