package cmdutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestSecurityRefsUserConfig: allow entries come from --allow-ref,
// KEYWARD_ALLOW_REFS and the user's own config (its references: section,
// decoded on its own); a malformed section is an error naming
// file:line:col, and keyward.yaml is never consulted.
func TestSecurityRefsUserConfig(t *testing.T) {
	for _, tc := range []struct {
		name, config, env string
		flags             []string
		want              []string
		err               string
	}{
		{name: "none"},
		{name: "config", config: "audit:\n  required: false\nreferences:\n  allow:\n    - vault://vault.example.com\n    - awssm://\n",
			want: []string{"vault://vault.example.com", "awssm://"}},
		{name: "other sections only", config: "audit: {required: true}\n"},
		{name: "all sources", config: "references: {allow: [\"gcpsm://\"]}\n", env: "env:// ,dotenv://a.env", flags: []string{"vault://"},
			want: []string{"vault://", "env://", "dotenv://a.env", "gcpsm://"}},
		{name: "allow not a list", config: "references:\n  allow: vault://x\n", err: "config.yaml:2:3: references: must be a mapping with allow: a list"},
		{name: "bad entry", config: "references:\n  allow: [nonsense]\n", err: "config.yaml:2:3: references.allow: an allow entry is a store URL prefix"},
		{name: "bad flag", flags: []string{"nonsense"}, err: "--allow-ref"},
		{name: "not YAML", config: "references: [\n", err: "not YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				p := filepath.Join(dir, "keyward", "config.yaml")
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{"XDG_CONFIG_HOME": dir, AllowRefsEnv: tc.env, "VAULT_ADDR": "https://vault.example.com"}
			f := &Factory{Getenv: func(k string) string { return env[k] }, AllowRefs: tc.flags}
			p, err := f.TrustPolicy()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "vault://x") {
					t.Fatalf("the error repeats the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(p.Allow, " ") != strings.Join(tc.want, " ") || p.VaultAddr != "https://vault.example.com" {
				t.Fatalf("policy %+v, want allow %v", p, tc.want)
			}
			// CheckURL wraps a refusal with its hint.
			err = f.CheckURL("vault://attacker.test/p", keyward.OriginProject)
			var he *HintError
			if err == nil || !asHint(err, &he) || !strings.Contains(he.Hints[0], "--allow-ref 'vault://attacker.test/p'") {
				t.Fatalf("CheckURL: %v", err)
			}
		})
	}
}

func asHint(err error, he **HintError) bool {
	h, ok := err.(*HintError)
	*he = h
	return ok
}
