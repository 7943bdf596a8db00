//go:build !keyward_omit_vault

package vault

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzOptionsFromURL: any URL either yields options that name a path and an
// http(s) address (when it has a host), or an error that does not depend on
// the query's values beyond their validity (they could be misplaced
// credentials, so no part of them is ever repeated).
//
// The oracle replaces every query value by another of the same validity
// class (see stand-in) and requires the very same error text. (It used to
// look for each value inside the message, which flagged values such as
// "open" or "failed" that the message's own words contain.)
func FuzzOptionsFromURL(f *testing.F) {
	for _, s := range []string{
		"vault:///dharmamind/production",
		"vault:///dharmamind/production?auth=approle",
		"vault://vault.example.com:8200/secret/app?mount=secret&kv=2&namespace=ns1&layout=keys",
		"vault://h/p?tls=false",
		"vault://h/p?tls=skip-verify&auth=kubernetes&auth_mount=k8s",
		"vault:///p?kv=3",
		"vault:///p?token=hunter2hunter2",
		"vault:///p?x=open",
		"vault://h/p?kv=failed&tls=invalid",
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
			q := u.Query()
			alt := url.Values{}
			for k, vs := range q {
				for _, v := range vs {
					alt.Add(k, standIn(k, v))
				}
			}
			u2 := *u
			u2.RawQuery = alt.Encode()
			_, err2 := optionsFromURL(&u2)
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("the error depends on a query value: %q vs %q with stand-ins", err, err2)
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

// standIn is a value that optionsFromURL treats as it treats v (valid or
// not, and for tls the same setting) but that shares nothing with it.
func standIn(k, v string) string {
	if v == "" {
		return ""
	}
	switch k {
	case "kv":
		if n, err := strconv.Atoi(v); err == nil && (n == 1 || n == 2) {
			return strconv.Itoa(n)
		}
		return "\x01stand-in"
	case "tls":
		switch strings.ToLower(v) {
		case "", "true", "on", "1":
			return "true"
		case "false", "off", "0":
			return "false"
		case "skip-verify", "insecure":
			return "skip-verify"
		}
		return "\x01stand-in"
	}
	return "\x01stand-in"
}
