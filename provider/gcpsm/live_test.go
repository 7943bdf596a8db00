//go:build live && !keyward_omit_gcpsm

package gcpsm_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"testing"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/provider/gcpsm"
)

// TestLiveConformance runs the conformance suite against real Secret
// Manager: go test -tags live ./provider/gcpsm/ with
// GOOGLE_APPLICATION_CREDENTIALS and GCP_PROJECT set. Every secret it makes
// is named kwtest-<random>-… and deleted when its case ends.
func TestLiveConformance(t *testing.T) {
	project := os.Getenv("GCP_PROJECT")
	if project == "" || os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") == "" {
		t.Skip("live GCP test: set GOOGLE_APPLICATION_CREDENTIALS and GCP_PROJECT")
	}
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		// Digits only: List maps ids back to upper case, which must not
		// change the prefix.
		return &providertest.Live{
			Prefix:       fmt.Sprintf("KWTEST_%d_", mrand.Uint32()),
			Open:         func() (driver.Store, error) { return gcpsm.NewDriver(project, nil) },
			Capabilities: drivertest.Caps{BinaryValues: true, CheckAndSet: true, ConcurrentWriters: 2},
		}, nil
	})
}
