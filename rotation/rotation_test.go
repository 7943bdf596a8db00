package rotation_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fullDriver interface {
	driver.Store
	driver.Writer
	driver.Versioner
	driver.Deleter
	driver.Lister
}

// layoutDriver runs mem under any generic layout; wrapped in a
// disablingDriver it also plays a backend that can disable versions (GCP,
// Azure).
type layoutDriver struct {
	fullDriver
	layout driver.RotationLayout

	mu       sync.Mutex
	disabled map[string]bool
}

var errDisabled = errors.New("version is disabled")

func (l *layoutDriver) RotationLayout(string) driver.RotationLayout { return l.layout }

func (l *layoutDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	l.mu.Lock()
	dis := l.disabled[key+"@"+version]
	l.mu.Unlock()
	if dis {
		return nil, errDisabled
	}
	return l.fullDriver.Get(ctx, key, version)
}

func (l *layoutDriver) ErrorCode(err error) driver.Code {
	if errors.Is(err, errDisabled) {
		return driver.FailedPrecondition
	}
	return l.fullDriver.ErrorCode(err)
}

type disablingDriver struct{ *layoutDriver }

func (d disablingDriver) DisableVersion(_ context.Context, key, version string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.disabled == nil {
		d.disabled = map[string]bool{}
	}
	d.disabled[key+"@"+version] = true
	return nil
}

type env struct {
	name  string
	store *keyward.Store
	clock *rotation.FakeClock
	ld    *layoutDriver
}

func newEnv(t *testing.T, layout driver.RotationLayout, disable bool) *env {
	t.Helper()
	clock := rotation.NewFakeClock(t0)
	ld := &layoutDriver{fullDriver: mem.NewBackend().Driver().(fullDriver), layout: layout}
	var d driver.Store = ld
	if disable {
		d = disablingDriver{ld}
	}
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Clock: clock.Now, URL: "mem://test"})
	t.Cleanup(func() { s.Close() })
	return &env{name: string(layout), store: s, clock: clock, ld: ld}
}

func envs(t *testing.T) []*env {
	return []*env{
		newEnv(t, driver.LayoutVersionMeta, false),
		newEnv(t, driver.LayoutVersions, false),
		newEnv(t, driver.LayoutVersions, true),
		newEnv(t, driver.LayoutFields, false),
	}
}

func (e *env) seed(t *testing.T, key, val string) {
	t.Helper()
	if _, err := e.store.Put(context.Background(), key, keyward.NewSecretString(val), nil); err != nil {
		t.Fatalf("seed: %v", err)
	}
}

func (e *env) opts(val string, grace time.Duration) *rotation.Options {
	return &rotation.Options{Grace: grace, NewValue: rotation.Fixed(keyward.NewSecretString(val)), Clock: e.clock.Now}
}

// ringValues returns the ring's values, current first (test-only canaries).
func ringValues(t *testing.T, s *keyward.Store, key string) []string {
	t.Helper()
	r, err := s.KeyRing(context.Background(), key)
	if err != nil {
		t.Fatalf("KeyRing: %v", err)
	}
	var out []string
	for _, k := range r.Keys() {
		out = append(out, k.Secret.RevealString())
	}
	return out
}

func sameRing(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// describeRing names ring members by their canary names only.
func describeRing(got []string, names map[string]string) string {
	var out []string
	for _, g := range got {
		if n, ok := names[g]; ok {
			out = append(out, n)
		} else {
			out = append(out, "unknown(len "+string(rune('0'+len(g)%10))+")")
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}

const (
	v0 = "canary-value-zero-0000000000000000000"
	v1 = "canary-value-one-11111111111111111111"
	v2 = "canary-value-two-22222222222222222222"
)

var names = map[string]string{v0: "v0", v1: "v1", v2: "v2"}

func TestRotateGraceAndExpiry(t *testing.T) {
	ctx := context.Background()
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			e.seed(t, "JWT", v0)
			res, err := rotation.Rotate(ctx, e.store, "JWT", e.opts(v1, 24*time.Hour))
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if !res.PreviousExpires.Equal(t0.Add(24 * time.Hour)) {
				t.Errorf("PreviousExpires = %v, want now+24h", res.PreviousExpires)
			}
			if got := ringValues(t, e.store, "JWT"); !sameRing(got, v1, v0) {
				t.Fatalf("ring after rotation = %s, want [v1 v0]", describeRing(got, names))
			}
			cur, _ := e.store.Get(ctx, "JWT")
			if cur.RevealString() != v1 {
				t.Fatalf("Get after rotation is not the new value")
			}
			// A second rotation an hour later keeps both older values in grace.
			e.clock.Advance(time.Hour)
			if _, err := rotation.Rotate(ctx, e.store, "JWT", e.opts(v2, 24*time.Hour)); err != nil {
				t.Fatalf("second Rotate: %v", err)
			}
			want := []string{v2, v1, v0}
			if e.ld.layout == driver.LayoutFields {
				want = []string{v2, v1} // one previous value: the guide's KEY_OLD
			}
			if got := ringValues(t, e.store, "JWT"); !sameRing(got, want...) {
				t.Fatalf("ring after second rotation = %s, want %d values", describeRing(got, names), len(want))
			}
			// v0's grace ends 24h after the first rotation.
			e.clock.Advance(23*time.Hour + time.Minute)
			if got := ringValues(t, e.store, "JWT"); !sameRing(got, v2, v1) {
				t.Fatalf("ring after v0's grace = %s, want [v2 v1]", describeRing(got, names))
			}
			e.clock.Advance(time.Hour)
			if got := ringValues(t, e.store, "JWT"); !sameRing(got, v2) {
				t.Fatalf("ring after every grace = %s, want [v2]", describeRing(got, names))
			}
			st, err := e.store.RotationState(ctx, "JWT")
			if err != nil {
				t.Fatal(err)
			}
			if st.InFlight() {
				t.Fatalf("rotation left in flight")
			}
			ret, err := rotation.Retire(ctx, e.store, "JWT", e.clock.Now, false)
			if err != nil {
				t.Fatalf("Retire: %v", err)
			}
			if len(ret) == 0 && e.ld.layout != driver.LayoutVersionMeta {
				t.Fatalf("Retire found nothing to retire")
			}
			if e.store.Can("disable-version") {
				for _, r := range ret {
					if r.How != "disabled" {
						t.Errorf("retired %s: how = %s, want disabled", r.ID, r.How)
					}
					if _, err := e.store.GetValue(ctx, "JWT", &keyward.GetOptions{Version: r.ID}); err == nil {
						t.Errorf("retired version %s is still served", r.ID)
					}
				}
			}
			// Retiring twice finds nothing.
			if again, err := rotation.Retire(ctx, e.store, "JWT", e.clock.Now, false); err != nil || len(again) != 0 {
				t.Fatalf("second Retire: %d retired, err %v", len(again), err)
			}
			if got := ringValues(t, e.store, "JWT"); !sameRing(got, v2) {
				t.Fatalf("ring after retire = %s, want [v2]", describeRing(got, names))
			}
		})
	}
}

func TestRotateRevokePrevious(t *testing.T) {
	ctx := context.Background()
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			e.seed(t, "K", v0)
			if _, err := rotation.Rotate(ctx, e.store, "K", e.opts(v1, time.Hour)); err != nil {
				t.Fatal(err)
			}
			o := e.opts(v2, time.Hour)
			o.RevokePrevious = true
			res, err := rotation.Rotate(ctx, e.store, "K", o)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Revoked || !res.PreviousExpires.IsZero() {
				t.Errorf("result: revoked=%v expires=%v", res.Revoked, res.PreviousExpires)
			}
			if got := ringValues(t, e.store, "K"); !sameRing(got, v2) {
				t.Fatalf("ring after revoke = %s, want [v2]", describeRing(got, names))
			}
		})
	}
}

func TestRotateDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			e.seed(t, "K", v0)
			before, _ := e.store.History(ctx, "K")
			o := e.opts(v1, time.Hour)
			o.DryRun = true
			res, err := rotation.Rotate(ctx, e.store, "K", o)
			if err != nil {
				t.Fatal(err)
			}
			if !res.DryRun || len(res.Steps) < 2 {
				t.Errorf("dry run result: %+v", res)
			}
			after, _ := e.store.History(ctx, "K")
			if len(after) != len(before) {
				t.Fatalf("dry run wrote: %d versions before, %d after", len(before), len(after))
			}
			infos, _ := e.store.List(ctx)
			if len(infos) != 1 {
				t.Fatalf("dry run created keys: %d listed", len(infos))
			}
			if strings.Contains(rotation.Describe(res), v1) {
				t.Fatal("Describe printed the value")
			}
		})
	}
}

func TestConcurrentRotationsOneWins(t *testing.T) {
	ctx := context.Background()
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			e.seed(t, "K", v0)
			// Stop both rotations after they read the state, so they race.
			var ready sync.WaitGroup
			ready.Add(2)
			release := make(chan struct{})
			hook := func(s rotation.Step) {
				if s == rotation.StepPlanned {
					ready.Done()
					<-release
				}
			}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, v := range []string{v1, v2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					o := e.opts(v, time.Hour)
					o.Hook = hook
					_, errs[i] = rotation.Rotate(ctx, e.store, "K", o)
				}()
			}
			ready.Wait()
			close(release)
			wg.Wait()
			wins := 0
			for _, err := range errs {
				if err == nil {
					wins++
					continue
				}
				if keyward.ErrorCode(err) != keyward.FailedPrecondition {
					t.Errorf("loser's error code = %v (%v), want failed precondition", keyward.ErrorCode(err), err)
				}
				if !errors.Is(err, rotation.ErrConflict) {
					t.Errorf("loser's error does not say conflict: %v", err)
				}
				for _, v := range []string{v0, v1, v2} {
					if strings.Contains(err.Error(), v) {
						t.Fatal("error text contains a value")
					}
				}
			}
			if wins != 1 {
				t.Fatalf("%d rotations won, want exactly 1", wins)
			}
			got := ringValues(t, e.store, "K")
			if len(got) != 2 || got[1] != v0 || (got[0] != v1 && got[0] != v2) {
				t.Fatalf("ring = %s, want [winner v0]", describeRing(got, names))
			}
		})
	}
}

type crash struct{ at rotation.Step }

func isDisabling(e *env) bool {
	return e.store.Can("disable-version")
}

// TestCrashAtEveryStep simulates a process dying after each step (the hook
// panics), checks that a valid key was never lost, then resumes or aborts.
// The real kill -9 version of this test runs per provider (local, Vault,
// AWS) in their rotation_test.go files.
func TestCrashAtEveryStep(t *testing.T) {
	ctx := context.Background()
	// The steps each layout goes through.
	stepsOf := map[driver.RotationLayout][]rotation.Step{
		driver.LayoutVersionMeta: {rotation.StepPlanned, rotation.StepPromoted},
		driver.LayoutVersions:    {rotation.StepPlanned, rotation.StepStaged, rotation.StepPromoted, rotation.StepRecorded},
		driver.LayoutFields:      {rotation.StepPlanned, rotation.StepStaged, rotation.StepOldSaved, rotation.StepPromoted, rotation.StepRecorded, rotation.StepCleaned},
	}
	for _, mode := range []string{"resume", "abort"} {
		for _, e0 := range envs(t) {
			for _, step := range stepsOf[e0.ld.layout] {
				e := newEnv(t, e0.ld.layout, isDisabling(e0))
				t.Run(mode+"/"+string(step)+"/"+e.name, func(t *testing.T) {
					e.seed(t, "K", v0)
					o := e.opts(v1, time.Hour)
					o.Hook = func(s rotation.Step) {
						if s == step {
							panic(crash{s})
						}
					}
					crashed := func() (c bool) {
						defer func() {
							if r := recover(); r != nil {
								if _, ok := r.(crash); !ok {
									panic(r)
								}
								c = true
							}
						}()
						_, err := rotation.Rotate(ctx, e.store, "K", o)
						if err != nil {
							t.Fatalf("Rotate: %v", err)
						}
						return false
					}()
					if !crashed {
						t.Fatalf("layout %s never reached step %s", e.name, step)
					}
					// Invariant: the ring holds v0 (nothing lost) and its
					// current value is v0 or v1.
					got := ringValues(t, e.store, "K")
					if got[0] != v0 && got[0] != v1 {
						t.Fatalf("after crash at %s the current value is neither old nor new", step)
					}
					hasOld := false
					for _, g := range got {
						hasOld = hasOld || g == v0
					}
					if !hasOld {
						t.Fatalf("after crash at %s the old value left the ring: %s", step, describeRing(got, names))
					}
					st, err := e.store.RotationState(ctx, "K")
					if err != nil {
						t.Fatal(err)
					}
					if !st.InFlight() {
						if step == rotation.StepPlanned || step == rotation.StepPromoted && e.ld.layout == driver.LayoutVersionMeta {
							return // nothing, or everything, was written: no rotation to resume
						}
						if step == rotation.StepCleaned || step == rotation.StepRecorded && e.ld.layout == driver.LayoutVersions {
							return
						}
						t.Fatalf("crash at %s: not in flight, ring %s", step, describeRing(got, names))
					}
					// A plain rerun refuses: someone may still be rotating.
					if _, err := rotation.Rotate(ctx, e.store, "K", e.opts(v2, time.Hour)); !errors.Is(err, rotation.ErrInProgress) {
						t.Fatalf("rerun without --resume: %v, want ErrInProgress", err)
					}
					o2 := e.opts("", time.Hour)
					o2.Resume, o2.Abort = mode == "resume", mode == "abort"
					res, err := rotation.Rotate(ctx, e.store, "K", o2)
					if err != nil {
						t.Fatalf("%s after crash at %s: %v", mode, step, err)
					}
					st, err = e.store.RotationState(ctx, "K")
					if err != nil {
						t.Fatal(err)
					}
					if st.InFlight() {
						t.Fatalf("%s left the rotation in flight", mode)
					}
					got = ringValues(t, e.store, "K")
					switch {
					case res.Aborted:
						if !sameRing(got, v0) {
							t.Fatalf("after abort ring = %s, want [v0]", describeRing(got, names))
						}
					case res.Resumed:
						if !sameRing(got, v1, v0) {
							t.Fatalf("after resume ring = %s, want [v1 v0]", describeRing(got, names))
						}
					default:
						t.Fatalf("neither resumed nor aborted: %+v", res)
					}
				})
			}
		}
	}
}

func TestRotateMissingAndReadOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, driver.LayoutVersionMeta, false)
	_, err := rotation.Rotate(ctx, e.store, "NOPE", e.opts(v1, time.Hour))
	if keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatalf("missing key: %v, want not found", err)
	}
	ro := keyward.NewStore(readOnly{e.ld}, &keyward.StoreOptions{TTL: -1})
	_, err = rotation.Rotate(ctx, ro, "K", e.opts(v1, time.Hour))
	if keyward.ErrorCode(err) != keyward.Unimplemented {
		t.Fatalf("read-only store: %v, want unimplemented", err)
	}
	e.seed(t, "K", v0)
	if _, err := rotation.Rotate(ctx, e.store, "K", e.opts(v0, time.Hour)); keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("same value: %v, want invalid argument", err)
	}
}

type readOnly struct{ d driver.Store }

func (r readOnly) Get(ctx context.Context, k, v string) (*driver.Value, error) {
	return r.d.Get(ctx, k, v)
}
func (r readOnly) ErrorCode(err error) driver.Code { return r.d.ErrorCode(err) }
func (r readOnly) Close() error                    { return nil }

func TestGuideBundleOldField(t *testing.T) {
	// A bundle written by the guide's rotate_jwt_secret: jwt_secret_key and
	// jwt_secret_key_old, no keyward record.
	ctx := context.Background()
	e := newEnv(t, driver.LayoutFields, false)
	e.seed(t, "JWT_SECRET_KEY", v1)
	e.seed(t, "JWT_SECRET_KEY_OLD", v0)
	r, err := e.store.KeyRing(ctx, "JWT_SECRET_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Previous) != 1 || r.Previous[0].Secret.RevealString() != v0 {
		t.Fatalf("guide's _old field not in the ring: %d previous", len(r.Previous))
	}
	if r.Previous[0].Expires.IsZero() {
		t.Fatalf("guide's _old field has no expiry; want the version time + %v", keyward.DefaultGuideGrace)
	}
	// keyward's own rotation then replaces it with a recorded one.
	if _, err := rotation.Rotate(ctx, e.store, "JWT_SECRET_KEY", e.opts(v2, 2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r, err = e.store.KeyRing(ctx, "JWT_SECRET_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if r.Current.ID != "1" || len(r.Previous) != 1 || r.Previous[0].ID != "0" || !r.Previous[0].Expires.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("ring ids/expiry after keyward rotation: current %q, previous %+v", r.Current.ID, r.Previous)
	}
}

func TestEvaluateSchedule(t *testing.T) {
	day := 24 * time.Hour
	st := func(rotated time.Time) *keyward.RotationState {
		return &keyward.RotationState{Current: keyward.RingKey{ID: "3"}, RotatedAt: rotated}
	}
	cases := []struct {
		name    string
		p       rotation.Policy
		st      *keyward.RotationState
		overdue bool
		due     bool
		nextDue time.Time
	}{
		{"fresh automated", rotation.Policy{Every: 90 * day, Method: "automated"}, st(t0.Add(-10 * day)), false, false, t0.Add(80 * day)},
		{"exactly due", rotation.Policy{Every: 90 * day, Method: "automated"}, st(t0.Add(-90 * day)), true, true, t0},
		{"overdue provider", rotation.Policy{Every: 180 * day, Method: "provider"}, st(t0.Add(-200 * day)), true, false, t0.Add(-20 * day)},
		{"on breach only", rotation.Policy{Method: "manual"}, st(t0.Add(-900 * day)), false, false, time.Time{}},
		{"missing", rotation.Policy{Every: day, Method: "automated"}, nil, false, false, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := rotation.Evaluate("K", c.p, c.st, t0)
			if s.Overdue != c.overdue || !s.NextDue.Equal(c.nextDue) {
				t.Errorf("overdue=%v next=%v, want %v %v", s.Overdue, s.NextDue, c.overdue, c.nextDue)
			}
			if got := rotation.Due(c.p, c.st, t0); got != c.due {
				t.Errorf("Due = %v, want %v", got, c.due)
			}
		})
	}
}

// TestRotateAuditRequiredIsNotAConflict: with audit required, a write whose
// record cannot be written is the Store's refusal (ErrAuditRequired), not a
// lost check-and-set race: Rotate must not report "another writer changed
// the key".
func TestRotateAuditRequiredIsNotAConflict(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	if _, err := b.OpenStore(nil).Put(ctx, "K", keyward.NewSecretString("rotate-audit-canary-old"), nil); err != nil {
		t.Fatal(err)
	}
	s := b.OpenStore(&keyward.StoreOptions{AuditRequired: true, Audit: func(_ context.Context, e *keyward.Event) error {
		if strings.HasPrefix(e.Action, "put") || strings.HasPrefix(e.Action, "rotate") {
			return errors.New("audit sink down")
		}
		return nil
	}})
	_, err := rotation.Rotate(ctx, s, "K", &rotation.Options{NewValue: rotation.Generator("urlsafe"), Grace: time.Hour})
	if err == nil {
		t.Fatal("Rotate succeeded without its audit record")
	}
	if errors.Is(err, rotation.ErrConflict) || !errors.Is(err, keyward.ErrAuditRequired) {
		t.Fatalf("Rotate with the audit sink down: %v; want the audit refusal, not a conflict", err)
	}
}
