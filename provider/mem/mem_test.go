package mem_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/provider/mem"
)

type harness struct{ b *mem.Backend }

func (h *harness) MakeDriver(context.Context) (driver.Store, error) { return h.b.Driver(), nil }
func (h *harness) Seed(ctx context.Context, key string, data []byte) error {
	_, err := h.b.Driver().(driver.Writer).Put(ctx, key, data, nil)
	return err
}
func (h *harness) Caps() drivertest.Caps {
	return drivertest.Caps{BinaryValues: true, CheckAndSet: true}
}
func (h *harness) Close() {}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(context.Context, *testing.T) (drivertest.Harness, error) {
		return &harness{b: mem.NewBackend()}, nil
	})
}

func TestOpenURLNamedIsShared(t *testing.T) {
	ctx := context.Background()
	a, err := keyward.Open(ctx, "mem://shared-test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := keyward.Open(ctx, "mem://shared-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(ctx, "K", keyward.NewSecretString("v"), nil); err != nil {
		t.Fatal(err)
	}
	if s, err := b.Get(ctx, "K"); err != nil || s.RevealString() != "v" {
		t.Fatalf("second open of mem://shared-test does not see the first's write: %v", err)
	}
}
