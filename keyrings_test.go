package keyward_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
)

// countingDriver counts the reads a driver gets.
type countingDriver struct {
	driver.Store
	mu         sync.Mutex
	gets, many int
	asked      int // keys asked for in batches
}

func (c *countingDriver) Get(ctx context.Context, key, ver string) (*driver.Value, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Store.Get(ctx, key, ver)
}

func (c *countingDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	c.mu.Lock()
	c.many++
	c.asked += len(keys)
	c.mu.Unlock()
	return c.Store.(driver.BatchGetter).GetMany(ctx, keys)
}

func (c *countingDriver) Put(ctx context.Context, key string, data []byte, o *driver.PutOptions) (driver.Version, error) {
	return c.Store.(driver.Writer).Put(ctx, key, data, o)
}

func (c *countingDriver) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	return c.Store.(driver.Versioner).Versions(ctx, key)
}

func (c *countingDriver) RotationLayout(key string) driver.RotationLayout {
	return c.Store.(driver.RotationLayouter).RotationLayout(key)
}

func (c *countingDriver) reset() (gets, many int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gets, many = c.gets, c.many
	c.gets, c.many, c.asked = 0, 0, 0
	return gets, many
}

// TestKeyRingsBatches: the rings of many keys cost one batch read of the
// current values, plus one read per previous version in grace; nothing per
// key that never rotated.
func TestKeyRingsBatches(t *testing.T) {
	ctx := context.Background()
	clock := rotation.NewFakeClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	cd := &countingDriver{Store: mem.NewBackend().Driver()}
	s := keyward.NewStore(cd, &keyward.StoreOptions{TTL: -1, Clock: clock.Now})
	keys := []string{"A_KEY", "B_KEY", "C_KEY", "D_KEY", "JWT_SECRET_KEY"}
	for _, k := range keys {
		if _, err := s.Put(ctx, k, keyward.NewSecretString("keyrings-canary-value-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe"), Clock: clock.Now}); err != nil {
		t.Fatal(err)
	}
	cd.reset()
	rings, err := s.KeyRings(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	gets, many := cd.reset()
	if many != 1 || gets != 1 {
		t.Errorf("KeyRings of %d keys (one rotated): %d batch reads and %d single reads, want 1 and 1", len(keys), many, gets)
	}
	if len(rings) != len(keys) {
		t.Fatalf("got %d rings, want %d", len(rings), len(keys))
	}
	if r := rings["JWT_SECRET_KEY"]; len(r.Previous) != 1 || !r.Previous[0].Secret.Equal(keyward.NewSecretString("keyrings-canary-value-JWT_SECRET_KEY")) {
		t.Errorf("JWT_SECRET_KEY ring has %d previous values, want the old value", len(r.Previous))
	}
	for _, k := range keys[:4] {
		if r := rings[k]; len(r.Previous) != 0 || !r.Current.Secret.Equal(keyward.NewSecretString("keyrings-canary-value-"+k)) {
			t.Errorf("%s: ring wrong (%d previous)", k, len(r.Previous))
		}
	}
	// A missing key is a NotFound error naming it; the others still come back.
	rings, err = s.KeyRings(ctx, []string{"A_KEY", "NO_SUCH_KEY"})
	if keyward.ErrorCode(err) != keyward.NotFound && !isNotFoundMulti(err) {
		t.Fatalf("missing key: err = %v, want NotFound", err)
	}
	if rings["A_KEY"] == nil || rings["NO_SUCH_KEY"] != nil {
		t.Fatalf("rings = %v", rings)
	}
}

func isNotFoundMulti(err error) bool {
	m, ok := err.(keyward.MultiError)
	return ok && len(m) == 1 && keyward.ErrorCode(m[0]) == keyward.NotFound
}
