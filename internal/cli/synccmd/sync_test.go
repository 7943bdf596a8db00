//go:build !keyward_omit_k8s

package synccmd

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/k8ssync"
	"github.com/keyward/keyward/provider/k8s"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
)

const (
	oldV = "synccmd-canary-old-0123456789abcdef"
	newV = "synccmd-canary-new-0123456789abcdef"
)

type fixture struct {
	b     *mem.Backend
	s     *keyward.Store
	cs    *fake.Clientset
	clock *rotation.FakeClock
	opts  *Options
	err   *syncBuf

	mu     sync.Mutex
	audits []string
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuf) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *syncBuf) String() string              { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func newFixture(t *testing.T) *fixture {
	fx := &fixture{clock: rotation.NewFakeClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), err: &syncBuf{}}
	fx.b = mem.NewBackend()
	fx.s = fx.b.OpenStore(&keyward.StoreOptions{TTL: -1, Clock: fx.clock.Now, Retries: -1,
		Audit: func(_ context.Context, e *keyward.Event) error {
			if e.Action == "sync.kubernetes" {
				fx.mu.Lock()
				fx.audits = append(fx.audits, e.Detail)
				fx.mu.Unlock()
			}
			return nil
		}})
	if _, err := fx.s.Put(context.Background(), "JWT_SECRET_KEY", keyward.NewSecretString(oldV), nil); err != nil {
		t.Fatal(err)
	}
	fx.cs = fake.NewClientset(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "backend", Namespace: "prod"}})
	ios, _, _, _ := iostreams.Test()
	ios.ErrOut = fx.err
	fx.opts = &Options{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return fx.s, nil },
		Secret: "dharmamind-secrets", Namespace: "prod", Rollouts: []k8s.Workload{{Kind: "deployment", Name: "backend"}},
		Interval: time.Second,
		// provider/k8s in-process against the fake clientset: the same
		// code keyward-provider-k8s runs for the "kubernetes.sync" action.
		Sync: func(ctx context.Context, req *k8ssync.Request, _ [][]byte) (*k8ssync.Result, error) {
			return k8s.SyncRequest(ctx, req, fx.cs.CoreV1(), fx.cs.AppsV1())
		}}
	return fx
}

func (fx *fixture) rotate(t *testing.T, revoke bool) {
	t.Helper()
	if _, err := rotation.Rotate(context.Background(), fx.s, "JWT_SECRET_KEY", &rotation.Options{Grace: 24 * time.Hour,
		NewValue: func(context.Context) (keyward.Secret, error) { return keyward.NewSecretString(newV), nil },
		Clock:    fx.clock.Now, RevokePrevious: revoke}); err != nil {
		t.Fatal(err)
	}
}

func (fx *fixture) state(t *testing.T) (data map[string][]byte, annotation string) {
	t.Helper()
	ctx := context.Background()
	sec, err := fx.cs.CoreV1().Secrets("prod").Get(ctx, "dharmamind-secrets", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := fx.cs.AppsV1().Deployments("prod").Get(ctx, "backend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sec.Data, d.Spec.Template.Annotations[k8s.RolloutAnnotation("dharmamind-secrets")]
}

// The rotation end to end: after rotate --grace the Secret holds
// JWT_SECRET_KEY_OLD and the Deployment rolls; syncing again changes
// nothing; after the grace ends KEY_OLD leaves the Secret and the pods roll
// again.
func TestSyncKubernetes(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	if err := run(ctx, fx.opts); err != nil {
		t.Fatal(err)
	}
	data, ann := fx.state(t)
	if len(data) != 1 || ann != "1" {
		t.Fatalf("first sync: %d keys, annotation %q", len(data), ann)
	}
	fx.rotate(t, false)
	if err := run(ctx, fx.opts); err != nil {
		t.Fatal(err)
	}
	data, ann = fx.state(t)
	if string(data["JWT_SECRET_KEY"]) != newV || string(data["JWT_SECRET_KEY_OLD"]) != oldV || len(data) != 2 || ann != "2" {
		t.Fatalf("after rotation: %d keys, annotation %q (JWT_SECRET_KEY_OLD present: %v)", len(data), ann, data["JWT_SECRET_KEY_OLD"] != nil)
	}
	if err := run(ctx, fx.opts); err != nil {
		t.Fatal(err)
	}
	if _, ann = fx.state(t); ann != "2" {
		t.Fatalf("an unchanged sync moved the annotation to %q", ann)
	}
	if !strings.Contains(fx.err.String(), "unchanged (generation 2)") {
		t.Errorf("stderr: %q", fx.err)
	}
	fx.clock.Advance(24*time.Hour + time.Second)
	if err := run(ctx, fx.opts); err != nil {
		t.Fatal(err)
	}
	data, ann = fx.state(t)
	if _, ok := data["JWT_SECRET_KEY_OLD"]; ok || ann != "3" {
		t.Fatalf("after the grace: JWT_SECRET_KEY_OLD present %v, annotation %q", ok, ann)
	}
	if len(fx.audits) != 3 || !strings.Contains(fx.audits[2], "generation 3; rolled out deployment/backend") {
		t.Fatalf("audit details %q", fx.audits)
	}
	for _, s := range append(fx.audits, fx.err.String()) {
		if strings.Contains(s, oldV) || strings.Contains(s, newV) {
			t.Fatal("a value reached stderr or the audit trail")
		}
	}
}

// --watch: a rotation (new value and KEY_OLD) is one write and one rollout;
// an outage keeps the Secret and says so.
func TestSyncWatch(t *testing.T) {
	fx := newFixture(t)
	ticks := map[string]chan time.Time{"interval": make(chan time.Time), "debounce": make(chan time.Time)}
	events := make(chan string, 100)
	fx.opts.Watch, fx.opts.Debounce = true, time.Second
	fx.opts.after = func(what string, _ time.Duration) <-chan time.Time { return ticks[what] }
	fx.opts.events = events
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, fx.opts) }()
	tick := func(what string) {
		select {
		case ticks[what] <- time.Now():
		case err := <-done:
			t.Fatalf("watch ended: %v", err)
		}
	}
	expect := func(want string) {
		t.Helper()
		for {
			select {
			case e := <-events:
				if strings.HasPrefix(e, want) {
					return
				}
			case err := <-done:
				t.Fatalf("watch ended waiting for %s: %v", want, err)
			case <-time.After(2 * time.Minute):
				t.Fatalf("stuck waiting for %s", want)
			}
		}
	}
	tick("interval")
	expect("unchanged")
	fx.rotate(t, false)
	tick("interval")
	expect("changed")
	tick("debounce")
	expect("synced 2")
	data, ann := fx.state(t)
	if len(data) != 2 || ann != "2" {
		t.Fatalf("after the rotation: %d keys, annotation %q", len(data), ann)
	}
	tick("interval")
	expect("unchanged")
	// Outage.
	fx.b.SetFailure(func(string) error { return keyward.ErrUnavailable })
	tick("interval")
	expect("stale")
	tick("interval")
	expect("stale")
	if c := strings.Count(fx.err.String(), "cannot read the store"); c != 1 {
		t.Fatalf("outage reported %d times: %q", c, fx.err)
	}
	fx.b.SetFailure(nil)
	tick("interval")
	expect("recovered")
	if _, ann = fx.state(t); ann != "2" {
		t.Fatalf("annotation %q after an outage, want 2", ann)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSyncFlags(t *testing.T) {
	for _, tc := range []struct{ args, wantErr string }{
		{"kubernetes --secret s --rollout deployment/api --rollout sts/db", ""},
		{"kubernetes", "--secret NAME is required"},
		{"kubernetes --secret s --rollout pod/x", "--rollout"},
		{"kubernetes --secret s --interval 5s", "only applies with --watch"},
		{"kubernetes --secret s --watch --interval 0s", "--interval must be positive"},
		{"kubernetes --secret s --label novalue", "want KEY=VALUE"},
	} {
		var got *Options
		ios, _, _, _ := iostreams.Test()
		cmd := NewCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(tc.args))
		cmd.SetOut(new(strings.Builder))
		cmd.SetErr(new(strings.Builder))
		err := cmd.Execute()
		if tc.wantErr == "" {
			if err != nil || got == nil || len(got.Rollouts) != 2 || got.Rollouts[1].Kind != "statefulset" || got.Interval != DefaultInterval {
				t.Errorf("%s: err %v, opts %+v", tc.args, err, got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}
