package cmdutil

import (
	"slices"
	"testing"
)

// TestSecurityChildEnvHasNoKeywardCredentials (the list): which variables
// count as keyward's own credentials, and ChildEnv removes exactly those.
func TestSecurityChildEnvHasNoKeywardCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		cred bool
	}{
		{"KEYWARD_AGE_IDENTITY", true},
		{"KEYWARD_AGE_IDENTITY_FILE", true},
		{"KEYWARD_SCAN_KEY", true},
		{"KEYWARD_AUDIT_KEY", true},
		{"KEYWARD_AUDIT_KEY_FILE", true},
		{"keyward_age_identity", true}, // Windows names ignore case
		{"KEYWARD_VAULT_TOKEN", true},
		{"KEYWARD_DB_PASSWORD", true},
		{"KEYWARD_SOMETHING_SECRET", true},
		{"KEYWARD_GCP_CREDENTIALS", true},
		{"KEYWARD_AGE_PASSPHRASE", true},
		{"KEYWARD_AGE_IDENTITY_COMMAND", true}, // prints an identity: keyward's, not the child's
		{"KEYWARD_STORE", false},
		{"KEYWARD_AUDIT", false},
		{"KEYWARD_AUDIT_FILE", false},
		{"KEYWARD_AUDIT_REQUIRED", false},
		{"KEYWARD_ROTATED_KEY", false}, // set by keyward for rotate --exec
		{"KEYWARD_NEW_VERSION", false},
		{"AGE_IDENTITY", false},
		{"VAULT_TOKEN", false}, // the user's, not keyward's (docs/security-audit-env.md)
		{"PATH", false},
	} {
		if got := IsKeywardCredential(tc.name); got != tc.cred {
			t.Errorf("IsKeywardCredential(%q) = %v, want %v", tc.name, got, tc.cred)
		}
	}
	for _, v := range KeywardCredentialVars {
		if !IsKeywardCredential(v) {
			t.Errorf("%s is in the list but not recognised", v)
		}
	}
	env := []string{"PATH=/bin", "KEYWARD_AGE_IDENTITY=AGE-SECRET-KEY-1KWCANARY", "KEYWARD_STORE=local://x", "KEYWARD_SCAN_KEY=KWCANARY"}
	if got, want := ChildEnv(env, false), []string{"PATH=/bin", "KEYWARD_STORE=local://x"}; !slices.Equal(got, want) {
		t.Errorf("ChildEnv = %q, want %q", got, want)
	}
	if got := ChildEnv(env, true); !slices.Equal(got, env) {
		t.Errorf("ChildEnv(pass) = %q, want all of %q", got, env)
	}
}
