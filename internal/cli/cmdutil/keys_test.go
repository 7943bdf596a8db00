package cmdutil_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/provider/mem"
)

// getOnly is a store that can read but not list (like env:// without a
// keyward.yaml).
type getOnly struct{ d driver.Store }

func (g getOnly) Get(ctx context.Context, k, v string) (*driver.Value, error) {
	return g.d.Get(ctx, k, v)
}
func (g getOnly) ErrorCode(err error) keyward.Code { return g.d.ErrorCode(err) }
func (g getOnly) Close() error                     { return nil }

func hints(err error) []string {
	var he *cmdutil.HintError
	var out []string
	for e := err; errors.As(e, &he); e = he.Err {
		out = append(out, he.Hints...)
	}
	return out
}

func TestSelectKeys(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{URL: "mem://keys"})
	for _, k := range []string{"B", "A", "C"} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString("canary-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	noList := keyward.NewStore(getOnly{b.Driver()}, &keyward.StoreOptions{URL: "nolist://"})
	for _, tc := range []struct {
		name     string
		store    *keyward.Store
		only     []string
		want     []string
		named    bool
		code     keyward.Code
		wantHint string
	}{
		{name: "every listed key", store: s, want: []string{"A", "B", "C"}},
		{name: "--only in the order given, without repeats", store: s, only: []string{"C", "A", "C"}, want: []string{"C", "A"}, named: true},
		{name: "--only names keys the store need not hold", store: s, only: []string{"NOPE"}, want: []string{"NOPE"}, named: true},
		{name: "a store that cannot list, with --only", store: noList, only: []string{"A"}, want: []string{"A"}, named: true},
		{name: "a store that cannot list, without --only", store: noList, code: keyward.Unimplemented, wantHint: "name them with --only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, named, err := cmdutil.SelectKeys(ctx, tc.store, tc.only)
			if tc.code != keyward.OK {
				if keyward.ErrorCode(err) != tc.code {
					t.Fatalf("err = %v, want code %v", err, tc.code)
				}
				if h := hints(err); len(h) != 1 || !strings.Contains(h[0], tc.wantHint) {
					t.Fatalf("hints = %q, want one containing %q", h, tc.wantHint)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) || named != tc.named {
				t.Fatalf("SelectKeys = %v, %v, %v; want %v, %v", got, named, err, tc.want, tc.named)
			}
		})
	}
}

func TestReadKeys(t *testing.T) {
	ctx := context.Background()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://read"})
	for _, k := range []string{"A", "B"} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString("canary-value-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	keys, vals, err := cmdutil.ReadKeys(ctx, s, nil)
	if err != nil || !slices.Equal(keys, []string{"A", "B"}) || vals["B"] == nil || vals["B"].Secret.RevealString() != "canary-value-B" {
		t.Fatalf("ReadKeys(all) = %v, %d values, %v", keys, len(vals), err)
	}
	keys, vals, err = cmdutil.ReadKeys(ctx, s, []string{"B", "B"})
	if err != nil || !slices.Equal(keys, []string{"B"}) || len(vals) != 1 {
		t.Fatalf("ReadKeys(--only B,B) = %v, %d values, %v", keys, len(vals), err)
	}
	// A missing key fails the whole read, with the hint to list the keys,
	// and never a value in the message.
	_, _, err = cmdutil.ReadKeys(ctx, s, []string{"A", "MISSING"})
	if keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatalf("ReadKeys(--only A,MISSING): err = %v, want NotFound", err)
	}
	if h := hints(err); len(h) != 1 || !strings.Contains(h[0], "'keyward list'") {
		t.Fatalf("hints = %q, want the 'keyward list' hint", h)
	}
	if strings.Contains(err.Error(), "canary-value") {
		t.Fatal("the error carries a stored value")
	}
}

func TestMissingKeysHint(t *testing.T) {
	nf := keyward.Errorf(keyward.NotFound, "get", "no such key")
	other := keyward.Errorf(keyward.Unavailable, "get", "down")
	for _, tc := range []struct {
		name string
		err  error
		hint bool
	}{
		{"nil stays nil", nil, false},
		{"not found", nf, true},
		{"only not-found errors", keyward.MultiError{nf, nf}, true},
		{"another error first, then not found", keyward.MultiError{other, nf}, false},
		{"another code", other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cmdutil.MissingKeysHint(tc.err)
			if tc.err == nil {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			if has := len(hints(got)) > 0; has != tc.hint {
				t.Fatalf("hint added = %v, want %v", has, tc.hint)
			}
			if !errors.Is(got, tc.err) && keyward.ErrorCode(got) != keyward.ErrorCode(tc.err) {
				t.Fatalf("the error changed: %v", got)
			}
		})
	}
}

func TestCleanOnly(t *testing.T) {
	only := []string{" A", "B ", "C"}
	if err := cmdutil.CleanOnly(only); err != nil || !slices.Equal(only, []string{"A", "B", "C"}) {
		t.Fatalf("CleanOnly = %v, %q", err, only)
	}
	for _, bad := range [][]string{{"A", ""}, {" "}} {
		err := cmdutil.CleanOnly(bad)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(fmt.Sprint(err), "empty key name") {
			t.Fatalf("CleanOnly(%q) = %v, want the usage error", bad, err)
		}
	}
	if err := cmdutil.CleanOnly(nil); err != nil {
		t.Fatal(err)
	}
}

func TestParseLabels(t *testing.T) {
	got, err := cmdutil.ParseLabels([]string{"app=web", "tier=", "app=api"})
	if err != nil || len(got) != 2 || got["app"] != "api" || got["tier"] != "" {
		t.Fatalf("ParseLabels = %v, %v", got, err)
	}
	if got, err := cmdutil.ParseLabels(nil); got != nil || err != nil {
		t.Fatalf("ParseLabels(nil) = %v, %v; want nil, nil", got, err)
	}
	for _, bad := range []string{"novalue", "=v"} {
		if _, err := cmdutil.ParseLabels([]string{bad}); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Fatalf("ParseLabels(%q) = %v, want a usage error", bad, err)
		}
	}
}
