package list

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
		{args: "", want: Options{}},
		{args: "--json", want: Options{JSON: true}},
		{args: "X", wantErr: true},
		{args: "--reveal", wantErr: true},
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
			if got.JSON != tc.want.JSON {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

const canary = "KWCANARY-list-77c1"

func TestRun(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{URL: "mem://list"})
	open := func(context.Context) (*keyward.Store, error) { return s, nil }

	// Empty store: nothing on stdout when piped, [] with --json, a note on a TTY.
	ios, _, out, _ := iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}}); err != nil || out.Len() != 0 {
		t.Fatalf("empty piped: %q, %v", out.String(), err)
	}
	ios, _, out, _ = iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, JSON: true}); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Fatalf("empty json: %q, %v", out.String(), err)
	}
	ios, _, _, errOut := iostreams.Test()
	ios.SetTTY(false, true, true)
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}}); err != nil || !strings.Contains(errOut.String(), "No secrets in mem://list") {
		t.Fatalf("empty tty: %q, %v", errOut.String(), err)
	}

	for _, k := range []string{"B_KEY", "A_KEY", "B_KEY"} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString(canary), nil); err != nil {
			t.Fatal(err)
		}
	}

	ios, _, out, errOut = iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "A_KEY\nB_KEY\n" {
		t.Fatalf("piped: %q", out.String())
	}

	ios, _, out, _ = iostreams.Test()
	ios.SetTTY(false, true, true)
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "KEY") || !strings.Contains(lines[0], "VERSION") ||
		!strings.HasPrefix(lines[2], "B_KEY") || !strings.Contains(lines[2], " 2 ") {
		t.Fatalf("table:\n%s", out.String())
	}

	ios, _, out, _ = iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var items []Item
	if err := json.Unmarshal(out.Bytes(), &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Key != "A_KEY" || items[1].Version != "2" || items[1].Updated == nil {
		t.Fatalf("json: %+v", items)
	}
	if strings.Contains(out.String()+errOut.String(), canary) {
		t.Fatal("list printed a value")
	}
}

func TestRunFailure(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	open := func(context.Context) (*keyward.Store, error) {
		return nil, keyward.Errorf(keyward.PermissionDenied, "open", "wrong key")
	}
	err := run(context.Background(), &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}})
	if cmdutil.ExitCode(err) != cmdutil.ExitPermission {
		t.Fatalf("exit %d", cmdutil.ExitCode(err))
	}
}
