//go:build !keyward_omit_azurekv

package azurekv_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/testing/golden"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/provider/azurekv"
)

// TestPolicy pins the role assignment: Secrets User for read, Secrets
// Officer for write and rotate, scoped to the one vault, with the
// per-secret alternatives when keys are named.
func TestPolicy(t *testing.T) {
	for _, c := range []struct {
		name, url string
		access    policy.Access
		all       bool
		role      string
	}{
		{"read", "azurekv://dharmamind-vault.vault.azure.net", policy.Read, false, azurekv.RoleSecretsUser},
		{"rotate", "azurekv://dharmamind-vault", policy.Rotate, false, azurekv.RoleSecretsOfficer},
		{"all-write", "azurekv://dharmamind-vault.vault.azure.net?names=exact", policy.Write, true, azurekv.RoleSecretsOfficer},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := providertest.Derive(t, c.url, policy.Request{Access: c.access, Keys: []string{"JWT_SECRET_KEY", "DATABASE_URL"}, All: c.all})
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".sh"), doc.Native)
			var back azurekv.Assignments
			providertest.DecodeStrict(t, doc.Document, &back)
			if len(back.Assignments) != 1 || back.Assignments[0].RoleDefinitionName != c.role ||
				!strings.HasSuffix(back.Assignments[0].Scope, "/providers/Microsoft.KeyVault/vaults/dharmamind-vault") {
				t.Fatalf("assignments = %+v", back.Assignments)
			}
			if c.all != (len(back.PerSecret) == 0) {
				t.Fatalf("per-secret alternatives = %+v", back.PerSecret)
			}
			for _, a := range back.PerSecret {
				if !strings.HasPrefix(a.Scope, back.Assignments[0].Scope+"/secrets/") {
					t.Errorf("per-secret scope %s is not inside the vault", a.Scope)
				}
			}
		})
	}
}
