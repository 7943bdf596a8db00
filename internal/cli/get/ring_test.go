package get

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdtest"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
)

func TestNewCmdRing(t *testing.T) {
	for _, tc := range []struct {
		args    string
		wantErr string
	}{
		{args: "JWT --ring --json"},
		{args: "JWT --ring --json --reveal"},
		{args: "JWT --ring"},
		{args: "JWT --ring --reveal", wantErr: "--reveal only makes sense with --json"},
		{args: "JWT --ring --json --version 2", wantErr: "cannot be used together"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, _, err := cmdtest.Parse(NewCmd, tc.args, false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !got.Ring {
				t.Fatalf("err %v, options %+v", err, got)
			}
		})
	}
}

func TestRunRing(t *testing.T) {
	const canary = "KWCANARY-ring-run-value-000000000000"
	ctx := context.Background()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://t", TTL: -1})
	if _, err := s.Put(ctx, "JWT", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	res, err := rotation.Rotate(ctx, s, "JWT", &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe")})
	if err != nil {
		t.Fatal(err)
	}
	for _, reveal := range []bool{false, true} {
		ios, _, out, _ := iostreams.Test()
		err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil }},
			Key: "JWT", JSON: true, Ring: true, Reveal: reveal})
		if err != nil {
			t.Fatal(err)
		}
		var got RingOutput
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("not JSON (%d bytes)", out.Len())
		}
		if got.Layout != "version-meta" || got.Current.ID != "2" || len(got.Previous) != 1 || got.Previous[0].ID != "1" ||
			got.Previous[0].Expires == nil || !got.Previous[0].Expires.Equal(res.PreviousExpires) || got.Previous[0].Length != len(canary) {
			t.Fatalf("ring output: %+v", got)
		}
		if shown := strings.Contains(out.String(), canary); shown != reveal {
			t.Fatalf("reveal=%v but the value shown=%v", reveal, shown)
		}
	}
}

// Without --json, --ring prints a table: the current and previous values'
// versions and expiry, never a value.
func TestRunRingTable(t *testing.T) {
	const canary = "KWCANARY-ring-table-value-00000000000"
	ctx := context.Background()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://t", TTL: -1})
	if _, err := s.Put(ctx, "JWT", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	res, err := rotation.Rotate(ctx, s, "JWT", &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tty := range []bool{true, false} {
		ios, _, out, _ := iostreams.Test()
		ios.SetTTY(false, tty, false)
		if err := run(ctx, &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil }}, Key: "JWT", Ring: true}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		want := 2
		if tty {
			want = 3
			if !strings.HasPrefix(lines[0], "ROLE") {
				t.Errorf("tty: no header: %q", lines[0])
			}
		}
		if len(lines) != want {
			t.Fatalf("tty=%v: %d lines, want %d", tty, len(lines), want)
		}
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "previous") || !strings.Contains(last, res.PreviousExpires.UTC().Format(time.RFC3339)) {
			t.Errorf("tty=%v: previous row %q lacks its RFC 3339 expiry", tty, last)
		}
		if strings.Contains(out.String(), canary) {
			t.Fatal("the table shows a value")
		}
	}
}
