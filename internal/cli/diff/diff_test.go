package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdtest"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		wantErr bool
		check   func(*Options) bool
	}{
		{args: "staging production", check: func(o *Options) bool { return o.A == "staging" && o.B == "production" }},
		{args: "a b --fail-on-same --json --only X,Y", check: func(o *Options) bool {
			return o.FailOnSame && o.JSON && strings.Join(o.Only, ",") == "X,Y"
		}},
		{args: "a", wantErr: true},
		{args: "a b c", wantErr: true},
		{args: "a b --only ,", wantErr: true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, _, err := cmdtest.Parse(NewCmd, tc.args, false)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil || !tc.check(got) {
				t.Fatalf("err %v options %+v", err, got)
			}
		})
	}
}

const canary = "KWCANARY-diff-shared-value"

func put(t *testing.T, s *keyward.Store, kv map[string]string) {
	t.Helper()
	for k, v := range kv {
		if _, err := s.Put(context.Background(), k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	a := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://a"})
	b := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://b"})
	put(t, a, map[string]string{"SAME": canary, "DIFF": canary + "-a", "ONLY_A": canary})
	put(t, b, map[string]string{"SAME": canary, "DIFF": canary + "-b", "ONLY_B": canary})
	open := func(_ context.Context, n string) (*keyward.Store, error) {
		if n == "a" {
			return a, nil
		}
		return b, nil
	}
	ios, _, out, errOut := iostreams.Test()
	err := run(ctx, &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: open}, A: "a", B: "b", JSON: true})
	if cmdutil.ExitCode(err) != cmdutil.ExitError {
		t.Fatalf("differences: exit %d", cmdutil.ExitCode(err))
	}
	var o Output
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.OnlyA, ",") != "ONLY_A" || strings.Join(o.OnlyB, ",") != "ONLY_B" ||
		strings.Join(o.Same, ",") != "SAME" || strings.Join(o.Different, ",") != "DIFF" || o.Equal || o.A.Store != "mem://a" {
		t.Fatalf("output %+v", o)
	}
	if strings.Contains(out.String()+errOut.String(), "KWCANARY") {
		t.Fatal("a value leaked")
	}
	// Plain lines when piped.
	ios, _, out, _ = iostreams.Test()
	_ = run(ctx, &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: open}, A: "a", B: "b"})
	if out.String() != "only-a ONLY_A\nonly-b ONLY_B\nsame SAME\ndifferent DIFF\n" {
		t.Fatalf("plain:\n%s", out.String())
	}
	// A table on a terminal.
	ios, _, out, _ = iostreams.Test()
	ios.SetTTY(false, true, true)
	_ = run(ctx, &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: open}, A: "a", B: "b"})
	if !strings.Contains(out.String(), "SAME    same value") || strings.Contains(out.String(), "KWCANARY") {
		t.Fatalf("table:\n%s", out.String())
	}
	// --fail-on-same: SAME makes it fail; with --only DIFF it passes.
	ios, _, _, _ = iostreams.Test()
	if err := run(ctx, &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: open}, A: "a", B: "b", FailOnSame: true}); cmdutil.ExitCode(err) != cmdutil.ExitError {
		t.Fatalf("--fail-on-same with a shared value: %v", err)
	}
	if err := run(ctx, &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: open}, A: "a", B: "b", FailOnSame: true, Only: []string{"DIFF", "ONLY_A"}}); err != nil {
		t.Fatalf("--fail-on-same without shared values: %v", err)
	}
	// Identical stores: exit 0.
	if err := run(ctx, &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: open}, A: "a", B: "b", Only: []string{"SAME"}}); err != nil {
		t.Fatalf("equal: %v", err)
	}
	// A store that cannot be opened: its error, not a diff.
	bad := func(context.Context, string) (*keyward.Store, error) {
		return nil, keyward.Errorf(keyward.NotFound, "open", "no such environment")
	}
	err = run(ctx, &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: bad}, A: "x", B: "y"})
	var buf bytes.Buffer
	cmdutil.PrintError(&buf, err)
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("open failure: %s", buf.String())
	}
}
