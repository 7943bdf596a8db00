package status

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"

	// examples/dharmamind names dotenv:// and awssm:// stores.
	_ "github.com/keyward/keyward/provider/all"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/schema"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args string
		keys []string
		all  bool
		json bool
	}{
		{args: "", keys: nil},
		{args: "JWT_SECRET_KEY SMTP_PASSWORD --json", keys: []string{"JWT_SECRET_KEY", "SMTP_PASSWORD"}, json: true},
		{args: "--all", all: true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tc.args))
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Keys, ",") != strings.Join(tc.keys, ",") || got.All != tc.all || got.JSON != tc.json {
				t.Fatalf("options %+v", *got)
			}
		})
	}
}

// dharmamind loads the real examples/dharmamind/keyward.yaml.
func dharmamind(t *testing.T) *schema.Config {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cfg, err := schema.Load(filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "dharmamind", "keyward.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const canary = "status-test-canary-value"

func setup(t *testing.T, clock *rotation.FakeClock, keys ...string) (*Options, func() (string, string)) {
	t.Helper()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{TTL: -1, Clock: clock.Now, URL: "mem://dharmamind"})
	t.Cleanup(func() { s.Close() })
	for _, k := range keys {
		if _, err := s.Put(context.Background(), k, keyward.NewSecretString(canary+"-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg := dharmamind(t)
	ios, _, out, errOut := iostreams.Test()
	o := &Options{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil },
		Project: func() (*schema.Config, error) { return cfg, nil }, EnvName: func() string { return "production" }, Now: clock.Now}
	return o, func() (string, string) { return out.String(), errOut.String() }
}

var all = []string{"JWT_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "GOOGLE_CLIENT_SECRET", "SMTP_PASSWORD"}

// TestGuideSchedule: the guide's rotation schedule, from the example's
// keyward.yaml: JWT every 90 days automated, SMTP every 180 days at the
// email provider, DATABASE_URL and STRIPE_SECRET_KEY on breach.
func TestGuideSchedule(t *testing.T) {
	// Values are written with the real clock (mem stamps versions with
	// time.Now); status looks at them from a clock we move.
	clock := rotation.NewFakeClock(time.Now().UTC())
	o, outs := setup(t, clock, all...)
	clock.Set(time.Now().UTC().Add(time.Second)) // just after the writes
	o.JSON = true
	if err := run(context.Background(), o); err != nil {
		t.Fatalf("fresh secrets: %v", err)
	}
	stdout, _ := outs()
	var out Output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]rotation.Status{}
	var order []string
	for _, s := range out.Secrets {
		got[s.Key] = s
		order = append(order, s.Key)
	}
	if strings.Join(order, ",") != "JWT_SECRET_KEY,DATABASE_URL,STRIPE_SECRET_KEY,SMTP_PASSWORD" {
		t.Fatalf("secrets with a policy: %v", order)
	}
	day := 24 * time.Hour
	want := map[string]string{
		"JWT_SECRET_KEY":    "every 90d, automated",
		"DATABASE_URL":      "on breach, manual",
		"STRIPE_SECRET_KEY": "on breach, provider (Stripe Dashboard)",
		"SMTP_PASSWORD":     "every 180d, provider (Email provider)",
	}
	for k, w := range want {
		if p := PolicyText(got[k].Policy); p != w {
			t.Errorf("%s policy = %q, want %q", k, p, w)
		}
	}
	if got["JWT_SECRET_KEY"].Policy.Grace != day || got["JWT_SECRET_KEY"].Policy.Every != 90*day {
		t.Errorf("JWT policy: %+v", got["JWT_SECRET_KEY"].Policy)
	}
	if out.Overdue {
		t.Fatal("fresh secrets reported overdue")
	}
	if strings.Contains(stdout, canary) {
		t.Fatal("status printed a value")
	}

	// 100 days later JWT is overdue (exit 8), SMTP is not yet.
	clock.Advance(100 * day)
	o2, outs2 := setup(t, clock)
	o2.OpenStore = o.OpenStore
	err := run(context.Background(), o2)
	var se *cmdutil.SilentError
	if !errors.As(err, &se) || se.Code != ExitOverdue || cmdutil.ExitCode(err) != 8 {
		t.Fatalf("overdue: %v, want exit 8", err)
	}
	stdout, stderr := outs2()
	if !strings.Contains(stdout, "JWT_SECRET_KEY\toverdue\tage=100d\t") || !strings.Contains(stdout, "SMTP_PASSWORD\tok\tage=100d\t") {
		t.Fatalf("table after 100 days:\n%s", stdout)
	}
	if !strings.Contains(stderr, "overdue") {
		t.Fatalf("stderr: %q", stderr)
	}
	// After a rotation JWT is fine again, and its previous value shows with its expiry.
	s, _ := o.OpenStore(context.Background())
	if _, err := rotation.Rotate(context.Background(), s, "JWT_SECRET_KEY", &rotation.Options{Grace: day, NewValue: rotation.Generator("urlsafe"), Clock: clock.Now}); err != nil {
		t.Fatal(err)
	}
	o3, outs3 := setup(t, clock)
	o3.OpenStore = o.OpenStore
	o3.IO.SetTTY(false, true, false)
	if err := run(context.Background(), o3); err != nil {
		t.Fatalf("after rotating JWT: %v", err)
	}
	stdout, _ = outs3()
	if !strings.Contains(stdout, "ok, due in 90d") || !strings.Contains(stdout, "1 until "+clock.Now().Add(day).Format(time.RFC3339)) {
		t.Fatalf("table:\n%s", stdout)
	}
}

func TestMissingKeyIsNotOverdue(t *testing.T) {
	clock := rotation.NewFakeClock(time.Now())
	o, outs := setup(t, clock) // empty store
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	stdout, _ := outs()
	if strings.Count(stdout, "\tmissing\t") != 4 {
		t.Fatalf("output:\n%s", stdout)
	}
}
