package rotate

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/schema"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		check   func(o *Options) bool
		wantErr string
	}{
		{args: "JWT", check: func(o *Options) bool { return o.Key == "JWT" && o.Grace == 0 }},
		{args: "JWT --grace 48h --revoke-previous --dry-run --json", check: func(o *Options) bool {
			return o.Grace == 48*time.Hour && o.Revoke && o.DryRun && o.JSON
		}},
		{args: "JWT --grace 7d", check: func(o *Options) bool { return o.Grace == 7*24*time.Hour }},
		{args: "JWT --generate hex:32", check: func(o *Options) bool { return o.Generate == "hex:32" }},
		{args: "JWT --stdin --exec true", check: func(o *Options) bool { return o.Stdin && o.Exec == "true" }},
		{args: "--due", check: func(o *Options) bool { return o.Due && o.Key == "" }},
		{args: "--retire", check: func(o *Options) bool { return o.Retire }},
		{args: "JWT --resume", check: func(o *Options) bool { return o.Resume }},
		{args: "", wantErr: "needs a KEY"},
		{args: "JWT --due", wantErr: "takes no KEY"},
		{args: "--due --retire", wantErr: "cannot be combined"},
		{args: "JWT --resume --abort", wantErr: "cannot be combined"},
		{args: "JWT --generate hex --stdin", wantErr: "cannot be used together"},
		{args: "JWT --generate nope", wantErr: "--generate"},
		{args: "JWT --grace soon", wantErr: "--grace"},
		{args: "JWT --resume --revoke-previous", wantErr: "new rotation"},
		{args: "--due --stdin", wantErr: "only apply"},
		{args: "A B", wantErr: "accepts at most 1 arg"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IO: ios}
			var got *Options
			cmd := NewCmd(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tc.args))
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Fatalf("options %+v", *got)
			}
		})
	}
}

const yamlDoc = `version: 1
secrets:
  JWT_SECRET_KEY:
    generate: urlsafe
    rotation: {every: 90d, grace: 24h, method: automated}
  SESSION_KEY:
    generate: hex:32
    rotation: {every: 30d, method: automated}
  SMTP_PASSWORD:
    rotation: {every: 180d, method: provider, via: Email provider}
`

func newFixture(t *testing.T) (*Options, *keyward.Store, *rotation.FakeClock, func() (string, string)) {
	t.Helper()
	cfg, err := schema.Parse([]byte(yamlDoc), "keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clock := rotation.NewFakeClock(time.Now().UTC())
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{TTL: -1, Clock: clock.Now, URL: "mem://t"})
	t.Cleanup(func() { s.Close() })
	ios, _, out, errOut := iostreams.Test()
	o := &Options{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil },
		Project: func() (*schema.Config, error) { return cfg, nil }, Now: clock.Now}
	return o, s, clock, func() (string, string) { return out.String(), errOut.String() }
}

const canary = "rotate-cli-canary-value-0000000000000"

func TestRunRotatesWithRecipeAndGrace(t *testing.T) {
	ctx := context.Background()
	o, s, clock, outs := newFixture(t)
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	o.Key, o.JSON = "JWT_SECRET_KEY", true
	var execEnv []string
	o.Exec = "deploy"
	o.Environ = func() []string { return []string{"PATH=/bin"} }
	o.RunExec = func(_ context.Context, cmd string, env []string, _ *iostreams.IOStreams) error {
		execEnv = env
		return nil
	}
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := outs()
	var out Output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("--json output is not JSON (%d bytes)", len(stdout))
	}
	if len(out.Rotated) != 1 || out.Rotated[0].NewVersion != "2" || !out.Rotated[0].PreviousExpires.Equal(clock.Now().Add(24*time.Hour)) {
		t.Fatalf("output: %+v", out.Rotated)
	}
	if strings.Join(execEnv, " ") != "PATH=/bin KEYWARD_ROTATED_KEY=JWT_SECRET_KEY KEYWARD_NEW_VERSION=2" {
		t.Fatalf("--exec environment: %v", execEnv)
	}
	r, err := s.KeyRing(ctx, "JWT_SECRET_KEY")
	if err != nil || len(r.Previous) != 1 {
		t.Fatalf("ring: %v", err)
	}
	newVal := r.Current.Secret.RevealString()
	for _, v := range []string{canary, newVal} {
		if strings.Contains(stdout+stderr, v) {
			t.Fatal("rotate printed a value")
		}
	}
}

func TestRunExecFailureKeepsRotation(t *testing.T) {
	ctx := context.Background()
	o, s, _, _ := newFixture(t)
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	o.Key, o.Exec = "JWT_SECRET_KEY", "false"
	o.RunExec = func(context.Context, string, []string, *iostreams.IOStreams) error {
		return errors.New("exit status 1")
	}
	err := run(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "--exec") {
		t.Fatalf("err = %v", err)
	}
	if v, _ := s.Get(ctx, "JWT_SECRET_KEY"); v.RevealString() == canary {
		t.Fatal("the rotation was undone by the failing --exec")
	}
}

func TestRunStdinAndDryRun(t *testing.T) {
	ctx := context.Background()
	o, s, _, outs := newFixture(t)
	if _, err := s.Put(ctx, "SMTP_PASSWORD", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	o.Key, o.DryRun, o.Generate = "SMTP_PASSWORD", true, "alnum:32"
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	stdout, _ := outs()
	if !strings.Contains(stdout, "Would rotate SMTP_PASSWORD") || !strings.Contains(stdout, "planned → promoted") {
		t.Fatalf("dry run output: %q", stdout)
	}
	if vs, _ := s.History(ctx, "SMTP_PASSWORD"); len(vs) != 1 {
		t.Fatalf("dry run wrote %d versions", len(vs))
	}
	o.DryRun, o.Generate, o.Stdin = false, "", true
	o.IO.In = strings.NewReader("new-smtp-password-from-stdin\n")
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(ctx, "SMTP_PASSWORD"); v.RevealString() != "new-smtp-password-from-stdin" {
		t.Fatal("stdin value not stored (or newline not trimmed)")
	}
}

func TestRunDue(t *testing.T) {
	ctx := context.Background()
	o, s, clock, outs := newFixture(t)
	for _, k := range []string{"JWT_SECRET_KEY", "SESSION_KEY", "SMTP_PASSWORD"} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString(canary), nil); err != nil {
			t.Fatal(err)
		}
	}
	o.Due, o.JSON = true, true
	clock.Advance(31 * 24 * time.Hour) // SESSION_KEY (30d) is due, JWT (90d) is not
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	stdout, _ := outs()
	var out Output
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Rotated) != 1 || out.Rotated[0].Key != "SESSION_KEY" {
		t.Fatalf("rotated: %+v", out.Rotated)
	}
	reasons := map[string]string{}
	for _, sk := range out.Skipped {
		reasons[sk.Key] = sk.Reason
	}
	if !strings.HasPrefix(reasons["JWT_SECRET_KEY"], "not due until") || !strings.Contains(reasons["SMTP_PASSWORD"], "not automated") {
		t.Fatalf("skipped: %v", reasons)
	}
	// A day later SESSION_KEY's old value expires; --due retires nothing in
	// mem (expiry is by time), and rotates nothing new.
	clock.Advance(25 * time.Hour)
	o2, _, _, _ := newFixture(t)
	o2.OpenStore, o2.Now, o2.Due = o.OpenStore, clock.Now, true
	if err := run(ctx, o2); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.KeyRing(ctx, "SESSION_KEY"); len(r.Previous) != 0 {
		t.Fatalf("SESSION_KEY's previous value outlived its grace")
	}
}

func TestRunNoRecipeAndConflictHints(t *testing.T) {
	ctx := context.Background()
	o, s, _, _ := newFixture(t)
	if _, err := s.Put(ctx, "OTHER", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	o.Key = "OTHER"
	err := run(ctx, o)
	var he *cmdutil.HintError
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !errors.As(err, &he) {
		t.Fatalf("no recipe: exit %d, %v", cmdutil.ExitCode(err), err)
	}
	o.Key, o.Generate = "MISSING", "urlsafe"
	if err := run(ctx, o); cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing key: exit %d, %v", cmdutil.ExitCode(err), err)
	}
}
