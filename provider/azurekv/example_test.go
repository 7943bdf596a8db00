//go:build !keyward_omit_azurekv

package azurekv_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyward/keyward/internal/testing/azureserver"
	"github.com/keyward/keyward/provider/azurekv"
)

// The guide's Azure configuration: key JWT_SECRET_KEY is secret
// jwt-secret-key in vault dharmamind-vault. The URL form is
// keyward.Open(ctx, "azurekv://dharmamind-vault.vault.azure.net"); from Go
// code OpenStore takes the vault (NAME is NAME.vault.azure.net) and
// Options. In production Options is nil and credentials come from
// DefaultAzureCredential; here Endpoint points at an in-process server.
func ExampleOpenStore() {
	srv := azureserver.Start()
	defer srv.Close()
	if _, err := srv.Seed("jwt-secret-key", "example-jwt-signing-key"); err != nil {
		log.Fatal(err)
	}

	store, err := azurekv.OpenStore("dharmamind-vault", &azurekv.Options{Endpoint: srv.URL()}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	jwt, err := store.Get(context.Background(), "JWT_SECRET_KEY")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("length", jwt.Len(), "prints as", jwt)
	// Output: length 23 prints as [REDACTED]
}
