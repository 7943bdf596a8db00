package cmdutil

import "strings"

// KeywardCredentialVars are keyward's own credentials: variables that
// unlock a store, or key keyward's HMACs. A child keyward starts (`run`,
// `rotate --exec`) never gets them unless the user passes
// --pass-keyward-env. This is the one list; docs/security-audit-env.md and
// docs/cli.md repeat it.
var KeywardCredentialVars = []string{
	"KEYWARD_AGE_IDENTITY",         // an age identity (AGE-SECRET-KEY-1…) itself
	"KEYWARD_AGE_IDENTITY_FILE",    // where the age identity is
	"KEYWARD_SCAN_KEY",             // the scan fingerprint HMAC key
	"KEYWARD_AUDIT_KEY",            // an audit HMAC key
	"KEYWARD_AUDIT_KEY_FILE",       // where the audit HMAC key is
	"KEYWARD_AGE_PASSPHRASE",       // unlocks a passphrase-protected identity
	"KEYWARD_AGE_IDENTITY_COMMAND", // a command that prints the identity
}

// keywardCredentialSuffixes catch any other KEYWARD_ variable of the same
// kind, so a credential variable added later is covered without editing the
// list: KEYWARD_*_KEY, *_KEY_FILE, *_IDENTITY, *_IDENTITY_FILE, *_TOKEN,
// *_PASSWORD, *_PASSPHRASE, *_SECRET, *_CREDENTIALS.
var keywardCredentialSuffixes = []string{"_KEY", "_KEY_FILE", "_IDENTITY", "_IDENTITY_FILE",
	"_TOKEN", "_PASSWORD", "_PASSPHRASE", "_SECRET", "_CREDENTIALS"}

// keywardChildVars are variables keyward itself sets for a child: they
// describe what happened, they unlock nothing.
var keywardChildVars = map[string]bool{"KEYWARD_ROTATED_KEY": true, "KEYWARD_NEW_VERSION": true}

// IsKeywardCredential reports whether the environment variable name is one
// of keyward's own credentials (KeywardCredentialVars, or a KEYWARD_
// variable ending in one of their suffixes).
func IsKeywardCredential(name string) bool {
	n := strings.ToUpper(name) // Windows names are case-insensitive
	if !strings.HasPrefix(n, "KEYWARD_") || keywardChildVars[n] {
		return false
	}
	for _, v := range KeywardCredentialVars {
		if n == v {
			return true
		}
	}
	for _, s := range keywardCredentialSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// ChildEnv is the environment a child of keyward starts from: environ
// (NAME=value entries) without keyward's own credentials, or all of it when
// pass is set (--pass-keyward-env). It returns a new slice.
func ChildEnv(environ []string, pass bool) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !pass && IsKeywardCredential(name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// PassKeywardEnvUsage is the help text of --pass-keyward-env.
const PassKeywardEnvUsage = "Pass keyward's own credential variables (KEYWARD_AGE_IDENTITY, KEYWARD_AGE_IDENTITY_FILE, KEYWARD_SCAN_KEY, …) to the child; by default they are removed"
