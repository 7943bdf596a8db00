package keyward_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestSecurityRefsAllowMatch: an allow entry covers a store URL only on a
// path boundary, with the same scheme, every parameter it names, and every
// sensitive parameter of the URL named in it.
func TestSecurityRefsAllowMatch(t *testing.T) {
	for _, tc := range []struct {
		entry, url string
		want       bool
	}{
		{"vault://vault.example.com", "vault://vault.example.com/app/prod", true},
		{"vault://vault.example.com", "vault://VAULT.example.com/app", true},
		{"vault://vault.example.com", "vault://vault.example.com", true},
		{"vault://vault.example.com", "vault://vault.example.com.evil.test/app", false},
		{"vault://vault.example.com", "vault://vault.example.com:8201/app", false},
		{"vault://vault.example.com", "vault://vault.example.com/app?tls=false", false},
		{"vault://vault.example.com", "vault://vault.example.com/app?tls=skip-verify", false},
		{"vault://vault.example.com", "vault://vault.example.com/app?tls=true", true},
		{"vault://vault.example.com?tls=false", "vault://vault.example.com/app?tls=false", true},
		{"vault://vault.example.com/app", "vault://vault.example.com/apple", false},
		{"vault://vault.example.com/app", "vault://vault.example.com/app/x", true},
		{"vault://", "vault:///dharmamind/production", true},
		{"vault://", "vault://attacker.test/dharmamind/production", false},
		{"vault://", "awssm://x", false},
		{"awssm://", "awssm://dharmamind/production?region=eu-west-1", true},
		{"awssm://", "awssm://dharmamind/production?endpoint=http://attacker.test", false},
		{"awssm://dharmamind/", "awssm://dharmamind/production", true},
		{"awssm://dharmamind/", "awssm://dharmamindx/production", false},
		{"awssm://?region=eu-west-1", "awssm://p?region=us-east-1", false},
		{"gcpsm://", "gcpsm://proj?endpoint=attacker.test:443", false},
		{"azurekv://", "azurekv://v?endpoint=https://attacker.test", false},
		{"k8s://", "k8s://ns/name?kubeconfig=./evil", false},
		{"k8s://", "k8s://ns/name?context=prod", true},
		{"local://shared.age", "local://shared.age?identity=/home/u/.ssh/id", false},
		{"local://shared.age?identity=/home/u/k", "local://shared.age?identity=/home/u/k", true},
		{"local://shared.age?identity=/home/u/k", "local://shared.age?identity=/home/u/other", false},
		{"env://", "env://", true},
		{"env://", "env://?prefix=APP_", true},
		{"file:///run/secrets", "file:///run/secrets", true},
		{"file:///run/secrets", "file:///run/secrets-evil", false},
		{"dotenv://other.env", "dotenv://other.env", true},
		{"keyward://", "keyward://staging", true},
		{"keyward://staging", "keyward://production", false},
		{"nonsense", "vault:///x", false},
	} {
		if got := keyward.AllowMatch(tc.entry, tc.url); got != tc.want {
			t.Errorf("AllowMatch(%q, %q) = %v, want %v", tc.entry, tc.url, got, tc.want)
		}
	}
}

// TestSecurityRefsFromDataNeedAllow: a reference from a stored value or a
// template names only the store being read or an allowed store; env://
// and file:// need an explicit entry even when they are the store being read.
func TestSecurityRefsFromDataNeedAllow(t *testing.T) {
	p := &keyward.TrustPolicy{Own: "local://keyward.age", VaultAddr: "https://vault.example.com:8200"}
	for _, tc := range []struct {
		url   string
		allow []string
		own   string
		ok    bool
		msg   string
	}{
		{url: "local://keyward.age", ok: true},
		{url: "local://keyward.age?identity=/home/u/.ssh/id", msg: "sets identity="},
		{url: "local://other.age?token=kwcanary-in-query", msg: "sets token="},
		{url: "local://other.age", msg: "name only the store being read"},
		{url: "dotenv://../../.aws/credentials", msg: "name only the store being read"},
		{url: "env://", msg: "never reads your environment or files"},
		{url: "env://", own: "env://", msg: "never reads your environment or files"},
		{url: "file:///home/u/.ssh", msg: "never reads your environment or files"},
		{url: "env://", allow: []string{"env://"}, ok: true},
		{url: "vault://attacker.test/x?tls=false", msg: "Vault server other than the one you configured"},
		{url: "vault://attacker.test/x", allow: []string{"vault://"}, msg: "Vault server other than the one you configured"},
		{url: "vault://vault.example.com:8200/x", allow: []string{"vault://"}, ok: true},
		{url: "vault://vault.example.com:8200/x?tls=false", allow: []string{"vault://"}, msg: "Vault server other than"},
		{url: "vault:///x", allow: []string{"vault://"}, ok: true},
		{url: "vault:///x", msg: "name only the store being read"},
		{url: "vault://attacker.test/x", allow: []string{"vault://attacker.test"}, ok: true},
		{url: "awssm://p?endpoint=https://attacker.test", allow: []string{"awssm://"}, msg: "sets endpoint="},
	} {
		q := *p
		q.Allow = tc.allow
		if tc.own != "" {
			q.Own = tc.own
		}
		err := q.CheckURL(tc.url, keyward.OriginData)
		if tc.ok {
			if err != nil {
				t.Errorf("%s (allow %v): %v", tc.url, tc.allow, err)
			}
			continue
		}
		var te *keyward.TrustError
		if !errors.As(err, &te) {
			t.Errorf("%s (allow %v): err = %v, want a refusal", tc.url, tc.allow, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(te.Hint, "--allow-ref") {
			t.Errorf("%s: refusal %q (hint %q) lacks %q", tc.url, err, te.Hint, tc.msg)
		}
		if keyward.ErrorCode(err) != keyward.PermissionDenied {
			t.Errorf("%s: code %v, want PermissionDenied", tc.url, keyward.ErrorCode(err))
		}
		if strings.Contains(err.Error(), "?") || strings.Contains(te.Hint, "/home/u/.ssh/id") || strings.Contains(te.Hint, "kwcanary") {
			t.Errorf("%s: refusal repeats a query value: %q (hint %q)", tc.url, err, te.Hint)
		}
	}
}

// TestSecurityRefsProjectURLs: a keyward.yaml store URL is opened unless it
// would send the Vault token off VAULT_ADDR or sets an endpoint,
// credential file or tls parameter the user has not allowed.
func TestSecurityRefsProjectURLs(t *testing.T) {
	for _, tc := range []struct {
		url, vaultAddr string
		allow          []string
		ok             bool
	}{
		{url: "local://keyward.age", ok: true},
		{url: "local://keyward.age?identity=/run/secrets/id", ok: true},
		{url: "dotenv://.env", ok: true},
		{url: "vault:///dharmamind/production", vaultAddr: "https://vault.example.com", ok: true},
		{url: "vault://vault.example.com/dharmamind/production", vaultAddr: "https://vault.example.com", ok: true},
		{url: "vault://VAULT.example.com/p", vaultAddr: "https://vault.example.com/", ok: true},
		{url: "vault://vault.example.com/p?tls=false", vaultAddr: "https://vault.example.com"},
		{url: "vault://127.0.0.1:8200/p?tls=false", vaultAddr: "http://127.0.0.1:8200", ok: true},
		{url: "vault://attacker.test/p", vaultAddr: "https://vault.example.com"},
		{url: "vault://attacker.test/p"},
		{url: "vault://attacker.test/p", allow: []string{"vault://attacker.test"}, ok: true},
		{url: "vault://attacker.test/p", allow: []string{"vault://"}},
		{url: "vault://vault.example.com/p?tls=skip-verify", vaultAddr: "https://vault.example.com"},
		{url: "awssm://p?region=eu-west-1", ok: true},
		{url: "awssm://p?endpoint=http://attacker.test"},
		{url: "gcpsm://p?endpoint=attacker.test:443"},
		{url: "azurekv://v?endpoint=https://attacker.test"},
		{url: "k8s://ns/name?kubeconfig=./kubeconfig"},
		{url: "k8s://ns/name?kubeconfig=./kubeconfig", allow: []string{"k8s://ns?kubeconfig=./kubeconfig"}, ok: true},
	} {
		p := &keyward.TrustPolicy{VaultAddr: tc.vaultAddr, Allow: tc.allow}
		err := p.CheckURL(tc.url, keyward.OriginProject)
		if tc.ok != (err == nil) {
			t.Errorf("%s (VAULT_ADDR %q, allow %v): err = %v, want ok=%v", tc.url, tc.vaultAddr, tc.allow, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "from keyward.yaml") {
			t.Errorf("%s: refusal %q does not say where the URL came from", tc.url, err)
		}
		if err := p.CheckURL(tc.url, keyward.OriginUser); err != nil {
			t.Errorf("%s from the user: %v", tc.url, err)
		}
	}
}

// TestSecurityRefsResolverCheck: Resolve consults Check before opening any
// store; ResolveTrusted (the user's own references) does not.
func TestSecurityRefsResolverCheck(t *testing.T) {
	opened := 0
	r := &keyward.Resolver{
		Open: func(ctxArg contextT, url string) (*keyward.Store, error) {
			opened++
			return nil, keyward.Errorf(keyward.NotFound, "open", "test store")
		},
		Check: func(ref *keyward.Ref) error {
			return (&keyward.TrustPolicy{}).CheckRef(ref)
		},
	}
	_, err := r.Resolve(bg(), "ref+vault://attacker.test/x?tls=false#/K")
	if keyward.ErrorCode(err) != keyward.PermissionDenied || opened != 0 {
		t.Fatalf("Resolve: err %v, %d stores opened; want a refusal before opening", err, opened)
	}
	_, err = r.Resolve(bg(), "keyward://production/K")
	if keyward.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), "environment production") {
		t.Fatalf("Resolve keyward://: err %v", err)
	}
	if _, err := r.ResolveTrusted(bg(), "ref+vault://vault.example.com/x#/K"); keyward.ErrorCode(err) != keyward.NotFound || opened != 1 {
		t.Fatalf("ResolveTrusted: err %v, %d opened", err, opened)
	}
}

type contextT = context.Context

func bg() context.Context { return context.Background() }

// FuzzTrustCheckURL: with no allow entries and no store being read, no
// reference from data is ever allowed; a keyward.yaml URL that is allowed
// never names a Vault server other than VAULT_ADDR; and a refusal's text
// and hint do not depend on any query value (they could be misplaced
// credentials): replacing every value by a stand-in of the same class
// gives the same refusal.
func FuzzTrustCheckURL(f *testing.F) {
	for _, s := range []string{
		"vault://attacker.test/p?tls=false", "vault:///p", "vault://vault.example.com/p?tls=skip-verify",
		"env://", "file:///home/u/.ssh", "local://keyward.age?identity=/x", "awssm://p?endpoint=http://x",
		"k8s://ns/n?kubeconfig=./k", "dotenv://.env?token=hunter2hunter2", "keyward.age", "gcpsm://p?names=exact",
	} {
		f.Add(s)
	}
	p := &keyward.TrustPolicy{VaultAddr: "https://vault.example.com"}
	f.Fuzz(func(t *testing.T, raw string) {
		errData := p.CheckURL(raw, keyward.OriginData)
		if errData == nil {
			t.Fatalf("a reference from data was allowed with an empty policy")
		}
		errProj := p.CheckURL(raw, keyward.OriginProject)
		u, perr := keyward.ParseStoreURL(raw)
		if perr != nil {
			return
		}
		if errProj == nil && strings.EqualFold(u.Scheme, "vault") && u.Host != "" && !strings.EqualFold(u.Host, "vault.example.com") {
			t.Fatalf("keyward.yaml URL naming another Vault server was allowed")
		}
		q := u.Query()
		alt := url.Values{}
		for k, vs := range q {
			for _, v := range vs {
				alt.Add(k, trustStandIn(k, v))
			}
		}
		u2 := *u
		u2.RawQuery = alt.Encode()
		if !strings.Contains(u.String(), "://") || !strings.Contains(u2.String(), "://") {
			return // an opaque URL does not render back as one (A:?://0)
		}
		for _, o := range []keyward.URLOrigin{keyward.OriginData, keyward.OriginProject} {
			e1, e2 := p.CheckURL(u.String(), o), p.CheckURL(u2.String(), o)
			if (e1 == nil) != (e2 == nil) || (e1 != nil && e1.Error() != e2.Error()) {
				t.Fatalf("origin %d: the refusal depends on a query value: %v vs %v", o, e1, e2)
			}
			var t1, t2 *keyward.TrustError
			if errors.As(e1, &t1) && errors.As(e2, &t2) && t1.Hint != t2.Hint {
				t.Fatalf("origin %d: the hint depends on a query value: %q vs %q", o, t1.Hint, t2.Hint)
			}
		}
	})
}

func trustStandIn(k, v string) string {
	if k == "tls" {
		switch strings.ToLower(v) {
		case "", "true", "on", "1":
			return "true"
		case "false", "off", "0":
			return "false"
		}
	}
	if v == "" {
		return ""
	}
	return "stand-in"
}
