package policy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward/policy"
	_ "github.com/keyward/keyward/provider/all"
)

// FuzzDerive feeds store URLs (keyward.yaml is untrusted input) and keys to
// every provider's deriver: none may panic, and a document it returns
// names its provider and holds text. Seeds: testdata/fuzz/FuzzDerive and
// the cases below.
func FuzzDerive(f *testing.F) {
	for _, u := range []string{
		"vault:///dharmamind/production", "vault://h:8200/a/b?layout=keys&mount=a&kv=1", "vault:///x?namespace=ns",
		"awssm://dharmamind/production?mode=keys&region=eu-west-1", "awssm://", "awssm://a?mode=nope",
		"gcpsm://projects/dharmamind-prod?names=exact", "gcpsm://123", "gcpsm://projects/",
		"azurekv://dharmamind-vault", "azurekv://a.vault.azure.net?names=exact", "azurekv://",
		"k8s://production/dharmamind", "k8s:///x", "k8s://a/b/c", "local://none.age", "env://", "dotenv://.env",
		"file:///run/secrets", "mem://x", "nosuch://", "%zz",
	} {
		f.Add(u, "JWT_SECRET_KEY", uint8(0), false, "deployment/api")
		f.Add(u, "", uint8(2), true, "")
	}
	f.Fuzz(func(t *testing.T, raw, key string, access uint8, all bool, rollout string) {
		u, err := policy.ParseURL(raw)
		if err != nil {
			return
		}
		r := &policy.Request{URL: u, Access: []policy.Access{policy.Read, policy.Write, policy.Rotate}[access%3], All: all,
			Keys: strings.Split(key, ","), Account: "123456789012", Getenv: func(string) string { return "" }}
		if rollout != "" {
			r.Rollout = []string{rollout}
		}
		doc, err := policy.Derive(context.Background(), r)
		if err != nil {
			return
		}
		if doc.Provider != u.Scheme || doc.Native == "" || doc.Language == "" {
			t.Fatalf("document %+v", doc)
		}
	})
}
