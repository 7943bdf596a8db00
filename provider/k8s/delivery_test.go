//go:build !keyward_omit_k8s

package k8s_test

import (
	"testing"

	"github.com/keyward/keyward/internal/cli/delivertest"
)

// TestDeliver: the key ring of a Secret (KEY_OLD stored in the Secret
// itself) reaches run, export and template as one JWT_SECRET_KEY_OLD while
// it is in grace, and not at all once the grace ended or was revoked.
func TestDeliver(t *testing.T) {
	delivertest.Run(t, clockedStore)
}
