//go:build live && !keyward_omit_vault

package vault_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/provider/vault"
)

// liveHarness runs the conformance suite against a real Vault or OpenBao
// named by VAULT_ADDR and VAULT_TOKEN, under KEYWARD_LIVE_VAULT_MOUNT
// (default secret/, KV v2). Each case writes its own secret and deletes its
// metadata afterwards.
type liveHarness struct {
	opts   vault.Options
	client *api.Client
	path   string
}

func (h *liveHarness) MakeDriver(ctx context.Context) (driver.Store, error) {
	o := h.opts
	return vault.NewDriver(&o)
}

func (h *liveHarness) Seed(ctx context.Context, key string, data []byte) error {
	d, err := h.MakeDriver(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.(driver.Writer).Put(ctx, key, data, nil)
	return err
}

func (h *liveHarness) Caps() drivertest.Caps {
	return drivertest.Caps{CheckAndSet: true, ConcurrentWriters: 3}
}

func (h *liveHarness) Close() {
	ctx := context.Background()
	del := func(p string) {
		r := h.client.NewRequest(http.MethodDelete, "/v1/"+p)
		if resp, err := h.client.RawRequestWithContext(ctx, r); err == nil { //nolint:staticcheck
			resp.Body.Close()
		}
	}
	// The keys layout leaves one secret per key under the path.
	if sec, err := h.client.Logical().ListWithContext(ctx, h.path); err == nil && sec != nil {
		keys, _ := sec.Data["keys"].([]any)
		for _, k := range keys {
			if s, ok := k.(string); ok {
				del(h.path + "/" + s)
			}
		}
	}
	del(h.path)
}

func TestLiveConformance(t *testing.T) {
	if os.Getenv("VAULT_ADDR") == "" || os.Getenv("VAULT_TOKEN") == "" {
		t.Skip("VAULT_ADDR and VAULT_TOKEN are not set; see docs/providers/vault.md")
	}
	mount := os.Getenv("KEYWARD_LIVE_VAULT_MOUNT")
	if mount == "" {
		mount = "secret"
	}
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, layout := range []string{vault.LayoutBundle, vault.LayoutKeys} {
		t.Run(layout, func(t *testing.T) {
			drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
				b := make([]byte, 6)
				_, _ = rand.Read(b)
				sub := "keyward-live-test/" + hex.EncodeToString(b)
				return &liveHarness{
					opts:   vault.Options{Path: mount + "/" + sub, Layout: layout},
					client: client,
					path:   mount + "/metadata/" + sub,
				}, nil
			})
		})
	}
}
