//go:build !keyward_omit_gcpsm

package gcpsm_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/gcpserver"
	_ "github.com/keyward/keyward/provider/gcpsm"
)

// The guide's GCP configuration: key JWT_SECRET_KEY is secret
// jwt-secret-key in project dharmamind-prod. In production the URL is just
// "gcpsm://projects/dharmamind-prod" and credentials come from Application
// Default Credentials; here it points at an in-process server.
func Example_openStoreFromURL() {
	srv, err := gcpserver.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Seed("dharmamind-prod", "jwt-secret-key", []byte("example-jwt-signing-key")); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	store, err := keyward.Open(ctx, "gcpsm://projects/dharmamind-prod?endpoint="+srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	v, err := store.GetValue(ctx, "JWT_SECRET_KEY", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", v.Version.ID, "length", v.Secret.Len(), "prints as", v.Secret)
	// Output: version 1 length 23 prints as [REDACTED]
}
