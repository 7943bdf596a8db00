//go:build !keyward_omit_k8s

package k8s_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/delivertest"
	"github.com/keyward/keyward/provider/k8s"
)

// TestDeliver: the key ring of a Secret (KEY_OLD stored in the Secret
// itself) reaches run, export and template as one JWT_SECRET_KEY_OLD while
// it is in grace, and not at all once the grace ended or was revoked.
func TestDeliver(t *testing.T) {
	delivertest.Run(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
		api := newAPIServer()
		s, err := k8s.OpenStore("production", "dharmamind", &k8s.Options{Client: api.CoreV1()}, &keyward.StoreOptions{TTL: -1, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
