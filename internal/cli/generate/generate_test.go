package generate

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/gen"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: Options{Recipe: "urlsafe"}},
		{args: "--recipe base64", want: Options{Recipe: "base64"}},
		{args: "-r hex --bytes 48", want: Options{Recipe: "hex", Size: 48}},
		{args: "--recipe alnum -n 40", want: Options{Recipe: "alnum", Size: 40}},
		{args: "--recipe uuid", want: Options{Recipe: "uuid"}},
		{args: "--list", want: Options{Recipe: "urlsafe", List: true}},
		{args: "--list --json", want: Options{Recipe: "urlsafe", List: true, JSON: true}},
		{args: "--json", wantErr: "--json only applies to --list"},
		{args: "--list --recipe hex", wantErr: "--list takes no"},
		{args: "--recipe nosuch", wantErr: `unknown recipe "nosuch"`},
		{args: "--bytes 8", wantErr: "at least 16 bytes"},
		{args: "--bytes -1", wantErr: "negative"},
		{args: "--recipe uuid --bytes 16", wantErr: "takes no size"},
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
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := *got
			g.IO = nil
			if g != tc.want {
				t.Fatalf("got %+v, want %+v", g, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		recipe string
		size   int
		tty    bool
		want   int
	}{
		{"urlsafe", 0, false, 43},
		{"urlsafe", 0, true, 44}, // plus the newline on a terminal
		{"base64", 32, false, 44},
		{"hex", 0, false, 64},
		{"uuid", 0, false, 32},
		{"alnum", 50, false, 50},
	} {
		ios, _, out, errOut := iostreams.Test()
		ios.SetTTY(false, tc.tty, tc.tty)
		if err := run(ctx, &Options{IO: ios, Recipe: tc.recipe, Size: tc.size}); err != nil {
			t.Fatal(err)
		}
		if out.Len() != tc.want || errOut.Len() != 0 {
			t.Fatalf("%s:%d: %d bytes on stdout, %d on stderr; want %d and 0", tc.recipe, tc.size, out.Len(), errOut.Len(), tc.want)
		}
		if strings.HasSuffix(out.String(), "\n") != tc.tty {
			t.Fatalf("%s: newline only on a terminal", tc.recipe)
		}
	}

	ios, _, out, _ := iostreams.Test()
	if err := run(ctx, &Options{IO: ios, List: true, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var rs []gen.Recipe
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil || len(rs) != len(gen.Names()) || rs[0].Name != "urlsafe" || rs[0].DefaultSize != 32 {
		t.Fatalf("list json: %v %+v", err, rs)
	}
	ios, _, out, _ = iostreams.Test()
	if err := run(ctx, &Options{IO: ios, List: true}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != len(gen.Names()) || !strings.HasPrefix(out.String(), "urlsafe") {
		t.Fatalf("list piped:\n%s", out.String())
	}
}
