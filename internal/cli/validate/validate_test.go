package validate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/schema"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    Options
		wantErr bool
	}{
		{args: "", want: Options{Format: "table"}},
		{args: "--format json --strict", want: Options{Format: "json", Strict: true}},
		{args: "--json", want: Options{Format: "json"}},
		{args: "--format sarif --production --no-compare --no-files", want: Options{Format: "sarif", Production: true, NoCompare: true, NoFiles: true}},
		{args: "--compare development,staging", want: Options{Format: "table", Compare: []string{"development", "staging"}}},
		{args: "--format xml", wantErr: true},
		{args: "--json --format sarif", wantErr: true},
		{args: "--compare dev --no-compare", wantErr: true},
		{args: "extra", wantErr: true},
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
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Format != tc.want.Format || got.Strict != tc.want.Strict || got.Production != tc.want.Production ||
				got.NoCompare != tc.want.NoCompare || got.NoFiles != tc.want.NoFiles || strings.Join(got.Compare, ",") != strings.Join(tc.want.Compare, ",") {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

const canary = "KWCANARY-validate-0123456789"

func setup(t *testing.T, yaml string, stores map[string]map[string]string) *Options {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "keyward.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	opened := map[string]*keyward.Store{}
	for url, vals := range stores {
		s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: url})
		for k, v := range vals {
			if _, err := s.Put(context.Background(), k, keyward.NewSecretString(v), nil); err != nil {
				t.Fatal(err)
			}
		}
		opened[url] = s
	}
	ios, _, _, _ := iostreams.Test()
	return &Options{
		IO:         ios,
		Format:     "table",
		NoFiles:    true,
		LoadConfig: func() (*schema.Config, error) { return schema.Load(p) },
		ResolveStore: func() (string, string, error) {
			return "mem://prod", "production", nil
		},
		OpenURL: func(_ context.Context, url, env string) (*keyward.Store, error) {
			s := opened[url]
			if s == nil {
				return nil, keyward.Errorf(keyward.NotFound, "open", "no store %s", url)
			}
			return s, nil
		},
	}
}

const yaml = `
environments:
  development: mem://dev
  production: mem://prod
secrets:
  API_KEY:
    min_length: 20
  OPTIONAL:
    required: false
`

func TestRunValidAndInvalid(t *testing.T) {
	good := map[string]map[string]string{
		"mem://prod": {"API_KEY": canary},
		"mem://dev":  {"API_KEY": "another-value-for-dev-123"},
	}
	opts := setup(t, yaml, good)
	if err := run(context.Background(), opts); err != nil {
		t.Fatalf("valid store: %v", err)
	}
	out := opts.IO.Out.(interface{ String() string }).String()
	if !strings.Contains(out, "✓  API_KEY") || !strings.Contains(out, "-  OPTIONAL") || strings.Contains(out, canary) {
		t.Fatalf("table:\n%s", out)
	}

	reused := map[string]map[string]string{
		"mem://prod": {"API_KEY": canary},
		"mem://dev":  {"API_KEY": canary},
	}
	for _, format := range []string{"table", "json", "sarif"} {
		opts = setup(t, yaml, reused)
		opts.Format = format
		err := run(context.Background(), opts)
		var se *cmdutil.SilentError
		if !errors.As(err, &se) || cmdutil.ExitCode(err) != cmdutil.ExitError {
			t.Fatalf("%s: reused value: err = %v, want exit 1", format, err)
		}
		out := opts.IO.Out.(interface{ String() string }).String()
		if strings.Contains(out, canary) {
			t.Fatalf("%s output contains the value", format)
		}
		if !strings.Contains(out, "reuse") {
			t.Fatalf("%s output lacks the reuse finding", format)
		}
		if format == "json" {
			var rep schema.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Valid || rep.Errors != 1 {
				t.Fatalf("json report: %v %+v", err, rep)
			}
		}
	}

	// --no-compare skips the reuse check.
	opts = setup(t, yaml, reused)
	opts.NoCompare = true
	if err := run(context.Background(), opts); err != nil {
		t.Fatalf("--no-compare: %v", err)
	}
}

func TestRunConfigErrors(t *testing.T) {
	opts := setup(t, "secrets:\n  A: {min_lenght: 3}\n", nil)
	err := run(context.Background(), opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "keyward.yaml:2:") {
		t.Fatalf("bad yaml: exit %d, %v", cmdutil.ExitCode(err), err)
	}
	opts.LoadConfig = func() (*schema.Config, error) { return nil, nil }
	if err := run(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("no keyward.yaml: exit %d, %v", cmdutil.ExitCode(err), err)
	}
	opts = setup(t, yaml, nil)
	opts.ResolveStore = func() (string, string, error) { return "mem://x", "staging", nil }
	if err := run(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("unknown environment: exit %d, %v", cmdutil.ExitCode(err), err)
	}
	opts = setup(t, yaml, nil)
	opts.Compare = []string{"qa"}
	if err := run(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("unknown --compare environment: exit %d, %v", cmdutil.ExitCode(err), err)
	}
	// A store that cannot be opened keeps its own exit code.
	opts = setup(t, yaml, nil)
	if err := run(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing store: exit %d, %v", cmdutil.ExitCode(err), err)
	}
}
