//go:build !keyward_omit_vault

package vault_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/vault"
)

// Most programs open the store by URL. The guide's variables
// (SECRET_PROVIDER=vault, VAULT_ADDR, VAULT_PATH, VAULT_ROLE_ID,
// VAULT_SECRET_ID) select the same store through keyward.StoreURLFromEnv.
func Example_openStoreFromURL() {
	ctx := context.Background()
	// Server from VAULT_ADDR; AppRole login from VAULT_ROLE_ID/VAULT_SECRET_ID.
	store, err := keyward.Open(ctx, "vault:///dharmamind/production?auth=approle")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	jwtKey, err := store.Get(ctx, "JWT_SECRET_KEY") // field JWT_SECRET_KEY, else jwt_secret_key
	if err != nil {
		log.Fatal(err)
	}
	_ = jwtKey.Reveal()
}

// Open with Options when the program has its own configuration.
func ExampleOpen() {
	ctx := context.Background()
	srv := vaultserver.New(nil) // an in-process Vault standing in for a real one
	defer srv.Close()
	srv.Mount("", "dharmamind", 2)
	_, _ = srv.PutKV("", "dharmamind", "production", map[string]any{
		"jwt_secret_key": "example-not-a-real-key", "database_url": "postgres://example",
	})

	d, err := vault.NewDriver(&vault.Options{
		Address: srv.URL,
		Path:    "dharmamind/production", // the mount (dharmamind/) is detected
		Token:   vaultserver.RootToken,   // usually from VAULT_TOKEN or a login method
	})
	if err != nil {
		log.Fatal(err)
	}
	store := keyward.NewStore(d, nil)
	defer store.Close()

	vals, err := store.GetMany(ctx, []string{"JWT_SECRET_KEY", "DATABASE_URL"}) // one read
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(vals["JWT_SECRET_KEY"].Secret, vals["JWT_SECRET_KEY"].Secret.Len(), vals["JWT_SECRET_KEY"].Version.ID)
	// Output: [REDACTED] 22 1
}
