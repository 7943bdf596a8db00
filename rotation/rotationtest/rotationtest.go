// Package rotationtest is the rotation conformance suite: every writable
// provider runs it (against its in-process server) to show that keyward
// rotate keeps the previous value valid for the grace period, ends it on
// time, revokes it on demand and, where the backend has an atomic
// check-and-set, lets exactly one of two concurrent rotations win.
package rotationtest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/rotation"
)

// Caps says what a provider can be held to.
type Caps struct {
	// AtomicCAS: the backend's check-and-set is atomic, so of two
	// concurrent rotations exactly one wins (Vault, AWS, GCP, local,
	// Kubernetes; not Azure, whose IfVersion is a read-then-write).
	AtomicCAS bool
	// Key is the key to rotate (default JWT_SECRET_KEY).
	Key string
}

// NewStore opens a fresh, empty store over the provider whose clock is
// clock (keyward.StoreOptions.Clock), with the cache off.
type NewStore func(t *testing.T, clock func() time.Time) *keyward.Store

var t0 = time.Now().UTC().Truncate(time.Second)

const (
	canary0 = "rotationtest-canary-zero-00000000000000000"
	canary1 = "rotationtest-canary-one-111111111111111111"
	canary2 = "rotationtest-canary-two-222222222222222222"
)

func values(t *testing.T, s *keyward.Store, key string) []string {
	t.Helper()
	r, err := s.KeyRing(context.Background(), key)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	var out []string
	for _, k := range r.Keys() {
		switch k.Secret.RevealString() {
		case canary0:
			out = append(out, "v0")
		case canary1:
			out = append(out, "v1")
		case canary2:
			out = append(out, "v2")
		default:
			out = append(out, "other")
		}
	}
	return out
}

func checkNoCanary(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, c := range []string{canary0, canary1, canary2} {
		if strings.Contains(err.Error(), c) {
			t.Fatalf("an error contains a secret value (%d bytes of error text)", len(err.Error()))
		}
	}
}

func fixed(v string) func(context.Context) (keyward.Secret, error) {
	return rotation.Fixed(keyward.NewSecretString(v))
}

// Run runs every case of the suite as a subtest, each on a fresh store:
// against the store as given, then again under "plugin/" with its driver
// served through the plugin protocol (plugin.LoopbackStore), so rotation
// through a provider plugin program is held to the same contract. A case
// that needs a capability the provider lacks (Caps) is not run.
func Run(t *testing.T, newStore NewStore, caps Caps) {
	t.Helper()
	runCases(t, newStore, caps)
	t.Run("plugin", func(t *testing.T) {
		runCases(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
			s := newStore(t, clock)
			ps, err := plugin.LoopbackStore(context.Background(), "rotation", s, &keyward.StoreOptions{TTL: -1, Clock: clock, URL: s.URL()})
			if err != nil {
				t.Fatalf("serving the driver through the plugin protocol: %v", err)
			}
			t.Cleanup(func() { ps.Close() })
			return ps
		}, caps)
	})
}

// env is what a case runs against: a store whose key holds canary0 (v0),
// and the clock the store and the rotations share.
type env struct {
	ctx   context.Context
	s     *keyward.Store
	key   string
	clock *rotation.FakeClock
}

func (e *env) rotate(t *testing.T, o *rotation.Options) (*rotation.Result, error) {
	t.Helper()
	o.Clock = e.clock.Now
	res, err := rotation.Rotate(e.ctx, e.s, e.key, o)
	checkNoCanary(t, err)
	return res, err
}

func (e *env) ring(t *testing.T) string {
	t.Helper()
	return strings.Join(values(t, e.s, e.key), " ")
}

type testCase struct {
	name string
	why  string
	// needs says whether the provider can be held to the case (nil: every
	// provider).
	needs func(Caps) bool
	run   func(t *testing.T, e *env)
}

func runCases(t *testing.T, newStore NewStore, caps Caps) {
	t.Helper()
	key := caps.Key
	if key == "" {
		key = "JWT_SECRET_KEY"
	}
	for _, tc := range cases {
		if tc.needs != nil && !tc.needs(caps) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := rotation.NewFakeClock(t0)
			s := newStore(t, clock.Now)
			if _, err := s.Put(ctx, key, keyward.NewSecretString(canary0), nil); err != nil {
				t.Fatalf("seed: %v", err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("case %s: %s", tc.name, tc.why)
				}
			}()
			tc.run(t, &env{ctx: ctx, s: s, key: key, clock: clock})
		})
	}
}

var cases = []testCase{
	{
		name: "GraceThenRetire",
		why:  "a rotation must keep the previous value valid for exactly its grace, then a sweep retires it (and a backend that disables versions stops serving it)",
		run: func(t *testing.T, e *env) {
			ctx, s, key := e.ctx, e.s, e.key
			res, err := e.rotate(t, &rotation.Options{Grace: 24 * time.Hour, NewValue: fixed(canary1)})
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if got := e.ring(t); got != "v1 v0" {
				t.Fatalf("ring after rotation = %v, want [v1 v0]", got)
			}
			cur, err := s.GetValue(ctx, key, &keyward.GetOptions{NoCache: true})
			if err != nil || cur.Secret.RevealString() != canary1 {
				t.Fatalf("Get after rotation does not return the new value (err %v)", err)
			}
			r, _ := s.KeyRing(ctx, key)
			if len(r.Previous) != 1 || !r.Previous[0].Expires.Equal(res.PreviousExpires) {
				t.Fatalf("previous expiry: ring %+v, result %v", r.Previous, res.PreviousExpires)
			}
			if r.Current.ID == r.Previous[0].ID {
				t.Fatalf("current and previous share the ring id %q", r.Current.ID)
			}
			// Status sees no unfinished rotation.
			st, err := s.RotationState(ctx, key)
			if err != nil || st.InFlight() {
				t.Fatalf("in flight after a finished rotation (err %v)", err)
			}
			// One hour before the end: still in; after it: out.
			e.clock.Advance(23 * time.Hour)
			if got := e.ring(t); got != "v1 v0" {
				t.Fatalf("ring inside the grace = %v", got)
			}
			e.clock.Advance(time.Hour + time.Second)
			if got := e.ring(t); got != "v1" {
				t.Fatalf("ring after the grace = %v, want [v1]", got)
			}
			ret, err := rotation.Retire(ctx, s, key, e.clock.Now, false)
			if err != nil {
				t.Fatalf("Retire: %v", err)
			}
			// In the version-meta layout time alone retires: the ring
			// already leaves the value out.
			if st.Layout != driver.LayoutVersionMeta && len(ret) != 1 {
				t.Fatalf("Retire retired %d values, want 1", len(ret))
			}
			if s.Can("disable-version") {
				if ret[0].How != "disabled" {
					t.Fatalf("retire on a provider that disables versions: %q", ret[0].How)
				}
				if _, err := s.GetValue(ctx, key, &keyward.GetOptions{Version: r.Previous[0].Version.ID, NoCache: true}); err == nil {
					t.Fatalf("the retired version %s still serves", r.Previous[0].Version.ID)
				}
			}
			again, err := rotation.Retire(ctx, s, key, e.clock.Now, false)
			if err != nil || len(again) != 0 {
				t.Fatalf("second Retire: %d, %v", len(again), err)
			}
			if got := e.ring(t); got != "v1" {
				t.Fatalf("ring after retire = %v, want [v1]", got)
			}
		},
	},
	{
		name: "TwoRotationsInGrace",
		why:  "rotating again inside a grace keeps every value still in grace (services may hold tokens signed by either)",
		run: func(t *testing.T, e *env) {
			for _, v := range []string{canary1, canary2} {
				if _, err := e.rotate(t, &rotation.Options{Grace: time.Hour, NewValue: fixed(v)}); err != nil {
					t.Fatalf("Rotate: %v", err)
				}
				e.clock.Advance(time.Minute)
			}
			if got := e.ring(t); got != "v2 v1 v0" && got != "v2 v1" {
				t.Fatalf("ring after two rotations = %v", got)
			}
		},
	},
	{
		name: "RevokePrevious",
		why:  "after a breach the previous value must stop being valid at once",
		run: func(t *testing.T, e *env) {
			res, err := e.rotate(t, &rotation.Options{RevokePrevious: true, NewValue: fixed(canary1)})
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if !res.Revoked {
				t.Fatalf("result does not say revoked")
			}
			if got := e.ring(t); got != "v1" {
				t.Fatalf("ring after revoke = %v, want [v1]", got)
			}
		},
	},
	{
		name: "DryRunWritesNothing",
		why:  "rotate --dry-run is how an operator checks a plan; it must not change the store",
		run: func(t *testing.T, e *env) {
			if _, err := e.rotate(t, &rotation.Options{DryRun: true, NewValue: fixed(canary1)}); err != nil {
				t.Fatal(err)
			}
			if got := e.ring(t); got != "v0" {
				t.Fatalf("dry run changed the ring: %v", got)
			}
		},
	},
	{
		name:  "ConcurrentRotationsOneWins",
		why:   "two rotations racing (two CI jobs) must not both win: the loser would leave a value nobody keeps in the ring",
		needs: func(c Caps) bool { return c.AtomicCAS },
		run: func(t *testing.T, e *env) {
			var ready sync.WaitGroup
			ready.Add(2)
			release := make(chan struct{})
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, v := range []string{canary1, canary2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = rotation.Rotate(e.ctx, e.s, e.key, &rotation.Options{Grace: time.Hour, NewValue: fixed(v), Clock: e.clock.Now,
						Hook: func(st rotation.Step) {
							if st == rotation.StepPlanned {
								ready.Done()
								<-release
							}
						}})
				}()
			}
			ready.Wait()
			close(release)
			wg.Wait()
			wins := 0
			for _, err := range errs {
				checkNoCanary(t, err)
				if err == nil {
					wins++
					continue
				}
				if keyward.ErrorCode(err) != keyward.FailedPrecondition || !errors.Is(err, rotation.ErrConflict) {
					t.Errorf("loser: code %v, want a failed-precondition conflict: %v", keyward.ErrorCode(err), err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d of 2 concurrent rotations won, want exactly 1", wins)
			}
			got := values(t, e.s, e.key)
			if len(got) != 2 || got[1] != "v0" || (got[0] != "v1" && got[0] != "v2") {
				t.Fatalf("ring after the race = %v, want [winner v0]", got)
			}
			st, err := e.s.RotationState(e.ctx, e.key)
			if err != nil || st.InFlight() {
				t.Fatalf("the loser left the key in flight (err %v)", err)
			}
		},
	},
}
