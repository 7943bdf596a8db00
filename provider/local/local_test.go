package local_test

import (
	"context"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/provider/local"
)

type harness struct {
	path string
	id   *local.Identity
}

func (h *harness) MakeDriver(context.Context) (driver.Store, error) {
	// Every version is kept: the conformance suite counts them.
	return local.NewDriver(h.path, &local.Options{Identity: h.id, KeepVersions: -1})
}

func (h *harness) Seed(ctx context.Context, key string, data []byte) error {
	d, err := h.MakeDriver(ctx)
	if err != nil {
		return err
	}
	_, err = d.(driver.Writer).Put(ctx, key, data, nil)
	return err
}

func (h *harness) Caps() drivertest.Caps {
	return drivertest.Caps{BinaryValues: true, CheckAndSet: true}
}

func (h *harness) Close() {}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		return &harness{path: filepath.Join(t.TempDir(), "keyward.age"), id: newIdentity(t)}, nil
	})
}

// newIdentity returns a fresh in-memory identity.
func newIdentity(t testing.TB) *local.Identity {
	t.Helper()
	i, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &local.Identity{Identities: []age.Identity{i}, Recipients: []string{i.Recipient().String()}, Source: "test"}
}
