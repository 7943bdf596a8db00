package set

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "JWT", want: Options{Key: "JWT"}},
		{args: "JWT --generate urlsafe", want: Options{Key: "JWT", Generate: "urlsafe"}},
		{args: "JWT --generate hex:48 --json", want: Options{Key: "JWT", Generate: "hex:48", JSON: true}},
		{args: "JWT --from-file v.txt --no-trim", want: Options{Key: "JWT", FromFile: "v.txt", NoTrim: true}},
		{args: "JWT --if-version 0 --allow-empty", want: Options{Key: "JWT", IfVersion: "0", AllowEmpty: true}},
		{args: "JWT --from-file v --generate hex", wantErr: "cannot be used together"},
		{args: "JWT --generate nosuch", wantErr: `unknown recipe "nosuch"`},
		{args: "JWT --generate hex:4", wantErr: "at least 16 bytes"},
		{args: "JWT --value x", wantErr: "unknown flag: --value"},
		{args: "", wantErr: "accepts 1 arg"},
		{args: "A B", wantErr: "accepts 1 arg"},
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
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := *got
			g.IO, g.OpenStore, g.ReadHidden = nil, nil, nil
			if g.Key != tc.want.Key || g.FromFile != tc.want.FromFile || g.Generate != tc.want.Generate || g.NoTrim != tc.want.NoTrim ||
				g.AllowEmpty != tc.want.AllowEmpty || g.IfVersion != tc.want.IfVersion || g.JSON != tc.want.JSON {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

const canary = "KWCANARY-set-4f1d9a" // planted; must never be echoed by set

type env struct {
	b    *mem.Backend
	s    *keyward.Store
	open func(context.Context) (*keyward.Store, error)
}

func newEnv() *env {
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{URL: "mem://set-test", TTL: -1})
	return &env{b: b, s: s, open: func(context.Context) (*keyward.Store, error) { return s, nil }}
}

func (e *env) value(t *testing.T, key string) string {
	t.Helper()
	v, err := e.s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return v.RevealString()
}

func noCanary(t *testing.T, where string, s string) {
	t.Helper()
	if strings.Contains(s, canary) {
		t.Fatalf("%s contains the secret value", where)
	}
}

func TestRunStdin(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		input  string
		noTrim bool
		want   string
	}{
		{"trims one newline", canary + "\n", false, canary},
		{"trims one crlf", canary + "\r\n", false, canary},
		{"trims only one", canary + "\n\n", false, canary + "\n"},
		{"no newline", canary, false, canary},
		{"no-trim", canary + "\n", true, canary + "\n"},
		{"keeps inner newlines", "a\nb\n", false, "a\nb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv()
			ios, in, out, errOut := iostreams.Test()
			in.WriteString(tc.input)
			if err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "K", NoTrim: tc.noTrim}); err != nil {
				t.Fatal(err)
			}
			if got := e.value(t, "K"); got != tc.want {
				t.Fatalf("stored %d bytes, want %d", len(got), len(tc.want))
			}
			if out.Len() != 0 {
				t.Fatalf("set wrote %d bytes to stdout without --json", out.Len())
			}
			if got := errOut.String(); got != "Set K version 1 in mem://set-test\n" {
				t.Fatalf("stderr = %q", got)
			}
		})
	}
}

func TestRunJSONAndVersions(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	for i, want := range []string{"1", "2"} {
		ios, in, out, errOut := iostreams.Test()
		in.WriteString(canary)
		if err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "K", JSON: true}); err != nil {
			t.Fatal(err)
		}
		noCanary(t, "stdout", out.String())
		noCanary(t, "stderr", errOut.String())
		var o Output
		if err := json.Unmarshal(out.Bytes(), &o); err != nil {
			t.Fatal(err)
		}
		if o.Key != "K" || o.Version != want || o.Length != len(canary) || o.Store != "mem://set-test" || o.Created == nil {
			t.Fatalf("write %d: bad output %+v", i, o)
		}
	}
}

func TestRunGenerate(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString("ignored")
	if err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "G", Generate: "hex:20", JSON: true}); err != nil {
		t.Fatal(err)
	}
	v := e.value(t, "G")
	if len(v) != 40 || strings.Trim(v, "0123456789abcdef") != "" {
		t.Fatalf("generated value has length %d or a non-hex symbol", len(v))
	}
	if strings.Contains(out.String(), v) || strings.Contains(errOut.String(), v) {
		t.Fatal("the generated value was printed")
	}
	var o Output
	if err := json.Unmarshal(out.Bytes(), &o); err != nil || o.Generated != "hex:20" || o.Length != 40 {
		t.Fatalf("bad output %+v (%v)", o, err)
	}
}

func TestRunFromFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "v.txt")
	if err := os.WriteFile(p, []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	ios, _, _, errOut := iostreams.Test()
	if err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "F", FromFile: p}); err != nil {
		t.Fatal(err)
	}
	if e.value(t, "F") != canary {
		t.Fatal("file value not stored exactly (trimmed)")
	}
	noCanary(t, "stderr", errOut.String())

	// Missing file: exit 3, names the file.
	err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "F", FromFile: filepath.Join(dir, "nope")})
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing file: exit %d, err %v", cmdutil.ExitCode(err), err)
	}
	// A directory is refused.
	err = run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "F", FromFile: dir})
	if err == nil || cmdutil.ExitCode(err) == 0 {
		t.Fatal("a directory must be refused")
	}
	// Too large.
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, cmdutil.MaxSecretSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "B", FromFile: big})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("big file: exit %d, err %v", cmdutil.ExitCode(err), err)
	}
	if _, err := e.s.Get(ctx, "B"); keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatal("a refused write must store nothing")
	}
}

func TestRunTerminalPrompt(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(true, true, true)
	called := 0
	read := func() ([]byte, error) { called++; return []byte(canary), nil }
	if err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "T", ReadHidden: read}); err != nil {
		t.Fatal(err)
	}
	if called != 1 || e.value(t, "T") != canary {
		t.Fatalf("prompt read %d times or stored the wrong value", called)
	}
	if !strings.Contains(errOut.String(), "Value for T (input is hidden): ") {
		t.Fatalf("no prompt on stderr: %q", errOut.String())
	}
	noCanary(t, "stdout", out.String())
	noCanary(t, "stderr", errOut.String())
}

func TestRunFailures(t *testing.T) {
	ctx := context.Background()
	e := newEnv()

	// Empty value refused (exit 2) and nothing stored.
	ios, _, _, _ := iostreams.Test()
	err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "E"})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty: exit %d, err %v", cmdutil.ExitCode(err), err)
	}
	if _, err := e.s.Get(ctx, "E"); keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatal("refused empty value was stored")
	}
	// ...unless --allow-empty.
	ios, in, _, _ := iostreams.Test()
	in.WriteString("\n")
	if err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "E", AllowEmpty: true}); err != nil {
		t.Fatal(err)
	}
	if e.value(t, "E") != "" {
		t.Fatal("want an empty value")
	}

	// Check-and-set.
	ios, in, _, _ = iostreams.Test()
	in.WriteString(canary)
	if err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "C", IfVersion: "0"}); err != nil {
		t.Fatalf("if-version 0 on a new key: %v", err)
	}
	for _, v := range []string{"0", "2"} {
		ios, in, _, errOut := iostreams.Test()
		in.WriteString(canary)
		err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "C", IfVersion: v})
		if cmdutil.ExitCode(err) != cmdutil.ExitConflict {
			t.Fatalf("if-version %s: exit %d, want %d", v, cmdutil.ExitCode(err), cmdutil.ExitConflict)
		}
		var buf strings.Builder
		cmdutil.PrintError(&buf, err)
		noCanary(t, "the error", buf.String()+errOut.String())
		if !strings.Contains(buf.String(), "hint: the current version of C is not "+v) {
			t.Fatalf("no hint: %q", buf.String())
		}
	}
	ios, in, _, _ = iostreams.Test()
	in.WriteString(canary)
	if err := run(ctx, &Options{IO: ios, OpenStore: e.open, Key: "C", IfVersion: "1"}); err != nil {
		t.Fatalf("if-version 1: %v", err)
	}
}
