//go:build !keyward_omit_vault

package vault

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzOptionsFromURL: any URL either yields options that name a path and an
// http(s) address (when it has a host), or an error that does not repeat
// the query's values (they could be misplaced credentials).
func FuzzOptionsFromURL(f *testing.F) {
	const fixedText = "vault URL: unknown query parameter (known: mount, kv, auth, auth_mount, namespace, layout, tls)"
	for _, s := range []string{
		"vault:///dharmamind/production",
		"vault:///dharmamind/production?auth=approle",
		"vault://vault.example.com:8200/secret/app?mount=secret&kv=2&namespace=ns1&layout=keys",
		"vault://h/p?tls=false",
		"vault://h/p?tls=skip-verify&auth=kubernetes&auth_mount=k8s",
		"vault:///p?kv=3",
		"vault:///p?token=hunter2hunter2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		o, err := optionsFromURL(u)
		if err != nil {
			// Values of parameters keyward does not know (a misplaced
			// token=, say) are never repeated.
			for k, vs := range u.Query() {
				for _, v := range vs {
					if !urlParams[k] && len(v) >= 4 && !strings.Contains(raw[:strings.Index(raw, "?")+1], v) &&
						strings.Contains(err.Error(), v) && !strings.Contains(k, v) && !strings.Contains(fixedText, v) {
						t.Fatalf("error repeats the value of %q", k)
					}
				}
			}
			return
		}
		if u.Host != "" && !strings.HasPrefix(o.Address, "http://") && !strings.HasPrefix(o.Address, "https://") {
			t.Fatalf("address %q is not http(s)", o.Address)
		}
		if strings.HasPrefix(o.Path, "/") || strings.HasSuffix(o.Path, "/") {
			t.Fatalf("path %q is not trimmed", o.Path)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {" 10 ", 10 * time.Second}, {"0", 0}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
