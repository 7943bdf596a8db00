//go:build !keyward_omit_azurekv

package azurekv

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keyward/keyward/driver"
)

// Rotation (keyward rotate) on Key Vault: the new value is a new version of
// the secret (SetSecret); the previous value is the version before it,
// which keeps serving by its version id during the grace period. The grace
// record lives in the companion secret KEY_ROTATION
// (jwt-secret-key-rotation). When the grace ends (`keyward rotate --retire`
// or --due), the previous version is disabled (UpdateSecretProperties with
// enabled=false): Key Vault keeps it, and reading it answers 403
// SecretDisabled.

var _ driver.VersionDisabler = (*store)(nil)

// DisableVersion implements driver.VersionDisabler.
func (d *store) DisableVersion(ctx context.Context, key, version string) error {
	name, err := d.name(key)
	if err != nil {
		return err
	}
	c, err := d.getClient()
	if err != nil {
		return err
	}
	off := false
	_, err = c.UpdateSecretProperties(ctx, name, version, azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: &off},
	}, nil)
	if err != nil {
		return wrap(ctx, err)
	}
	return nil
}
