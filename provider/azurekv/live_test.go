//go:build live && !keyward_omit_azurekv

package azurekv_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
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
	project := u.Host
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		// Digits only: List maps ids back to upper case, which must not
		// change the prefix.
		return &liveHarness{project: project, prefix: fmt.Sprintf("KWTEST_%d_", mrand.Uint32())}, nil
	})
}

// liveHarness prefixes every key so a run touches only its own secrets.
type liveHarness struct {
	project string
	prefix  string
	drivers []driver.Store
	mu      sync.Mutex
	keys    map[string]bool
}

// prefixedStore maps every key into the run's namespace and records the
// keys it wrote so Close can delete them.
type prefixedStore struct {
	d driver.Store
	h *liveHarness
}

func (p *prefixedStore) k(key string) string {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	if p.h.keys == nil {
		p.h.keys = map[string]bool{}
	}
	p.h.keys[p.h.prefix+key] = true
	return p.h.prefix + key
}
func (p *prefixedStore) Get(ctx context.Context, key, v string) (*driver.Value, error) {
	return p.d.Get(ctx, p.h.prefix+key, v)
}
func (p *prefixedStore) ErrorCode(err error) driver.Code { return p.d.ErrorCode(err) }
func (p *prefixedStore) Close() error                    { return nil }
func (p *prefixedStore) Put(ctx context.Context, key string, data []byte, o *driver.PutOptions) (driver.Version, error) {
	return p.d.(driver.Writer).Put(ctx, p.k(key), data, o)
}
func (p *prefixedStore) Delete(ctx context.Context, key string) error {
	return p.d.(driver.Deleter).Delete(ctx, p.h.prefix+key)
}
func (p *prefixedStore) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	return p.d.(driver.Versioner).Versions(ctx, p.h.prefix+key)
}
func (p *prefixedStore) List(ctx context.Context) ([]driver.KeyInfo, error) {
	all, err := p.d.(driver.Lister).List(ctx)
	var out []driver.KeyInfo
	for _, ki := range all {
		if rest, ok := strings.CutPrefix(ki.Key, p.h.prefix); ok {
			ki.Key = rest
			out = append(out, ki)
		}
	}
	return out, err
}

func (h *liveHarness) MakeDriver(ctx context.Context) (driver.Store, error) {
	d, err := azurekv.New(h.project, nil)
	if err != nil {
		return nil, err
	}
	h.drivers = append(h.drivers, d)
	return &prefixedStore{d: d, h: h}, nil
}

func (h *liveHarness) Seed(ctx context.Context, key string, data []byte) error {
	d, err := h.MakeDriver(ctx)
	if err != nil {
		return err
	}
	_, err = d.(driver.Writer).Put(ctx, key, data, nil)
	return err
}

func (h *liveHarness) Caps() drivertest.Caps {
	return drivertest.Caps{ConcurrentWriters: 2}
}

func (h *liveHarness) Close() {
	ctx := context.Background()
	for k := range h.keys {
		_ = h.drivers[0].(driver.Deleter).Delete(ctx, k)
	}
	for _, d := range h.drivers {
		d.Close()
	}
}
