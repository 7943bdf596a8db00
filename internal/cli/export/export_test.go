package export

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/dotenv"
	"github.com/keyward/keyward/provider/mem"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		check   func(*Options) bool
		wantErr string
	}{
		{args: "", check: func(o *Options) bool { return o.Format == "dotenv" && o.Output == "" }},
		{args: "--format JSON --only A,B --only C", check: func(o *Options) bool {
			return o.Format == "json" && strings.Join(o.Only, ",") == "A,B,C"
		}},
		{args: "-f kubernetes --name n --namespace ns --label a=b --label c=d --with-deployment-snippet --container backend", check: func(o *Options) bool {
			return o.Name == "n" && o.Namespace == "ns" && o.Labels["a"] == "b" && o.Labels["c"] == "d" && o.DeploymentSnippet && o.Container == "backend"
		}},
		{args: "--format docker -o dir --force --mount /secrets", check: func(o *Options) bool {
			return o.Output == "dir" && o.Force && o.MountDir == "/secrets"
		}},
		{args: "--format compose --service backend --external", check: func(o *Options) bool { return o.Service == "backend" && o.External }},
		{args: "--format xml", wantErr: "--format must be one of"},
		{args: "--format docker", wantErr: "needs the directory"},
		{args: "--format dotenv --name x", wantErr: "--name only applies to --format kubernetes"},
		{args: "--format json --force", wantErr: "--force only applies"},
		{args: "--format kubernetes --external", wantErr: "--external only applies"},
		{args: "-f kubernetes --label nokey", wantErr: "want KEY=VALUE"},
		{args: "--only A,,B", wantErr: "empty key"},
		{args: "extra", wantErr: "unknown command"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tc.args))
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
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

const canary = "KWCANARY-export-run-value-\"$'\\\n"

func testStore(t *testing.T) (*keyward.Store, func(context.Context) (*keyward.Store, error)) {
	t.Helper()
	ctx := context.Background()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://t"})
	for k, v := range map[string]string{"JWT_SECRET_KEY": canary, "DATABASE_URL": "postgres://u:p@db/x", "REF": "ref+mem://other#/TARGET"} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	return s, func(context.Context) (*keyward.Store, error) { return s, nil }
}

func resolverFor(t *testing.T) func() *keyward.Resolver {
	other := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://other"})
	if _, err := other.Put(context.Background(), "TARGET", keyward.NewSecretString("resolved-target"), nil); err != nil {
		t.Fatal(err)
	}
	return func() *keyward.Resolver {
		return &keyward.Resolver{Open: func(context.Context, string) (*keyward.Store, error) { return other, nil }}
	}
}

func TestRunDotenvResolvesReferences(t *testing.T) {
	_, open := testStore(t)
	ios, _, out, _ := iostreams.Test()
	if err := run(context.Background(), &Options{IO: ios, OpenStore: open, Resolver: resolverFor(t), Format: "dotenv"}); err != nil {
		t.Fatal(err)
	}
	m, err := dotenv.ParseMap(out.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m["JWT_SECRET_KEY"] != canary || m["REF"] != "resolved-target" || len(m) != 3 {
		t.Fatalf("round trip lost values (%d keys)", len(m))
	}
	// --no-resolve keeps the reference.
	ios, _, out, _ = iostreams.Test()
	if err := run(context.Background(), &Options{IO: ios, OpenStore: open, Resolver: resolverFor(t), Format: "json", NoResolve: true, Only: []string{"REF"}}); err != nil {
		t.Fatal(err)
	}
	var j map[string]string
	if err := json.Unmarshal(out.Bytes(), &j); err != nil || j["REF"] != "ref+mem://other#/TARGET" || len(j) != 1 {
		t.Fatalf("--no-resolve: %v", err)
	}
}

func TestRunOutputFile(t *testing.T) {
	_, open := testStore(t)
	p := filepath.Join(t.TempDir(), "out.sh")
	ios, _, out, errOut := iostreams.Test()
	if err := run(context.Background(), &Options{IO: ios, OpenStore: open, Resolver: resolverFor(t), Format: "shell", Output: p}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || strings.Contains(errOut.String(), canary) {
		t.Fatal("with -o, stdout must stay empty and stderr clean")
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	// -o on a directory is refused.
	err = run(context.Background(), &Options{IO: ios, OpenStore: open, Resolver: resolverFor(t), Format: "shell", Output: filepath.Dir(p)})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("directory -o: %v", err)
	}
}

func TestRunDockerAndCompose(t *testing.T) {
	_, open := testStore(t)
	dir := filepath.Join(t.TempDir(), "secrets")
	ios, _, out, _ := iostreams.Test()
	if err := run(context.Background(), &Options{IO: ios, OpenStore: open, Resolver: resolverFor(t), Format: "docker", Output: dir, MountDir: "/run/secrets"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "JWT_SECRET_KEY_FILE=/run/secrets/jwt_secret_key\n") || strings.Contains(out.String(), canary) {
		t.Fatalf("mapping:\n%s", out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "jwt_secret_key"))
	if err != nil || string(b) != canary {
		t.Fatalf("file: %d bytes, %v", len(b), err)
	}
	// Second run without --force: refused, exit 6.
	err = run(context.Background(), &Options{IO: ios, OpenStore: open, Resolver: resolverFor(t), Format: "docker", Output: dir})
	if cmdutil.ExitCode(err) != cmdutil.ExitConflict {
		t.Fatalf("non-empty: %v", err)
	}
	ios, _, out, _ = iostreams.Test()
	if err := run(context.Background(), &Options{IO: ios, OpenStore: open, Format: "compose", Service: "backend", External: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"JWT_SECRET_KEY_FILE": "/run/secrets/jwt_secret_key"`) || strings.Contains(out.String(), canary) {
		t.Fatalf("compose:\n%s", out.String())
	}
}

func TestRunFailures(t *testing.T) {
	s, open := testStore(t)
	ctx := context.Background()
	if _, err := s.Put(ctx, "NUL", keyward.NewSecretString(canary+"\x00"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "BADREF", keyward.NewSecretString("ref+mem://x"), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		code int
		want string
	}{
		{"nul in dotenv", Options{Format: "dotenv", Only: []string{"NUL"}}, cmdutil.ExitUsage, `"NUL"`},
		{"nul in shell", Options{Format: "shell", Only: []string{"NUL"}}, cmdutil.ExitUsage, `"NUL"`},
		{"missing key", Options{Format: "json", Only: []string{"NOPE"}}, cmdutil.ExitNotFound, `"NOPE"`},
		{"malformed reference", Options{Format: "json", Only: []string{"BADREF"}}, cmdutil.ExitUsage, "BADREF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			o := tc.o
			o.IO, o.OpenStore, o.Resolver = ios, open, resolverFor(t)
			err := run(ctx, &o)
			if cmdutil.ExitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d (%v), want %d naming %s", cmdutil.ExitCode(err), err, tc.code, tc.want)
			}
			var buf bytes.Buffer
			cmdutil.PrintError(&buf, err)
			if strings.Contains(buf.String(), "KWCANARY") || out.Len() != 0 {
				t.Fatal("the value leaked into the error, or output was written before it")
			}
		})
	}
	// A store that cannot list needs --only.
	ios, _, _, _ := iostreams.Test()
	ro := keyward.NewStore(getOnly{"A": "a-value"}, nil)
	err := run(ctx, &Options{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return ro, nil }, Format: "json"})
	if cmdutil.ExitCode(err) != cmdutil.ExitUnimplemented || !strings.Contains(fmtErr(err), "--only") {
		t.Fatalf("no list: %v", err)
	}
	ios, _, out, _ := iostreams.Test()
	if err := run(ctx, &Options{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return ro, nil }, Resolver: resolverFor(t), Format: "json", Only: []string{"A"}}); err != nil || !strings.Contains(out.String(), "a-value") {
		t.Fatalf("--only on a non-listing store: %v", err)
	}
}

func fmtErr(err error) string {
	var b bytes.Buffer
	cmdutil.PrintError(&b, err)
	return b.String()
}

// getOnly is a driver that can only get: no list, no writes.
type getOnly map[string]string

func (g getOnly) Get(_ context.Context, key, _ string) (*driver.Value, error) {
	v, ok := g[key]
	if !ok {
		return nil, keyward.ErrNotFound
	}
	return &driver.Value{Data: []byte(v), Version: driver.Version{ID: "1"}}, nil
}
func (getOnly) ErrorCode(err error) keyward.Code { return keyward.ErrorCode(err) }
func (getOnly) Close() error                     { return nil }
