package delete

import (
	"context"
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
		tty     bool
		want    Options
		wantErr string
	}{
		{args: "K --yes", want: Options{Key: "K", Yes: true}},
		{args: "K -y", want: Options{Key: "K", Yes: true}},
		{args: "K", tty: true, want: Options{Key: "K"}},
		{args: "K", wantErr: "stdin is not a terminal; pass --yes"},
		{args: "", tty: true, wantErr: "accepts 1 arg"},
		{args: "A B --yes", wantErr: "accepts 1 arg"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, _, err := cmdtest.Parse(NewCmd, tc.args, tc.tty)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if cmdutil.ExitCode(err) != cmdutil.ExitUsage && !strings.Contains(tc.wantErr, "arg") {
					t.Fatalf("exit %d, want %d", cmdutil.ExitCode(err), cmdutil.ExitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != tc.want.Key || got.Yes != tc.want.Yes {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{URL: "mem://delete", TTL: -1})
	open := func(context.Context) (*keyward.Store, error) { return s, nil }
	put := func(k string) {
		t.Helper()
		if _, err := s.Put(ctx, k, keyward.NewSecretString("KWCANARY-delete"), nil); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(k string) bool {
		_, err := s.Get(ctx, k)
		return err == nil
	}
	put("K")

	// --yes deletes without asking.
	ios, _, out, errOut := iostreams.Test()
	if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "K", Yes: true}); err != nil {
		t.Fatal(err)
	}
	if exists("K") || errOut.String() != "Deleted K from mem://delete\n" || out.Len() != 0 {
		t.Fatalf("after delete: stderr %q", errOut.String())
	}

	// On a TTY: typing the name confirms; anything else keeps the key.
	for _, tc := range []struct {
		typed   string
		deleted bool
	}{{"K\n", true}, {"y\n", false}, {"", false}, {"k\n", false}} {
		put("K")
		ios, in, _, errOut := iostreams.Test()
		ios.SetTTY(true, true, true)
		in.WriteString(tc.typed)
		err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "K"})
		if !strings.Contains(errOut.String(), "Type the key name to confirm") {
			t.Fatalf("no prompt: %q", errOut.String())
		}
		if exists("K") == tc.deleted {
			t.Fatalf("typed %q: deleted=%v, want %v", tc.typed, !exists("K"), tc.deleted)
		}
		if tc.deleted != (err == nil) {
			t.Fatalf("typed %q: err %v", tc.typed, err)
		}
		if err != nil && cmdutil.ExitCode(err) == cmdutil.ExitOK {
			t.Fatal("declined delete must not exit 0")
		}
	}
	if err := s.Delete(ctx, "K"); err != nil {
		t.Fatal(err)
	}

	// Missing key: exit 3.
	ios, _, _, _ = iostreams.Test()
	err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "NOPE", Yes: true})
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing: exit %d", cmdutil.ExitCode(err))
	}
	// Non-interactive without --yes is refused even if run() is called directly.
	put("K")
	ios, _, _, _ = iostreams.Test()
	err = run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: open}, Key: "K"})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !exists("K") {
		t.Fatalf("non-interactive: exit %d, exists %v", cmdutil.ExitCode(err), exists("K"))
	}
}
