//go:build live && !keyward_omit_gcpsm

package gcpsm_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
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
	d, err := gcpsm.New(h.project, nil)
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
	return drivertest.Caps{BinaryValues: true, CheckAndSet: true, ConcurrentWriters: 2}
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
