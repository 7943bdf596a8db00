// Package delivertest is the cross-provider test of how a key ring reaches
// the consumer: rotate with a grace period, deliver KEY_OLD through run,
// every export format and template, then see it gone when the grace ends
// and after a rotation with --revoke-previous. Each provider's tests call
// Run with a store over its in-process server.
package delivertest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	cliexport "github.com/keyward/keyward/internal/cli/export"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/cli/run"
	"github.com/keyward/keyward/internal/cli/template"
	"github.com/keyward/keyward/rotation"
)

// NewStore opens a fresh, empty store whose clock is clock, cache off.
type NewStore func(t *testing.T, clock func() time.Time) *keyward.Store

// Canary values: a test failure names which variable was wrong, never its value.
const (
	Key    = "JWT_SECRET_KEY"
	Other  = "DATABASE_URL"
	old1   = "delivertest-canary-old-value-0000000001"
	new1   = "delivertest-canary-new-value-0000000002"
	new2   = "delivertest-canary-new-value-0000000003"
	new3   = "delivertest-canary-new-value-0000000004"
	otherV = "delivertest-canary-database-url-000005"
)

func fixed(v string) func(context.Context) (keyward.Secret, error) {
	return func(context.Context) (keyward.Secret, error) { return keyward.NewSecretString(v), nil }
}

// Run is the suite.
func Run(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	clock := rotation.NewFakeClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	s := newStore(t, clock.Now)
	for k, v := range map[string]string{Key: old1, Other: otherV} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	rotate := func(v string, revoke bool) {
		t.Helper()
		o := &rotation.Options{Grace: 24 * time.Hour, NewValue: fixed(v), Clock: clock.Now, RevokePrevious: revoke}
		if _, err := rotation.Rotate(ctx, s, Key, o); err != nil {
			t.Fatalf("rotate: %v", err)
		}
	}
	defaults := export.RingOptions{}

	// Before any rotation: no KEY_OLD.
	expectEnv(t, "before rotation", runEnv(t, s, defaults, nil), map[string]string{Key: old1, Other: otherV, Key + "_OLD": ""})

	rotate(new1, false)
	t.Run("grace", func(t *testing.T) {
		env := runEnv(t, s, defaults, nil)
		expectEnv(t, "run", env, map[string]string{Key: new1, Key + "_OLD": old1, Other: otherV,
			Key + "_ROTATION": "", Key + "_PENDING": ""})
		// --only names the key: its ring comes with it.
		expectEnv(t, "run --only", runEnv(t, s, defaults, []string{Key}), map[string]string{Key: new1, Key + "_OLD": old1, Other: ""})
		checkExports(t, s, defaults, map[string]string{Key: new1, Key + "_OLD": old1, Other: otherV})
		expectTemplate(t, s, defaults, `{{ secret "JWT_SECRET_KEY" }}|{{ secret "JWT_SECRET_KEY_OLD" }}|{{ range ring "JWT_SECRET_KEY" }}{{ . }},{{ end }}`,
			new1+"|"+old1+"|"+new1+","+old1+",")
	})
	t.Run("numbered", func(t *testing.T) {
		o := export.RingOptions{Numbered: true}
		expectEnv(t, "run --numbered-ring", runEnv(t, s, o, nil),
			map[string]string{Key: new1, Key + "_OLD": old1, Key + "_0": new1, Key + "_1": old1, Key + "_2": "", Other + "_0": otherV})
		checkExports(t, s, o, map[string]string{Key + "_0": new1, Key + "_1": old1})
		expectTemplate(t, s, o, `{{ secret "JWT_SECRET_KEY_1" }}|{{ secret "JWT_SECRET_KEY_2" }}`, old1+"|")
	})
	t.Run("suffix", func(t *testing.T) {
		suf := "_PREVIOUS"
		o := export.RingOptions{OldSuffix: &suf}
		// A bundle's stored KEY_OLD field is the ring's storage, not a
		// second variable.
		expectEnv(t, "run old_suffix=_PREVIOUS", runEnv(t, s, o, nil), map[string]string{Key + "_PREVIOUS": old1, Key + "_OLD": ""})
		none := ""
		expectEnv(t, "run old_suffix=\"\"", runEnv(t, s, export.RingOptions{OldSuffix: &none}, nil), map[string]string{Key: new1, Key + "_OLD": ""})
	})

	clock.Advance(24*time.Hour + time.Second)
	t.Run("grace ended", func(t *testing.T) {
		expectEnv(t, "run", runEnv(t, s, defaults, nil), map[string]string{Key: new1, Key + "_OLD": "", Other: otherV})
		checkExports(t, s, defaults, map[string]string{Key: new1, Key + "_OLD": ""})
		expectTemplate(t, s, defaults, `[{{ secret "JWT_SECRET_KEY_OLD" }}]`, "[]")
	})

	rotate(new2, false)
	expectEnv(t, "second rotation", runEnv(t, s, defaults, nil), map[string]string{Key: new2, Key + "_OLD": new1})
	clock.Advance(time.Minute)
	rotate(new3, true)
	t.Run("revoked", func(t *testing.T) {
		expectEnv(t, "run", runEnv(t, s, defaults, nil), map[string]string{Key: new3, Key + "_OLD": "", Other: otherV})
		checkExports(t, s, defaults, map[string]string{Key: new3, Key + "_OLD": ""})
		expectTemplate(t, s, defaults, `[{{ secret "JWT_SECRET_KEY_OLD" }}]`, "[]")
	})
}

// runEnv runs `env` through keyward run and returns the child's
// environment, each name with all its values (to catch duplicates).
func runEnv(t *testing.T, s *keyward.Store, ro export.RingOptions, only []string) map[string][]string {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	opts := &run.Options{IO: io, OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil },
		Environ: func() []string { return nil }, Command: []string{"env"}, Only: only, Ring: ro}
	if err := run.Run(context.Background(), opts); err != nil {
		t.Fatalf("run: %v (stderr: %s)", err, errOut)
	}
	env := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if n, v, ok := strings.Cut(line, "="); ok {
			env[n] = append(env[n], v)
		}
	}
	return env
}

// expectEnv checks each name: want "" means absent.
func expectEnv(t *testing.T, what string, env map[string][]string, want map[string]string) {
	t.Helper()
	for n, w := range want {
		got := env[n]
		switch {
		case w == "" && len(got) > 0:
			t.Errorf("%s: %s is delivered; it should not be", what, n)
		case w != "" && len(got) == 0:
			t.Errorf("%s: %s is not delivered", what, n)
		case w != "" && len(got) > 1:
			t.Errorf("%s: %s is delivered %d times", what, n, len(got))
		case w != "" && got[0] != w:
			t.Errorf("%s: %s does not hold the expected value (%d bytes)", what, n, len(got[0]))
		}
	}
}

func exportRun(t *testing.T, s *keyward.Store, o *cliexport.Options) string {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	o.IO = io
	o.OpenStore = func(context.Context) (*keyward.Store, error) { return s, nil }
	o.Resolver = func() *keyward.Resolver { return &keyward.Resolver{} }
	if o.MountDir == "" {
		o.MountDir = export.DefaultMountDir
	}
	if err := cliexport.Run(context.Background(), o); err != nil {
		t.Fatalf("export --format %s: %v (stderr: %s)", o.Format, err, errOut)
	}
	return out.String()
}

// checkExports renders every export format and checks the variables in each.
func checkExports(t *testing.T, s *keyward.Store, ro export.RingOptions, want map[string]string) {
	t.Helper()
	// json: exact values.
	var m map[string]string
	if err := json.Unmarshal([]byte(exportRun(t, s, &cliexport.Options{Format: export.FormatJSON, Ring: ro})), &m); err != nil {
		t.Fatalf("export json: %v", err)
	}
	env := map[string][]string{}
	for k, v := range m {
		env[k] = []string{v}
	}
	expectEnv(t, "export json", env, want)
	// dotenv, shell, kubernetes: each name once (values are quoted per format).
	for _, f := range []struct{ format, prefix, sep string }{
		{export.FormatDotenv, "", "="}, {export.FormatShell, "export ", "="}, {export.FormatKubernetes, "  \"", "\":"},
	} {
		out := exportRun(t, s, &cliexport.Options{Format: f.format, Ring: ro, Name: "app-secrets"})
		for n, w := range want {
			c := strings.Count(out, "\n"+f.prefix+n+f.sep)
			if strings.HasPrefix(out, f.prefix+n+f.sep) {
				c++
			}
			if (w == "") != (c == 0) || c > 1 {
				t.Errorf("export %s: %s appears %d times", f.format, n, c)
			}
			if w != "" && f.format != export.FormatKubernetes && !strings.Contains(out, w) {
				t.Errorf("export %s: the value of %s is missing", f.format, n)
			}
		}
	}
	// docker: one file per variable, <key>_old among them.
	dir := filepath.Join(t.TempDir(), "secrets")
	exportRun(t, s, &cliexport.Options{Format: export.FormatDocker, Output: dir, Ring: ro})
	for n, w := range want {
		b, err := os.ReadFile(filepath.Join(dir, strings.ToLower(n)))
		switch {
		case w == "" && err == nil:
			t.Errorf("export docker: %s exists", strings.ToLower(n))
		case w != "" && err != nil:
			t.Errorf("export docker: %v", err)
		case w != "" && string(b) != w:
			t.Errorf("export docker: %s does not hold the expected value", strings.ToLower(n))
		}
	}
	// compose: the secrets stanza names the file.
	out := exportRun(t, s, &cliexport.Options{Format: export.FormatCompose, Ring: ro, Service: "backend", SecretsDir: "./secrets"})
	for n, w := range want {
		has := strings.Contains(out, "\""+strings.ToLower(n)+"\":")
		if has != (w != "") {
			t.Errorf("export compose: %s present = %v", strings.ToLower(n), has)
		}
	}
}

func expectTemplate(t *testing.T, s *keyward.Store, ro export.RingOptions, src, want string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "app.tmpl")
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	io, _, out, errOut := iostreams.Test()
	o := &template.Options{IO: io, OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil },
		Resolver: func() *keyward.Resolver { return &keyward.Resolver{} }, In: in, Ring: ro}
	if err := template.Run(context.Background(), o); err != nil {
		t.Fatalf("template: %v (stderr: %s)", err, errOut)
	}
	if out.String() != want {
		t.Errorf("template %q rendered %d bytes, not the expected %d (ring values wrong or missing)", src, out.Len(), len(want))
	}
}

// RunEnv runs `env` through keyward run over s with the default delivery
// settings and returns the child's environment, each name with all its values.
func RunEnv(t *testing.T, s *keyward.Store) map[string][]string {
	t.Helper()
	return runEnv(t, s, export.RingOptions{}, nil)
}
