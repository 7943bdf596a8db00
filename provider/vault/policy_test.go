//go:build !keyward_omit_vault

package vault_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/golden"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/provider/vault"
	"github.com/keyward/keyward/rotation"
)

const policyCanary = "vault-policy-canary-value-7f3a9c"

func derive(t *testing.T, raw string, access policy.Access, keys []string, all bool) *policy.Document {
	t.Helper()
	return providertest.Derive(t, raw, policy.Request{Access: access, Keys: keys, All: all}, policyCanary)
}

// TestPolicyEnforced writes the printed policy into the in-process Vault
// (which enforces ACL policies with OpenBao's path rules), binds a token to
// it, and runs get, set and rotate through the real provider: exactly the
// verbs of the access level work; the others, and every other environment,
// are refused.
func TestPolicyEnforced(t *testing.T) {
	for _, layout := range []string{vault.LayoutBundle, vault.LayoutKeys} {
		for _, access := range []policy.Access{policy.Read, policy.Write, policy.Rotate} {
			t.Run(layout+"/"+string(access), func(t *testing.T) {
				ctx := context.Background()
				srv := vaultserver.New(nil)
				defer srv.Close()
				srv.Mount("", "dharmamind", 2)
				seed := func(env string) {
					if layout == vault.LayoutBundle {
						if _, err := srv.PutKV("", "dharmamind", env, map[string]any{"JWT_SECRET_KEY": policyCanary, "DATABASE_URL": policyCanary}); err != nil {
							t.Fatal(err)
						}
						return
					}
					for _, k := range []string{"JWT_SECRET_KEY", "DATABASE_URL"} {
						if _, err := srv.PutKV("", "dharmamind", env+"/"+k, map[string]any{"value": policyCanary}); err != nil {
							t.Fatal(err)
						}
					}
				}
				seed("production")
				seed("staging")
				q := ""
				if layout == vault.LayoutKeys {
					q = "?layout=keys"
				}
				doc := derive(t, "vault:///dharmamind/production"+q, access, []string{"JWT_SECRET_KEY", "DATABASE_URL"}, false)
				if err := srv.AddPolicy("keyward-production", doc.Native); err != nil {
					t.Fatalf("Vault refused the printed policy: %v\n%s", err, doc.Native)
				}
				srv.AddToken(vaultserver.Token{ID: "prod-token", Policies: []string{"default", "keyward-production"}})
				open := func(path string) *keyward.Store {
					d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: "prod-token", Path: path, Layout: layout, Getenv: noEnv})
					if err != nil {
						t.Fatal(err)
					}
					s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1})
					t.Cleanup(func() { s.Close() })
					return s
				}
				prod := open("dharmamind/production")
				if _, err := prod.Get(ctx, "JWT_SECRET_KEY"); err != nil {
					t.Fatalf("get with the %s policy: %v", access, err)
				}
				_, err := prod.Put(ctx, "DATABASE_URL", keyward.NewSecret([]byte("postgresql://new")), nil)
				if want := access.AtLeast(policy.Write); (err == nil) != want {
					t.Fatalf("set with the %s policy: err = %v, want allowed=%v", access, err, want)
				} else if err != nil && keyward.ErrorCode(err) != keyward.PermissionDenied {
					t.Fatalf("set refused with %v, want permission denied", err)
				}
				_, err = rotation.Rotate(ctx, prod, "JWT_SECRET_KEY", &rotation.Options{NewValue: rotation.Generator("urlsafe")})
				// In the bundle layout rotation writes fields of the same
				// secret, so write access already allows it.
				want := access == policy.Rotate || layout == vault.LayoutBundle && access == policy.Write
				if (err == nil) != want {
					t.Fatalf("rotate with the %s policy: err = %v, want allowed=%v\n%s", access, err, want, doc.Native)
				}
				if err != nil && keyward.ErrorCode(err) != keyward.PermissionDenied {
					t.Fatalf("rotate refused with %v, want permission denied", err)
				}
				if _, err := prod.Get(ctx, "JWT_SECRET_KEY"); err != nil {
					t.Fatalf("get after rotate: %v", err)
				}
				staging := open("dharmamind/staging")
				if _, err := staging.Get(ctx, "JWT_SECRET_KEY"); keyward.ErrorCode(err) != keyward.PermissionDenied {
					t.Fatalf("staging get with the production policy: err = %v, want permission denied", err)
				}
			})
		}
	}
}

// TestPolicyAll: --all in the keys layout grants the folder by glob and
// listing, and lets list see the keys, but not the sibling environment.
func TestPolicyAll(t *testing.T) {
	ctx := context.Background()
	srv := vaultserver.New(nil)
	defer srv.Close()
	srv.Mount("", "dharmamind", 2)
	for _, p := range []string{"production/A", "production/B", "production-old/A", "staging/A"} {
		if _, err := srv.PutKV("", "dharmamind", p, map[string]any{"value": policyCanary}); err != nil {
			t.Fatal(err)
		}
	}
	doc := derive(t, "vault:///production?layout=keys&mount=dharmamind&kv=2", policy.Read, nil, true)
	if strings.Contains(doc.Native, "sys/internal/ui/mounts") {
		t.Fatalf("mount and kv are pinned, yet the policy grants mount detection:\n%s", doc.Native)
	}
	if err := srv.AddPolicy("p", doc.Native); err != nil {
		t.Fatal(err)
	}
	srv.AddToken(vaultserver.Token{ID: "t", Policies: []string{"default", "p"}})
	for path, ok := range map[string]bool{"production": true, "production-old": false, "staging": false} {
		d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: "t", Path: path, Mount: "dharmamind", KVVersion: 2, Layout: vault.LayoutKeys, Getenv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1})
		keys, err := s.List(ctx)
		if ok && (err != nil || len(keys) != 2) {
			t.Errorf("%s: list = %v, %v; want A and B", path, keys, err)
		}
		if !ok && keyward.ErrorCode(err) != keyward.PermissionDenied {
			t.Errorf("%s: list err = %v, want permission denied", path, err)
		}
		_, err = s.Get(ctx, "A")
		if ok != (err == nil) {
			t.Errorf("%s: get err = %v, want allowed=%v", path, err, ok)
		}
		s.Close()
	}
}

// TestPolicyGolden pins the printed documents (go test -update rewrites them).
func TestPolicyGolden(t *testing.T) {
	for _, c := range []struct {
		name, url string
		access    policy.Access
		all       bool
	}{
		{"bundle-read", "vault:///dharmamind/production", policy.Read, false},
		{"bundle-rotate", "vault:///dharmamind/production", policy.Rotate, false},
		{"keys-rotate", "vault://vault.example.com/dharmamind/production?layout=keys", policy.Rotate, false},
		{"keys-all-read", "vault:///production?layout=keys&mount=dharmamind", policy.Read, true},
		{"kv1-write", "vault:///dharmamind/production?mount=secret&kv=1", policy.Write, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := derive(t, c.url, c.access, []string{"JWT_SECRET_KEY", "DATABASE_URL"}, c.all)
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".hcl"), doc.Native)
			if _, err := vaultserver.ParsePolicy(doc.Native); err != nil {
				t.Fatalf("the printed policy does not parse: %v", err)
			}
		})
	}
}

// TestPolicyRefusesWildcardPath: the store URL may come from keyward.yaml
// (untrusted); a path or mount= holding a Vault policy wildcard or template
// would make the printed policy grant more than the one store, so none is
// derived.
func TestPolicyRefusesWildcardPath(t *testing.T) {
	for _, raw := range []string{
		"vault://vault.example.com/dharmamind/*",
		"vault://vault.example.com/dharmamind/+/production",
		"vault://vault.example.com/dharmamind/{{identity.entity.id}}?layout=keys",
		"vault://vault.example.com/production?mount=*",
	} {
		u, err := policy.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := policy.Derive(context.Background(), &policy.Request{URL: u, Access: policy.Read, Keys: []string{"JWT_SECRET_KEY"}})
		if err == nil {
			t.Errorf("%s: derived a policy:\n%s", raw, doc.Native)
			continue
		}
		if keyward.ErrorCode(err) != keyward.InvalidArgument {
			t.Errorf("%s: code %v, want InvalidArgument", raw, keyward.ErrorCode(err))
		}
	}
}
