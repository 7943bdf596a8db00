//go:build !keyward_omit_vault

package vault_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/vault"
)

// TestStamps: change stamps come from KV v2 metadata and change exactly
// when a key's value may have: in a bundle with any write to it, in the
// keys layout with a write to that key only (a missing key has none; in a
// bundle every key shares the bundle's).
func TestStamps(t *testing.T) {
	ctx := context.Background()
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
			cs := driver.Store(d).(driver.ChangeStamper)
			w := driver.Store(d).(driver.Writer)
			put := func(k string) {
				if _, err := w.Put(ctx, k, []byte("stamps-canary-"+k), nil); err != nil {
					t.Fatal(err)
				}
			}
			stamps := func() map[string]string {
				st, err := cs.Stamps(ctx, []string{"A", "B", "MISSING"})
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := st["MISSING"]; ok && layout == vault.LayoutKeys {
					t.Fatal("keys layout: a missing key has a stamp")
				}
				return st
			}
			if st := stamps(); len(st) != 0 {
				t.Fatalf("no secret yet: %d stamps", len(st))
			}
			put("A")
			put("B")
			s1 := stamps()
			put("B")
			s2 := stamps()
			if s1["B"] == s2["B"] {
				t.Fatal("B's stamp did not change with a write to B")
			}
			if layout == vault.LayoutKeys && s1["A"] != s2["A"] {
				t.Fatal("keys layout: A's stamp changed with a write to B")
			}
			if layout == vault.LayoutBundle && s1["A"] == s2["A"] {
				t.Fatal("bundle: A's stamp (the bundle's version) did not change")
			}
			if s3 := stamps(); s3["A"] != s2["A"] || s3["B"] != s2["B"] {
				t.Fatal("stamps changed without a write")
			}
		})
	}
}
