package get

import (
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
		want    Options
		wantErr bool
	}{
		{args: "JWT", want: Options{Key: "JWT"}},
		{args: "JWT --version 3 --json", want: Options{Key: "JWT", Version: "3", JSON: true}},
		{args: "JWT --json --reveal", want: Options{Key: "JWT", JSON: true, Reveal: true}},
		{args: "JWT --reveal", wantErr: true},
		{args: "", wantErr: true},
		{args: "A B", wantErr: true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, _, err := cmdtest.Parse(NewCmd, tc.args, false)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != tc.want.Key || got.Version != tc.want.Version || got.JSON != tc.want.JSON || got.Reveal != tc.want.Reveal {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	const canary = "KWCANARY-get-run-value"
	b := mem.NewBackend()
	ctx := context.Background()
	s := b.OpenStore(&keyward.StoreOptions{URL: "mem://t"})
	if _, err := s.Put(ctx, "JWT", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	open := func(context.Context) (*keyward.Store, error) { return s, nil }

	ios, _, out, _ := iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "JWT"}); err != nil {
		t.Fatal(err)
	}
	if out.String() != canary {
		t.Fatalf("get printed %d bytes, want the exact value", out.Len())
	}

	ios, _, out, _ = iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "JWT", JSON: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), canary) {
		t.Fatalf("--json without --reveal printed the value")
	}
	var o Output
	if err := json.Unmarshal(out.Bytes(), &o); err != nil || o.Version != "1" || o.Length != len(canary) {
		t.Fatalf("bad json %v: %+v", err, o)
	}

	ios, _, out, _ = iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "JWT", JSON: true, Reveal: true}); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &o); err != nil || o.Value == nil || *o.Value != canary {
		t.Fatalf("--json --reveal must include the value")
	}

	err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "MISSING"})
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing key: exit %d, want %d", cmdutil.ExitCode(err), cmdutil.ExitNotFound)
	}
}
