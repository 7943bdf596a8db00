package policy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	_ "github.com/keyward/keyward/provider/all"
	"github.com/keyward/keyward/schema"
)

const canary = "policy-verb-canary-value-91c3"

func TestNewCmd(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *Options
	cmd := NewCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(strings.Fields("--access write --keys A,B --keys C --format json --rollout deployment/api --account 1 --principal p --check --json"))
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Access != "write" || strings.Join(got.Keys, ",") != "A,B,C" || got.Format != "json" || got.Rollout[0] != "deployment/api" ||
		got.Account != "1" || got.Principal != "p" || !got.Check || !got.JSON {
		t.Fatalf("options %+v", *got)
	}
	cmd = NewCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || got.Access != "read" || got.Format != "native" {
		t.Fatalf("defaults: %+v, %v", got, err)
	}
}

func project(t *testing.T, yaml string) *schema.Config {
	t.Helper()
	cfg, err := schema.Parse([]byte(yaml), "keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// denyDriver refuses every read, as a backend does without a grant.
type denyDriver struct{}

func (denyDriver) Get(context.Context, string, string) (*driver.Value, error) {
	return nil, errors.New("403 permission denied")
}
func (denyDriver) List(context.Context) ([]driver.KeyInfo, error) {
	return nil, errors.New("403 permission denied")
}
func (denyDriver) ErrorCode(error) driver.Code { return driver.PermissionDenied }
func (denyDriver) Close() error                { return nil }

type harness struct {
	opts   *Options
	mu     sync.Mutex
	events []keyward.Event
}

func newHarness(t *testing.T, cfg *schema.Config, url, env string, deny map[string]bool) *harness {
	ios, _, stdout, _ := iostreams.Test()
	h := &harness{}
	h.opts = &Options{
		IO:      ios,
		Getenv:  func(string) string { return "" },
		Resolve: func() (string, string, string, error) { return url, env, "--env", nil },
		Project: func() (*schema.Config, error) { return cfg, nil },
		EnvURL:  func(name string) (string, error) { return cfg.StoreURL(name) },
		OpenURL: func(ctx context.Context, raw, env string) (*keyward.Store, error) {
			o := &keyward.StoreOptions{Environment: env, URL: raw, Audit: func(_ context.Context, e *keyward.Event) error {
				h.mu.Lock()
				defer h.mu.Unlock()
				h.events = append(h.events, *e)
				return nil
			}}
			if deny[raw] {
				return keyward.NewStore(denyDriver{}, o), nil
			}
			return keyward.DefaultURLMux().OpenStore(ctx, raw, o)
		},
		Access: "read", Format: "native",
	}
	t.Cleanup(func() {
		if strings.Contains(stdout.String(), canary) {
			t.Error("the output holds a secret value")
		}
	})
	h.opts.IO.Out = stdout
	return h
}

func seed(t *testing.T, url string) {
	t.Helper()
	s, err := keyward.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(context.Background(), "JWT_SECRET_KEY", keyward.NewSecret([]byte(canary)), nil); err != nil {
		t.Fatal(err)
	}
}

const twoEnvs = `version: 1
environments:
  production:
    store: mem://policy-test-prod
  staging:
    store: mem://policy-test-staging
secrets:
  JWT_SECRET_KEY:
    description: signs sessions
`

// TestCheckReachable: the same credentials read both environments, so
// --check exits 1 with the staging row marked; each attempt went through
// the store's audit hook; no value is printed.
func TestCheckReachable(t *testing.T) {
	seed(t, "mem://policy-test-prod")
	seed(t, "mem://policy-test-staging")
	h := newHarness(t, project(t, twoEnvs), "mem://policy-test-prod", "production", nil)
	h.opts.Check = true
	err := run(context.Background(), h.opts)
	var se *cmdutil.SilentError
	if !errors.As(err, &se) || se.Code != cmdutil.ExitError {
		t.Fatalf("err = %v, want exit 1", err)
	}
	out := h.opts.IO.Out.(interface{ String() string }).String()
	for _, want := range []string{"staging      mem://policy-test-staging  JWT_SECRET_KEY  refused   allowed  <- reachable but should not be",
		"isolation FAILED: reachable but should not be: staging"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	envs := map[string]bool{}
	for _, e := range h.events {
		if e.Action == "get" && e.Key == "JWT_SECRET_KEY" {
			envs[e.Environment] = true
		}
	}
	if !envs["production"] || !envs["staging"] {
		t.Fatalf("audited reads: %v", envs)
	}
}

// TestCheckIsolated: staging refuses, production reads: exit 0; --json
// says so.
func TestCheckIsolated(t *testing.T) {
	seed(t, "mem://policy-test-prod")
	h := newHarness(t, project(t, twoEnvs), "mem://policy-test-prod", "production", map[string]bool{"mem://policy-test-staging": true})
	h.opts.Check, h.opts.JSON = true, true
	if err := run(context.Background(), h.opts); err != nil {
		t.Fatal(err)
	}
	var out CheckOutput
	if err := json.Unmarshal([]byte(h.opts.IO.Out.(interface{ String() string }).String()), &out); err != nil {
		t.Fatal(err)
	}
	if !out.Isolated || len(out.Reachable) != 0 || len(out.Probes) != 2 || out.Probes[1].Got != "refused" || !out.Probes[1].OK {
		t.Fatalf("%+v", out)
	}
}

// TestCheckSelfRefused: the selected environment itself refused is a
// failure too (keyward cannot do what it needs).
func TestCheckSelfRefused(t *testing.T) {
	h := newHarness(t, project(t, twoEnvs), "mem://policy-test-prod", "production",
		map[string]bool{"mem://policy-test-prod": true, "mem://policy-test-staging": true})
	h.opts.Check = true
	err := run(context.Background(), h.opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitError {
		t.Fatalf("err = %v, want exit 1", err)
	}
	if out := h.opts.IO.Out.(interface{ String() string }).String(); !strings.Contains(out, "keyward cannot do what it needs") ||
		!strings.Contains(out, "the selected environment is not readable") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestPrintFormats(t *testing.T) {
	for _, c := range []struct {
		url, format string
		json        bool
		want        string
		code        int
	}{
		{"vault:///dharmamind/production", "native", false, `path "dharmamind/data/production" {`, 0},
		{"vault:///dharmamind/production", "json", false, `"dharmamind/data/production": {`, 0},
		{"vault:///dharmamind/production", "native", true, `"language": "hcl"`, 0},
		{"vault:///dharmamind/production", "terraform", false, "", cmdutil.ExitUsage},
		{"awssm://dharmamind/production", "terraform", false, `data "aws_iam_policy_document" "keyward_production_read" {`, 0},
		{"mem://x", "native", false, "the process itself", 0},
		{"mem://x", "json", false, "", cmdutil.ExitUnimplemented},
		{"vault:///dharmamind/production", "yaml", false, "", cmdutil.ExitUsage},
		{"nosuch://x", "native", false, "", cmdutil.ExitUsage},
	} {
		t.Run(c.url+"/"+c.format, func(t *testing.T) {
			h := newHarness(t, project(t, twoEnvs), c.url, "production", nil)
			h.opts.Format, h.opts.JSON = c.format, c.json
			err := run(context.Background(), h.opts)
			if got := cmdutil.ExitCode(err); got != c.code {
				t.Fatalf("exit %d (%v), want %d", got, err, c.code)
			}
			if out := h.opts.IO.Out.(interface{ String() string }).String(); !strings.Contains(out, c.want) {
				t.Fatalf("output lacks %q:\n%s", c.want, out)
			}
		})
	}
}

// TestCheckListsWithoutKeys: --all and no declared secrets: each store is
// listed instead of read.
func TestCheckListsWithoutKeys(t *testing.T) {
	seed(t, "mem://policy-test-prod")
	cfg := project(t, "version: 1\nenvironments:\n  production:\n    store: mem://policy-test-prod\n  staging:\n    store: mem://policy-test-staging\n")
	h := newHarness(t, cfg, "mem://policy-test-prod", "production", map[string]bool{"mem://policy-test-staging": true})
	h.opts.Check, h.opts.All, h.opts.JSON = true, true, true
	if err := run(context.Background(), h.opts); err != nil {
		t.Fatal(err)
	}
	var out CheckOutput
	if err := json.Unmarshal([]byte(h.opts.IO.Out.(interface{ String() string }).String()), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Probes) != 2 || out.Probes[0].Key != "" || out.Probes[0].Got != "allowed" || out.Probes[1].Got != "refused" {
		t.Fatalf("%+v", out.Probes)
	}
	listed := false
	for _, e := range h.events {
		listed = listed || e.Action == "list" && e.Environment == "production"
	}
	if !listed {
		t.Fatal("the store was not listed through the audited store")
	}
}
