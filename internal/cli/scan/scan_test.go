package scan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
	kscan "github.com/keyward/keyward/scan"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		check   func(*Options) bool
		wantErr bool
	}{
		{"", func(o *Options) bool { return o.Format == "text" && len(o.Paths) == 0 }, false},
		{"--json a b", func(o *Options) bool { return o.Format == "json" && len(o.Paths) == 2 }, false},
		{"--format sarif --history", func(o *Options) bool { return o.Format == "sarif" && o.History }, false},
		{"--staged --no-ignore --rules r.toml --baseline b", func(o *Options) bool {
			return o.Staged && o.NoIgnore && o.RulesFile == "r.toml" && o.Baseline == "b"
		}, false},
		{"--format xml", nil, true},
		{"--json --format sarif", nil, true},
		{"--staged --history", nil, true},
		{"--history a b", nil, true},
		{"--max-file-size -1", nil, true},
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
			if err != nil || !tc.check(got) {
				t.Fatalf("err %v, options %+v", err, got)
			}
		})
	}
}

// Every stored version of every key is searched, and nothing printed
// carries a value.
func TestRunManagedVersionsCanary(t *testing.T) {
	ctx := context.Background()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://t"})
	old := "KWCANARY-old-" + strings.Repeat("o", 12)
	cur := "KWCANARY-cur-" + strings.Repeat("c", 12)
	for _, v := range []string{old, cur} {
		if _, err := s.Put(ctx, "API_KEY", keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := ReadStore(ctx, s, "prod")
	if err != nil || len(ms) != 2 {
		t.Fatalf("ReadStore: %v, %d values, want 2 versions", err, len(ms))
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x="+old+"\ny="+cur+"\n"), 0o644)
	for _, format := range []string{"text", "json", "sarif"} {
		ios, _, out, errOut := iostreams.Test()
		err := run(ctx, &Options{IO: ios, Format: format, Paths: []string{dir}, NoIgnore: true,
			LoadManaged: func(context.Context) ([]kscan.Managed, []string, error) { return ms, nil, nil }})
		var se *cmdutil.SilentError
		if !errorsAs(err, &se) || se.Code != cmdutil.ExitError {
			t.Fatalf("%s: want exit 1 for findings, got %v", format, err)
		}
		all := out.String() + errOut.String()
		if strings.Contains(all, "KWCANARY") {
			t.Fatalf("%s output contains a value", format)
		}
		if strings.Count(out.String(), "API_KEY") < 2 {
			t.Fatalf("%s: want both versions found", format)
		}
	}
	// Clean tree: exit 0.
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("clean\n"), 0o644)
	ios, _, _, _ := iostreams.Test()
	if err := run(ctx, &Options{IO: ios, Format: "text", Paths: []string{dir}, NoIgnore: true,
		LoadManaged: func(context.Context) ([]kscan.Managed, []string, error) { return ms, nil, nil }}); err != nil {
		t.Fatalf("clean: %v", err)
	}
}

func TestLoadManagedDefaultStoreMissing(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IO: ios, Getenv: func(string) string { return "" }}
	ms, notes, err := LoadManaged(context.Background(), f)
	if err != nil || len(ms) != 0 || len(notes) != 1 {
		t.Fatalf("missing default store: %v, %d values, notes %q", err, len(ms), notes)
	}
}

func errorsAs(err error, target **cmdutil.SilentError) bool {
	se, ok := err.(*cmdutil.SilentError)
	if ok {
		*target = se
	}
	return ok
}

// Progress goes to stderr only on a terminal outside CI, and never to stdout.
func TestProgressOnlyOnTTY(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 200; i++ {
		os.WriteFile(filepath.Join(dir, "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+".txt"), []byte("clean\n"), 0o644)
	}
	for _, tc := range []struct {
		tty  bool
		ci   string
		want bool
	}{{true, "", true}, {false, "", false}, {true, "true", false}} {
		t.Setenv("CI", tc.ci)
		ios, _, out, errOut := iostreams.Test()
		ios.SetTTY(false, false, tc.tty)
		if err := run(context.Background(), &Options{IO: ios, Format: "text", Paths: []string{dir}, NoIgnore: true}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(errOut.String(), "scanning:"); got != tc.want {
			t.Errorf("tty=%v CI=%q: progress drawn %v, want %v", tc.tty, tc.ci, got, tc.want)
		}
		if strings.Contains(out.String(), "scanning") {
			t.Errorf("progress on stdout")
		}
	}
}
