//go:build !keyward_omit_vault

package vault_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/vault"
)

func noEnv(string) string { return "" }

func TestConformance(t *testing.T) {
	layouts := []struct {
		name  string
		mount func(s *vaultserver.Server)
		opts  vault.Options
		kv    int
	}{
		// The guide's setup: `vault secrets enable -path=dharmamind kv-v2`.
		{"GuideMount", func(s *vaultserver.Server) { s.Mount("", "dharmamind", 2) },
			vault.Options{Path: "dharmamind/production"}, 2},
		// The guide's Python: the same VAULT_PATH under the default secret/ mount.
		{"DefaultSecretMount", func(s *vaultserver.Server) {},
			vault.Options{Path: "dharmamind/production"}, 2},
		{"ExplicitMount", func(s *vaultserver.Server) {},
			vault.Options{Path: "dharmamind/production", Mount: "secret"}, 2},
		{"KVv1", func(s *vaultserver.Server) { s.Mount("", "kv1", 1) },
			vault.Options{Path: "kv1/dharmamind/production", KVVersion: 1}, 1},
		{"KeysLayout", func(s *vaultserver.Server) {},
			vault.Options{Path: "secret/dharmamind/production", Layout: vault.LayoutKeys}, 2},
		{"KeysLayoutKVv1", func(s *vaultserver.Server) { s.Mount("", "kv1", 1) },
			vault.Options{Path: "kv1/dharmamind", Layout: vault.LayoutKeys, KVVersion: 1}, 1},
		{"Namespace", func(s *vaultserver.Server) { s.Mount("team-a", "dharmamind", 2) },
			vault.Options{Path: "dharmamind/production", Namespace: "team-a"}, 2},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
				s := vaultserver.New(nil)
				t.Cleanup(s.Close)
				l.mount(s)
				o := l.opts
				o.Address = s.URL
				o.Token = vaultserver.RootToken
				o.Getenv = noEnv
				return &providertest.Harness{
					Open: func() (driver.Store, error) { o := o; return vault.NewDriver(&o) },
					// Vault keeps 10 versions by default; the concurrency case writes
					// 1+3n versions, so n = 3 keeps every one of them.
					Capabilities: drivertest.Caps{CheckAndSet: l.kv != 1, ConcurrentWriters: 3},
				}, nil
			})
		})
	}
}
