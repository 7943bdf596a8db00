//go:build live && !keyward_omit_azurekv

package azurekv_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"testing"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/provider/azurekv"
)

// TestLiveConformance runs the conformance suite against a real Key Vault:
// go test -tags live ./provider/azurekv/ with AZURE_VAULT_URL set and
// credentials DefaultAzureCredential can find (AZURE_CLIENT_ID +
// AZURE_TENANT_ID + AZURE_CLIENT_SECRET, workload or managed identity, or
// KEYWARD_LIVE_AZURE_CLI=1 to use an `az login` session). Every secret it
// makes is named kwtest-<random>-… and deleted (soft delete) when its case
// ends; purge them with az keyvault secret purge if the vault keeps them.
func TestLiveConformance(t *testing.T) {
	vault := os.Getenv("AZURE_VAULT_URL")
	if vault == "" || (os.Getenv("AZURE_CLIENT_ID") == "" && os.Getenv("KEYWARD_LIVE_AZURE_CLI") == "") {
		t.Skip("live Azure test: set AZURE_VAULT_URL and Azure credentials (AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET or KEYWARD_LIVE_AZURE_CLI=1)")
	}
	u, err := url.Parse(vault)
	if err != nil || u.Host == "" {
		t.Fatalf("AZURE_VAULT_URL is not a URL")
	}
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		// Digits only: List maps names back to upper case, which must not
		// change the prefix.
		return &providertest.Live{
			Prefix:       fmt.Sprintf("KWTEST_%d_", mrand.Uint32()),
			Open:         func() (driver.Store, error) { return azurekv.NewDriver(u.Host, nil) },
			Capabilities: drivertest.Caps{ConcurrentWriters: 2},
		}, nil
	})
}
