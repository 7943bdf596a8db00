package cmdutil_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/plugin"
)

// TestStoreSchemesComeFromTheMux: the schemes help and hints name are the
// mux's (a newly registered provider appears without any CLI edit) plus
// the plugin-backed ones, sorted and without repeats.
func TestStoreSchemesComeFromTheMux(t *testing.T) {
	var mux keyward.URLMux
	open := keyward.OpenerFunc(func(context.Context, *url.URL) (driver.Store, error) { return nil, nil })
	mux.Register("zzlocal", open)
	mux.Register("vault", open) // a remote provider linked in: listed once
	got := cmdutil.StoreSchemes(&mux)
	want := append([]string{"zzlocal"}, plugin.RemoteSchemes...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("StoreSchemes = %v, want %v", got, want)
	}
	if h := cmdutil.SchemeURLs([]string{"a", "b"}); h != "a://, b://" {
		t.Fatalf("SchemeURLs = %q", h)
	}
	keyward.DefaultURLMux().RegisterForTest(t, "newprovider", open)
	if h := cmdutil.ProvidersHint("write secrets"); !strings.Contains(h, "newprovider://") {
		t.Fatalf("ProvidersHint does not name a scheme just registered: %q", h)
	}
}
