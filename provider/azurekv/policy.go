//go:build !keyward_omit_azurekv

package azurekv

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cloudsm"
	kwpolicy "github.com/keyward/keyward/policy"
)

func init() { kwpolicy.Register(Scheme, Policy) }

// Azure RBAC built-in data-plane roles for Key Vault secrets.
const (
	RoleSecretsUser      = "Key Vault Secrets User" // get and list secrets (values, metadata)
	RoleSecretsUserID    = "4633458b-17de-408a-b874-0445c86b69e6"
	RoleSecretsOfficer   = "Key Vault Secrets Officer" // plus set, update, delete (not purge)
	RoleSecretsOfficerID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
)

// Assignment is one Azure role assignment.
type Assignment struct {
	RoleDefinitionName string `json:"roleDefinitionName"`
	RoleDefinitionID   string `json:"roleDefinitionId"`
	Scope              string `json:"scope"`
	PrincipalID        string `json:"principalId"`
}

// Assignments is the --format json document.
type Assignments struct {
	Assignments []Assignment `json:"assignments"`
	// PerSecret are the narrower alternatives, scoped to each secret.
	PerSecret []Assignment `json:"perSecret,omitempty"`
}

// Policy derives the Key Vault data-plane role assignment keyward needs:
// Key Vault Secrets User for read (GetSecret, and list for --all); Key
// Vault Secrets Officer for write and rotate (SetSecret; rotation also
// disables a retired version with UpdateSecretProperties), scoped to the
// vault. Per-secret scope is printed as the narrower alternative when keys
// are named.
func Policy(_ context.Context, r *kwpolicy.Request) (*kwpolicy.Document, error) {
	host, exact, err := policyTarget(r)
	if err != nil {
		return nil, err
	}
	vaultName, _, _ := strings.Cut(host, ".")
	role, roleID := RoleSecretsUser, RoleSecretsUserID
	if r.Access.AtLeast(kwpolicy.Write) {
		role, roleID = RoleSecretsOfficer, RoleSecretsOfficerID
	}
	principal := kwpolicy.Or(r.Principal, "PRINCIPAL_OBJECT_ID")
	scope := "/subscriptions/SUBSCRIPTION_ID/resourceGroups/RESOURCE_GROUP/providers/Microsoft.KeyVault/vaults/" + vaultName
	doc := Assignments{Assignments: []Assignment{{RoleDefinitionName: role, RoleDefinitionID: roleID, Scope: scope, PrincipalID: principal}}}
	notes := []string{
		"The vault must use the Azure RBAC permission model (enableRbacAuthorization), not access policies.",
		"Give each environment its own vault: a vault-scoped role reaches every secret in it.",
	}
	if r.Principal == "" {
		notes = append(notes, "Pass --principal OBJECT_ID (the managed identity or service principal) to name the assignee.")
	}
	var secrets []string
	if !r.All {
		for _, k := range r.Keys {
			n := k
			if !exact {
				n = cloudsm.GuideName(k)
			}
			secrets = append(secrets, n)
			if r.Access == kwpolicy.Rotate {
				rn := k + driver.SuffixRotation
				if !exact {
					rn = cloudsm.GuideName(rn)
				}
				secrets = append(secrets, rn)
			}
		}
		for _, s := range secrets {
			doc.PerSecret = append(doc.PerSecret, Assignment{RoleDefinitionName: role, RoleDefinitionID: roleID, Scope: scope + "/secrets/" + s, PrincipalID: principal})
		}
		notes = append(notes, "Per-secret scope is possible (the commented commands below) when the secrets exist; Azure advises a vault per environment instead, and listing needs the vault scope.")
	}
	if r.Access.AtLeast(kwpolicy.Write) {
		notes = append(notes, "Secrets Officer also allows delete (soft delete; never purge): Azure has no built-in role that sets without deleting.")
	}
	var b strings.Builder
	b.WriteString(kwpolicy.Comment("# ", kwpolicy.Header(r)...))
	b.WriteString(kwpolicy.Comment("# ", notes...))
	fmt.Fprintf(&b, "\nVAULT_ID=$(az keyvault show --name %s --query id --output tsv)\n", vaultName)
	fmt.Fprintf(&b, "az role assignment create --role %q \\\n  --assignee %q \\\n  --scope \"$VAULT_ID\"\n", role, principal)
	if len(secrets) > 0 {
		b.WriteString("\n# Narrower, one assignment per secret:\n")
		for _, s := range secrets {
			fmt.Fprintf(&b, "# az role assignment create --role %q --assignee %q --scope \"$VAULT_ID/secrets/%s\"\n", role, principal, s)
		}
	}
	return &kwpolicy.Document{Language: "shell", Native: b.String(), Document: doc, Notes: notes}, nil
}

func policyTarget(r *kwpolicy.Request) (host string, exact bool, err error) {
	if host, err = hostOf(r.URL, r.Env, "derive the policy"); err != nil {
		return "", false, err
	}
	exact = r.URL.Query().Get("names") == "exact"
	for _, k := range r.Keys {
		n := k
		if !exact {
			n = cloudsm.GuideName(k)
		}
		if !r.All && !nameRe.MatchString(n) {
			return "", false, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "azurekv: key %q cannot name a Key Vault secret (letters, digits and -)", k)
		}
	}
	return host, exact, nil
}
