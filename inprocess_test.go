package keyward_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/mem"
)

// overlapDriver records how many Gets are in flight at once. Each Get
// waits (up to a bound, so that one-at-a-time reads still finish) for a
// second Get to arrive: concurrent lookups always overlap, so the peak is
// deterministic either way.
type overlapDriver struct {
	driver.Store
	mu        sync.Mutex
	cond      *sync.Cond
	now, peak int
}

func newOverlapDriver(d driver.Store) *overlapDriver {
	o := &overlapDriver{Store: d}
	o.cond = sync.NewCond(&o.mu)
	return o
}

func (o *overlapDriver) Get(ctx context.Context, key, ver string) (*driver.Value, error) {
	o.mu.Lock()
	o.now++
	o.peak = max(o.peak, o.now)
	o.cond.Broadcast()
	expired := false
	deadline := time.AfterFunc(20*time.Millisecond, func() {
		o.mu.Lock()
		expired = true
		o.cond.Broadcast()
		o.mu.Unlock()
	})
	for o.now < 2 && !expired {
		o.cond.Wait()
	}
	deadline.Stop()
	o.now--
	o.mu.Unlock()
	return o.Store.Get(ctx, key, ver)
}

// inProcessDriver is an overlapDriver that says its reads stay in the process.
type inProcessDriver struct{ *overlapDriver }

func (d inProcessDriver) InProcess() bool { return true }

// TestInProcessBatchesRunInline: a driver that serves reads inside the
// process (driver.InProcess: the embedded providers) gets a batch's per-key
// lookups one at a time, with no goroutine per key; any other driver (a
// remote provider, the plugin client) gets them concurrently. The values
// are the same either way.
func TestInProcessBatchesRunInline(t *testing.T) {
	ctx := context.Background()
	var keys []string
	backend := mem.NewBackend()
	seed := keyward.NewStore(backend.Driver(), nil)
	for i := range 8 {
		k := fmt.Sprintf("KEY_%d", i)
		keys = append(keys, k)
		if _, err := seed.Put(ctx, k, keyward.NewSecretString("inprocess-canary-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		inline   bool
		wantPeak func(int) bool
	}{
		{"in-process", true, func(p int) bool { return p == 1 }},
		{"remote", false, func(p int) bool { return p >= 2 }},
	} {
		for _, op := range []string{"GetMany", "KeyRings"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				od := newOverlapDriver(roDriver{backend.Driver()}) // Get only: batches read per key
				var d driver.Store = od
				if tc.inline {
					d = inProcessDriver{od}
				}
				s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1})
				n := 0
				switch op {
				case "GetMany":
					vals, err := s.GetMany(ctx, keys)
					if err != nil {
						t.Fatal(err)
					}
					for _, k := range keys {
						if vals[k] == nil || vals[k].Secret.RevealString() != "inprocess-canary-"+k {
							t.Fatalf("GetMany: %s has the wrong value", k)
						}
					}
					n = len(vals)
				case "KeyRings":
					rings, err := s.KeyRings(ctx, keys)
					if err != nil {
						t.Fatal(err)
					}
					for _, k := range keys {
						if rings[k] == nil || rings[k].Current.Secret.RevealString() != "inprocess-canary-"+k {
							t.Fatalf("KeyRings: %s has the wrong current value", k)
						}
					}
					n = len(rings)
				}
				if n != len(keys) {
					t.Fatalf("%s returned %d keys, want %d", op, n, len(keys))
				}
				if !tc.wantPeak(od.peak) {
					t.Errorf("%s on a %s driver: %d lookups in flight at once", op, tc.name, od.peak)
				}
			})
		}
	}
}
