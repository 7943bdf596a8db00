//go:build !keyward_omit_vault

package vault_test

import (
	"testing"

	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/vault"
)

// TestStamps: change stamps come from KV v2 metadata and change exactly
// when a key's value may have: in a bundle with any write to it, in the
// keys layout with a write to that key only (a missing key has none; in a
// bundle every key shares the bundle's).
func TestStamps(t *testing.T) {
	for _, layout := range []string{vault.LayoutBundle, vault.LayoutKeys} {
		t.Run(layout, func(t *testing.T) {
			srv := vaultserver.New(nil)
			t.Cleanup(srv.Close)
			srv.Mount("", "dharmamind", 2)
			d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: vaultserver.RootToken,
				Path: "dharmamind/production", Layout: layout, Getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			providertest.Stamps(t, d, layout == vault.LayoutKeys)
		})
	}
}
