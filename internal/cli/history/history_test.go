package history

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
		{args: "K", want: Options{Key: "K"}},
		{args: "K --json", want: Options{Key: "K", JSON: true}},
		{args: "", wantErr: true},
		{args: "A B", wantErr: true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, _, err := cmdtest.Parse(NewCmd, tc.args, false)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != tc.want.Key || got.JSON != tc.want.JSON {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

const canary = "KWCANARY-history-0b3e"

func TestRun(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{URL: "mem://history"})
	open := func(context.Context) (*keyward.Store, error) { return s, nil }
	for range 3 {
		if _, err := s.Put(ctx, "K", keyward.NewSecretString(canary), nil); err != nil {
			t.Fatal(err)
		}
	}

	ios, _, out, _ := iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "K"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "1\t") || !strings.HasPrefix(lines[2], "3\t") {
		t.Fatalf("piped:\n%s", out.String())
	}

	ios, _, out, _ = iostreams.Test()
	ios.SetTTY(false, true, true)
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "K"}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "VERSION") || strings.Count(out.String(), "\n") != 4 {
		t.Fatalf("table:\n%s", out.String())
	}

	ios, _, out, _ = iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "K", JSON: true}); err != nil {
		t.Fatal(err)
	}
	var o Output
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		t.Fatal(err)
	}
	if o.Key != "K" || o.Store != "mem://history" || len(o.Versions) != 3 || o.Versions[2].ID != "3" || o.Versions[0].Created == nil {
		t.Fatalf("json: %+v", o)
	}
	if strings.Contains(out.String(), canary) {
		t.Fatal("history printed a value")
	}

	ios, _, out, _ = iostreams.Test()
	err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "MISSING"})
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || out.Len() != 0 {
		t.Fatalf("missing: exit %d, stdout %q", cmdutil.ExitCode(err), out.String())
	}
	var buf strings.Builder
	cmdutil.PrintError(&buf, err)
	if !strings.Contains(buf.String(), "hint: 'keyward list'") {
		t.Fatalf("no hint: %q", buf.String())
	}
}
