package all_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	_ "github.com/keyward/keyward/provider/all"
)

// TestSecurityNoValueInURLErrors: a malformed store URL, or one with a bad
// query value, gives an error that repeats no part of its user info, no
// query value and no nested endpoint= URL. Every provider's URL parser is
// driven through the default mux; the canary sits where a misplaced
// credential would.
func TestSecurityNoValueInURLErrors(t *testing.T) {
	const c = "kwcanary7f3a"
	for _, raw := range []string{
		// url.Parse failures quoting the part they stumbled on
		"vault://user:" + c + "@host:port" + c + "/p",
		"vault://" + c + " host/p",
		"vault://host/p?x=%zz" + c,
		"awssm://[" + c + "/p",
		"vault://us er:" + c + "@host/p",
		"local://" + c + "\x7f.age",
		// bad values of store-level and provider parameters
		"vault:///p?retries=" + c,
		"vault:///p?timeout=" + c,
		"vault:///p?cache_ttl=" + c,
		"vault:///p?kv=" + c,
		"vault://h/p?tls=" + c,
		"vault:///p?layout=" + c,
		"vault:///p?auth=" + c,
		"awssm://p?force_delete=" + c,
		"awssm://p?recovery_window_days=" + c,
		"awssm://p?mode=" + c,
		"awssm://p?endpoint=" + c + "%00bad",
		"awssm://p?endpoint=https://user:" + c + "@h%zz",
		"gcpsm://p?names=" + c,
		"gcpsm://p?endpoint=https://user:" + c + "@host:443",
		"gcpsm://p?endpoint=http://" + c + ".test:443",
		"gcpsm://p?endpoint=ftp://h:1/" + c,
		"azurekv://v?names=" + c,
		"dotenv://x.env?interpolate=" + c,
		"file:///tmp?trim=" + c,
		// nested URLs in a store URL that does open are shown without user info
		"awssm://p?endpoint=https://user:" + c + "@127.0.0.1:1&timeout=x",
	} {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := keyward.DefaultURLMux().OpenStore(ctx, raw, nil)
		cancel()
		if err == nil {
			_ = s.Close()
			continue
		}
		if strings.Contains(err.Error(), c) {
			t.Errorf("opening a URL with the canary in %s: the error repeats it: %s",
				where(raw, c), strings.ReplaceAll(err.Error(), c, "[CANARY]"))
		}
	}
}

func where(raw, c string) string {
	i := strings.Index(raw, c)
	return strings.ReplaceAll(raw[:i], c, "")
}

// TestSecurityRedactURLNested: RedactURL (the store URL errors carry) drops
// user info from URLs nested in query values.
func TestSecurityRedactURLNested(t *testing.T) {
	u, err := keyward.ParseStoreURL("awssm://p?endpoint=https://user:kwcanary@h:1/x?q=kwcanary2&region=eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	got := keyward.RedactURL(u)
	if strings.Contains(got, "kwcanary") || !strings.Contains(got, "h%3A1") || !strings.Contains(got, "region=eu-west-1") {
		t.Fatalf("RedactURL = %s", strings.ReplaceAll(got, "kwcanary", "[CANARY]"))
	}
}
