package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	clscan "github.com/keyward/keyward/internal/cli/scan"
	"github.com/keyward/keyward/scan"
)

// TestSecurityExampleValuesNeverHideALeak: values of the committed
// .env.example are public (a copied default is not a leak), but only in
// environments that are not production, and only from a file named as an
// example — a repository's keyward.yaml cannot point `example:` at a file of
// real values to make scan blind to them.
func TestSecurityExampleValuesNeverHideALeak(t *testing.T) {
	const def = "redis://localhost:6379/0"
	for _, tc := range []struct {
		name, example, file string
		env                 string
		public              bool
	}{
		{"copied default in development", "", ".env.example", "development", true},
		{"the same value in production", "", ".env.example", "production", false},
		{"example: pointed at real values", "example: .env\n", ".env", "development", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			yaml := tc.example + "environments:\n  development: {store: local://dev.age}\n  production: {store: local://prod.age}\nsecrets:\n  REDIS_URL: {}\n"
			if err := os.WriteFile(filepath.Join(dir, "keyward.yaml"), []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte("REDIS_URL="+def+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			f := &cmdutil.Factory{ConfigPath: filepath.Join(dir, "keyward.yaml"), Getenv: func(string) string { return "" }}
			public := clscan.PublicValues(f)
			got := public != nil && public(scan.Managed{Key: "REDIS_URL", Env: tc.env, Value: keyward.NewSecretString(def)})
			if got != tc.public {
				t.Fatalf("public = %v, want %v", got, tc.public)
			}
		})
	}
}
