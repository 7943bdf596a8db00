package rotation_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
)

// nativeFake is one key "K" in a provider with native rotation (what AWS
// per-key staging labels do) that can also disable versions. With block
// set, every rotation call waits for its context to end.
type nativeFake struct {
	mu       sync.Mutex
	data     map[string][]byte // version → value
	current  string
	pending  string
	expires  time.Time // the grace Stage asked for the current value
	previous []driver.RingEntry
	n        int

	block       bool
	calls       int  // rotation calls that reached the driver
	sawDeadline bool // a blocked call's context had a deadline
}

var (
	errFakeMissing  = errors.New("no such version")
	errFakeConflict = errors.New("conflict")
)

func newNativeFake(v string) *nativeFake {
	return &nativeFake{data: map[string][]byte{"v1": []byte(v)}, current: "v1", n: 1}
}

func (f *nativeFake) Get(_ context.Context, key, version string) (*driver.Value, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if version == "" {
		version = f.current
	}
	b, ok := f.data[version]
	if key != "K" || !ok {
		return nil, errFakeMissing
	}
	return &driver.Value{Data: slices.Clone(b), Version: driver.Version{ID: version}}, nil
}

func (f *nativeFake) ErrorCode(err error) driver.Code {
	switch {
	case errors.Is(err, errFakeMissing):
		return driver.NotFound
	case errors.Is(err, errFakeConflict):
		return driver.FailedPrecondition
	}
	return driver.Unknown
}

func (f *nativeFake) Close() error { return nil }

func (f *nativeFake) RotationLayout(string) driver.RotationLayout { return driver.LayoutNative }

func (f *nativeFake) entry(id string) *driver.RingEntry {
	return &driver.RingEntry{ID: id, Data: slices.Clone(f.data[id]), Version: driver.Version{ID: id}}
}

func (f *nativeFake) RotationState(_ context.Context, key string) (*driver.RotationState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := &driver.RotationState{Current: f.entry(f.current)}
	if f.pending != "" {
		st.Pending = f.entry(f.pending)
	}
	for _, p := range f.previous {
		e := f.entry(p.ID)
		e.Expires = p.Expires
		st.Previous = append(st.Previous, *e)
	}
	return st, nil
}

// enter counts a rotation call and, when blocking, waits for ctx to end.
func (f *nativeFake) enter(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	block := f.block
	f.mu.Unlock()
	if !block {
		return nil
	}
	_, ok := ctx.Deadline()
	<-ctx.Done()
	f.mu.Lock()
	f.sawDeadline = ok
	f.mu.Unlock()
	return ctx.Err()
}

func (f *nativeFake) Stage(ctx context.Context, key string, data []byte, r *driver.StageRequest) (driver.Version, error) {
	if err := f.enter(ctx); err != nil {
		return driver.Version{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending != "" || r.IfCurrent != f.current {
		return driver.Version{}, errFakeConflict
	}
	f.n++
	id := "v" + strconv.Itoa(f.n)
	f.data[id], f.pending, f.expires = slices.Clone(data), id, r.PreviousExpires
	return driver.Version{ID: id}, nil
}

func (f *nativeFake) Promote(ctx context.Context, key, pending string) (driver.Version, error) {
	if err := f.enter(ctx); err != nil {
		return driver.Version{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if pending != f.pending {
		return driver.Version{}, errFakeConflict
	}
	f.previous = append([]driver.RingEntry{{ID: f.current, Expires: f.expires}}, f.previous...)
	f.current, f.pending = pending, ""
	return driver.Version{ID: pending}, nil
}

func (f *nativeFake) Discard(ctx context.Context, key, pending string) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = ""
	return nil
}

func (f *nativeFake) Retire(ctx context.Context, key, version string) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.previous = slices.DeleteFunc(f.previous, func(e driver.RingEntry) bool { return e.ID == version })
	return nil
}

func (f *nativeFake) DisableVersion(ctx context.Context, key, version string) error {
	return f.Retire(ctx, key, version)
}

func (f *nativeFake) rotationCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

const (
	nativeOld = "bridge-canary-old-0000000000000000"
	nativeNew = "bridge-canary-new-1111111111111111"
)

// auditLog collects a store's audit events.
type auditLog struct {
	mu     sync.Mutex
	events []keyward.Event
}

func (a *auditLog) hook(_ context.Context, e *keyward.Event) error {
	a.mu.Lock()
	a.events = append(a.events, *e)
	a.mu.Unlock()
	return nil
}

// rotations are the rotation events, as "action code version".
func (a *auditLog) rotations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.events {
		if strings.HasPrefix(e.Action, "rotate.") {
			out = append(out, e.Action+" "+e.Code.String()+" "+e.Version)
		}
	}
	return out
}

func nativeStore(t *testing.T, f *nativeFake, o keyward.StoreOptions) (*keyward.Store, *auditLog, *rotation.FakeClock) {
	t.Helper()
	a := &auditLog{}
	clock := rotation.NewFakeClock(t0)
	if o.TTL == 0 {
		o.TTL = -1
	}
	o.Audit, o.Clock, o.URL = a.hook, clock.Now, "native://test"
	s := keyward.NewStore(f, &o)
	t.Cleanup(func() { s.Close() })
	return s, a, clock
}

// TestNativeRotationIsAudited: every step of a native rotation, and the
// sweep that retires the previous value, leaves an audit record through the
// Store, like Put does; no record carries a value in clear.
func TestNativeRotationIsAudited(t *testing.T) {
	ctx := context.Background()
	f := newNativeFake(nativeOld)
	s, a, clock := nativeStore(t, f, keyward.StoreOptions{})
	res, err := rotation.Rotate(ctx, s, "K", &rotation.Options{Grace: time.Hour, NewValue: rotation.Fixed(keyward.NewSecretString(nativeNew)), Clock: clock.Now})
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if want := []string{"rotate.stage ok v2", "rotate.promote ok v2"}; !slices.Equal(a.rotations(), want) {
		t.Fatalf("audit after rotate = %q, want %q", a.rotations(), want)
	}
	clock.Advance(2 * time.Hour)
	ret, err := rotation.Retire(ctx, s, "K", clock.Now, false)
	if err != nil || len(ret) != 1 || ret[0].ID != res.From {
		t.Fatalf("Retire = %+v, %v; want %s retired", ret, err, res.From)
	}
	if want := []string{"rotate.stage ok v2", "rotate.promote ok v2", "rotate.retire ok v1"}; !slices.Equal(a.rotations(), want) {
		t.Fatalf("audit after retire = %q, want %q", a.rotations(), want)
	}
	for _, e := range a.events {
		for _, field := range []string{e.Action, e.Key, e.Version, e.Detail, e.Store, e.Value.String()} {
			if strings.Contains(field, "canary") {
				t.Fatalf("audit event %s carries a value in clear", e.Action)
			}
		}
	}
}

// TestNativeRevokeAndAbortAreAudited: revoking retires the old version, and
// aborting an interrupted rotation discards the pending one, each audited.
func TestNativeRevokeAndAbortAreAudited(t *testing.T) {
	ctx := context.Background()
	f := newNativeFake(nativeOld)
	s, a, clock := nativeStore(t, f, keyward.StoreOptions{})
	if _, err := rotation.Rotate(ctx, s, "K", &rotation.Options{RevokePrevious: true, NewValue: rotation.Fixed(keyward.NewSecretString(nativeNew)), Clock: clock.Now}); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if want := []string{"rotate.stage ok v2", "rotate.promote ok v2", "rotate.retire ok v1"}; !slices.Equal(a.rotations(), want) {
		t.Fatalf("audit after revoke = %q, want %q", a.rotations(), want)
	}
	if _, err := s.StageRotation(ctx, "K", keyward.NewSecretString(nativeOld), &driver.StageRequest{IfCurrent: "v2"}); err != nil {
		t.Fatalf("stage: %v", err)
	}
	if _, err := rotation.Rotate(ctx, s, "K", &rotation.Options{Abort: true, Clock: clock.Now}); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if got := a.rotations(); len(got) != 5 || got[4] != "rotate.discard ok v3" {
		t.Fatalf("audit after abort = %q, want a rotate.discard of v3 last", got)
	}
}

// TestNativeRotationOnClosedStore: a rotation step on a closed Store fails
// with the closed error and never reaches the provider.
func TestNativeRotationOnClosedStore(t *testing.T) {
	ctx := context.Background()
	f := newNativeFake(nativeOld)
	s, _, clock := nativeStore(t, f, keyward.StoreOptions{})
	_, err := rotation.Rotate(ctx, s, "K", &rotation.Options{NewValue: rotation.Fixed(keyward.NewSecretString(nativeNew)), Clock: clock.Now,
		Hook: func(st rotation.Step) {
			if st == rotation.StepPlanned {
				s.Close() // closed between reading the state and staging
			}
		}})
	if keyward.ErrorCode(err) != keyward.FailedPrecondition || !errors.Is(err, keyward.ErrClosed) || errors.Is(err, rotation.ErrConflict) {
		t.Fatalf("Rotate on a store closed mid-way: %v, want the closed error", err)
	}
	if n := f.rotationCalls(); n != 0 {
		t.Fatalf("%d rotation calls reached the provider after Close", n)
	}
}

// TestNativeRotationTimesOut: a provider that never answers is cut off by
// the Store's Timeout, with DeadlineExceeded, and the failure is audited.
func TestNativeRotationTimesOut(t *testing.T) {
	ctx := context.Background()
	f := newNativeFake(nativeOld)
	f.block = true
	s, a, clock := nativeStore(t, f, keyward.StoreOptions{Timeout: 20 * time.Millisecond})
	_, err := rotation.Rotate(ctx, s, "K", &rotation.Options{NewValue: rotation.Fixed(keyward.NewSecretString(nativeNew)), Clock: clock.Now})
	if keyward.ErrorCode(err) != keyward.DeadlineExceeded {
		t.Fatalf("Rotate against a hung provider: code %v (%v), want DeadlineExceeded", keyward.ErrorCode(err), err)
	}
	f.mu.Lock()
	saw := f.sawDeadline
	f.mu.Unlock()
	if !saw {
		t.Fatal("the stage call's context had no deadline: the Store's timeout was not applied")
	}
	if want := []string{"rotate.stage deadline exceeded "}; !slices.Equal(a.rotations(), want) {
		t.Fatalf("audit = %q, want %q", a.rotations(), want)
	}
}

// TestNativeRotationPurgesCache: a cached Get after a native rotation sees
// the new value, not the one cached before.
func TestNativeRotationPurgesCache(t *testing.T) {
	ctx := context.Background()
	f := newNativeFake(nativeOld)
	s, _, clock := nativeStore(t, f, keyward.StoreOptions{TTL: time.Hour})
	if v, err := s.Get(ctx, "K"); err != nil || v.RevealString() != nativeOld {
		t.Fatalf("first Get: %v", err)
	}
	if _, err := rotation.Rotate(ctx, s, "K", &rotation.Options{NewValue: rotation.Fixed(keyward.NewSecretString(nativeNew)), Clock: clock.Now}); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if v, err := s.Get(ctx, "K"); err != nil || v.RevealString() != nativeNew {
		t.Fatalf("cached Get after the rotation does not return the new value (err %v)", err)
	}
}

// TestRotationBridge holds every bridge method to what every Store write
// gets: Unimplemented without the ability, the closed error on a closed
// Store without reaching the provider, no call when a required audit
// intent cannot be written, the Store's timeout, and an audit record of
// the failure with its code.
func TestRotationBridge(t *testing.T) {
	ctx := context.Background()
	calls := []struct {
		name, action string
		call         func(s *keyward.Store) error
	}{
		{"StageRotation", "rotate.stage", func(s *keyward.Store) error {
			_, err := s.StageRotation(ctx, "K", keyward.NewSecretString(nativeNew), &driver.StageRequest{IfCurrent: "v1"})
			return err
		}},
		{"PromoteRotation", "rotate.promote", func(s *keyward.Store) error { _, err := s.PromoteRotation(ctx, "K", "v2"); return err }},
		{"DiscardRotation", "rotate.discard", func(s *keyward.Store) error { return s.DiscardRotation(ctx, "K", "v2") }},
		{"RetireRotation", "rotate.retire", func(s *keyward.Store) error { return s.RetireRotation(ctx, "K", "v1") }},
		{"DisableVersion", "rotate.disable", func(s *keyward.Store) error { return s.DisableVersion(ctx, "K", "v1") }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			plain := keyward.NewStore(mem.NewBackend().Driver(), &keyward.StoreOptions{TTL: -1})
			defer plain.Close()
			if err := c.call(plain); keyward.ErrorCode(err) != keyward.Unimplemented {
				t.Errorf("on a provider without the ability: %v, want Unimplemented", err)
			}

			f := newNativeFake(nativeOld)
			s, _, _ := nativeStore(t, f, keyward.StoreOptions{})
			s.Close()
			if err := c.call(s); keyward.ErrorCode(err) != keyward.FailedPrecondition || !errors.Is(err, keyward.ErrClosed) {
				t.Errorf("on a closed store: %v, want the closed error", err)
			}
			if n := f.rotationCalls(); n != 0 {
				t.Errorf("%d calls reached the provider of a closed store", n)
			}

			// Audit required and the sink down: refused before the provider
			// is called (fail closed), like Put.
			f = newNativeFake(nativeOld)
			down := keyward.NewStore(f, &keyward.StoreOptions{TTL: -1, AuditRequired: true,
				Audit: func(context.Context, *keyward.Event) error { return errors.New("audit sink down") }})
			defer down.Close()
			if err := c.call(down); keyward.ErrorCode(err) != keyward.FailedPrecondition {
				t.Errorf("with audit required and the sink down: %v, want FailedPrecondition", err)
			}
			if n := f.rotationCalls(); n != 0 {
				t.Errorf("%d calls reached the provider though the audit intent could not be written", n)
			}

			f = newNativeFake(nativeOld)
			f.block = true
			s, a, _ := nativeStore(t, f, keyward.StoreOptions{Timeout: 20 * time.Millisecond})
			if err := c.call(s); keyward.ErrorCode(err) != keyward.DeadlineExceeded {
				t.Errorf("against a hung provider: %v, want DeadlineExceeded", err)
			}
			if want := []string{c.action + " deadline exceeded "}; !slices.Equal(a.rotations(), want) {
				t.Errorf("audit = %q, want %q", a.rotations(), want)
			}
		})
	}
}

// TestRotationNeverUsesStoreDriver: package rotation (and its suites and
// helpers) reaches providers only through the Store, never through the
// Store.Driver escape hatch or a provider interface of its own, so every
// rotation step gets the Store's timeout, closed check, cache purge and
// audit record. It reads the non-test files under rotation/.
func TestRotationNeverUsesStoreDriver(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, _ := sel.X.(*ast.Ident)
			switch {
			case sel.Sel.Name == "Driver":
				t.Errorf("%s: calls .Driver(); rotation goes through the Store's methods", fset.Position(sel.Pos()))
			case x != nil && x.Name == "driver" && (sel.Sel.Name == "Rotator" || sel.Sel.Name == "VersionDisabler" || sel.Sel.Name == "Writer" || sel.Sel.Name == "Deleter"):
				t.Errorf("%s: uses driver.%s; rotation goes through the Store's methods", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 8 {
		t.Fatalf("checked only %d files; the walk is broken", checked)
	}
}
