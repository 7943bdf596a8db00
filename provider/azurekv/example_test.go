//go:build !keyward_omit_azurekv

package azurekv_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/azureserver"
	_ "github.com/keyward/keyward/provider/azurekv"
)

// The guide's Azure configuration: key JWT_SECRET_KEY is secret
// jwt-secret-key in vault dharmamind-vault. In production the URL is just
// "azurekv://dharmamind-vault.vault.azure.net" and credentials come from
// DefaultAzureCredential; here it points at an in-process server.
func Example_openStoreFromURL() {
	srv := azureserver.Start()
	defer srv.Close()
	if _, err := srv.Seed("jwt-secret-key", "example-jwt-signing-key"); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	store, err := keyward.Open(ctx, "azurekv://dharmamind-vault.vault.azure.net?endpoint="+srv.URL())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	v, err := store.GetValue(ctx, "JWT_SECRET_KEY", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version id length", len(v.Version.ID), "value length", v.Secret.Len(), "prints as", v.Secret)
	// Output: version id length 32 value length 23 prints as [REDACTED]
}
