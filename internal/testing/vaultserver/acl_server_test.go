package vaultserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/api/auth/approle"

	"github.com/keyward/keyward/internal/testing/vaultserver"
)

// TestACLEnforced drives the ACL through the official client: read, list
// (with Vault's trailing slash), create versus update by existence, deny,
// mount detection from access inside the mount, the default policy's
// lookup-self, and an AppRole whose tokens carry the policy.
func TestACLEnforced(t *testing.T) {
	s := vaultserver.New(nil)
	defer s.Close()
	s.Mount("", "dharmamind", 2)
	if _, err := s.PutKV("", "dharmamind", "production", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutKV("", "dharmamind", "staging", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	err := s.AddPolicy("app", `
path "dharmamind/data/production" { capabilities = ["read", "update"] }
path "dharmamind/data/new" { capabilities = ["create"] }
path "dharmamind/metadata/" { capabilities = ["list"] }
path "dharmamind/data/+" { capabilities = ["read"] }
path "dharmamind/data/staging" { capabilities = ["deny"] }
`)
	if err != nil {
		t.Fatal(err)
	}
	s.AddToken(vaultserver.Token{ID: "app-token", Policies: []string{"default", "app"}})
	c := client(t, s, "app-token")
	ctx := context.Background()
	l := c.Logical()

	if _, err := l.ReadWithContext(ctx, "dharmamind/data/production"); err != nil {
		t.Fatalf("read production: %v", err)
	}
	if _, err := l.ReadWithContext(ctx, "dharmamind/data/staging"); status(err) != 403 {
		t.Fatalf("read staging (deny): %v, want 403", err)
	}
	if _, err := l.ReadWithContext(ctx, "dharmamind/data/other"); err != nil {
		t.Fatalf("read other via +: %v", err)
	}
	if _, err := l.ListWithContext(ctx, "dharmamind/metadata"); err != nil {
		t.Fatalf("list (the path gets a trailing slash): %v", err)
	}
	if _, err := l.ListWithContext(ctx, "dharmamind/metadata/production"); status(err) != 403 {
		t.Fatalf("list elsewhere: %v, want 403", err)
	}
	body := map[string]any{"data": map[string]any{"k": "w"}}
	if _, err := l.WriteWithContext(ctx, "dharmamind/data/production", body); err != nil {
		t.Fatalf("update an existing secret with update: %v", err)
	}
	if _, err := l.WriteWithContext(ctx, "dharmamind/data/new", body); err != nil {
		t.Fatalf("create a new secret with create: %v", err)
	}
	if _, err := l.WriteWithContext(ctx, "dharmamind/data/new", body); status(err) != 403 {
		t.Fatalf("update with create only: %v, want 403", err)
	}
	if _, err := l.DeleteWithContext(ctx, "dharmamind/metadata/production"); status(err) != 403 {
		t.Fatalf("delete: %v, want 403", err)
	}
	if sec, err := l.ReadWithContext(ctx, "sys/internal/ui/mounts/dharmamind/production"); err != nil || sec.Data["path"] != "dharmamind/" {
		t.Fatalf("mount detection: %v %v", sec, err)
	}
	if _, err := l.ReadWithContext(ctx, "sys/internal/ui/mounts/secret/x"); status(err) != 403 {
		t.Fatalf("mount detection on a mount without access: %v, want 403", err)
	}
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		t.Fatalf("lookup-self (default policy): %v", err)
	}

	s.AddAppRole(vaultserver.AppRole{RoleID: "r", SecretID: "s", TokenTTL: time.Hour, Policies: []string{"app"}})
	c2 := client(t, s, "")
	auth, _ := approle.NewAppRoleAuth("r", &approle.SecretID{FromString: "s"})
	if _, err := c2.Auth().Login(ctx, auth); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Logical().ReadWithContext(ctx, "dharmamind/data/staging"); status(err) != 403 {
		t.Fatalf("approle token reads staging: %v, want 403", err)
	}
	if _, err := c2.Logical().ReadWithContext(ctx, "dharmamind/data/production"); err != nil {
		t.Fatalf("approle token reads production: %v", err)
	}
}
