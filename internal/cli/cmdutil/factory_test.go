package cmdutil_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/fsutil"

	// keyward.yaml's store URLs are checked against the registered schemes.
	_ "github.com/keyward/keyward/provider/dotenv"
	_ "github.com/keyward/keyward/provider/local"
)

// countingFactory is a wired Factory whose keyward.yaml reads are counted.
func countingFactory(t *testing.T, env map[string]string) (*cmdutil.Factory, *int) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.NewWith(ios, func(k string) string { return env[k] }, func() []string { return nil }, time.Now)
	reads := new(int)
	f.ReadProjectFile = func(path string) ([]byte, error) {
		*reads++
		return fsutil.ReadFile(path, fsutil.MaxProjectFile)
	}
	return f, reads
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestProjectIsReadOnce: every keyward.yaml question a command asks — the
// schema, the environments, an --env store URL, the default environment,
// the delivery settings, the declared keys, a value check and the audit
// section — is answered from one read of the file, made on first use (so
// a --config parsed after the Factory was built counts).
func TestProjectIsReadOnce(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	cfg := filepath.Join(dir, "keyward.yaml")
	writeFile(t, cfg, "default_environment: dev\nenvironments:\n  dev: {store: dotenv://app.env}\n  prod: {store: local://prod.age, production: true}\naudit:\n  required: true\nsecrets:\n  API_TOKEN: {min_length: 32}\n")
	f, reads := countingFactory(t, map[string]string{"HOME": home})
	if *reads != 0 {
		t.Fatalf("building the Factory read keyward.yaml %d times; want none before first use", *reads)
	}
	f.ConfigPath = cfg // as the --config flag does, after construction

	c, err := f.Project()
	if err != nil || c == nil {
		t.Fatalf("Project() = %v, %v", c, err)
	}
	if again, _ := f.Project(); again != c {
		t.Fatal("a second Project() returned another *schema.Config; want the memoized one")
	}
	if envs, err := f.Environments(); err != nil || len(envs) != 2 || envs[0] != "dev" {
		t.Fatalf("Environments() = %v, %v", envs, err)
	}
	u, err := f.ResolveEnv("dev")
	if err != nil || u != "dotenv://"+filepath.ToSlash(filepath.Join(dir, "app.env")) {
		t.Fatalf("ResolveEnv(dev) = %q, %v", u, err)
	}
	if d, err := f.DefaultEnv(); err != nil || d != "dev" {
		t.Fatalf("DefaultEnv() = %q, %v", d, err)
	}
	if _, err := f.Delivery(); err != nil {
		t.Fatal(err)
	}
	if keys := f.DeclaredKeys(); len(keys) != 1 || keys[0] != "API_TOKEN" {
		t.Fatalf("DeclaredKeys() = %v", keys)
	}
	if msgs := f.CheckValue("API_TOKEN", "dev", keyward.NewSecretString("short")); len(msgs) == 0 {
		t.Fatal("CheckValue found nothing wrong with a 5-character value under min_length: 32")
	}
	a, err := f.AuditConfig()
	if err != nil || !a.Required {
		t.Fatalf("AuditConfig() = %+v, %v; want required from the project's audit: section", a, err)
	}
	_ = f.PublicValues()
	if *reads != 1 {
		t.Fatalf("keyward.yaml was read %d times; want 1", *reads)
	}
}

// TestProjectBrokenFileKeepsAudit: when keyward.yaml cannot be read as a
// schema, the one read still gives audit its section (a repository's broken
// file never turns audit off), and the schema error is kept, not retried.
func TestProjectBrokenFileKeepsAudit(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keyward.yaml")
	writeFile(t, cfg, "audit:\n  required: true\nsecrets: [not, a, mapping]\n")
	f, reads := countingFactory(t, map[string]string{"HOME": t.TempDir()})
	f.ConfigPath = cfg
	if _, err := f.Project(); err == nil {
		t.Fatal("Project() of a malformed keyward.yaml: no error")
	}
	if _, err := f.Project(); err == nil {
		t.Fatal("second Project(): the error was forgotten")
	}
	if a, err := f.AuditConfig(); err != nil || !a.Required {
		t.Fatalf("AuditConfig() = %+v, %v; want required", a, err)
	}
	if *reads != 1 {
		t.Fatalf("keyward.yaml was read %d times; want 1", *reads)
	}
}

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
			writeFile(t, filepath.Join(dir, "keyward.yaml"), tc.example+"environments:\n  development: {store: local://dev.age}\n  production: {store: local://prod.age}\nsecrets:\n  REDIS_URL: {}\n")
			writeFile(t, filepath.Join(dir, tc.file), "REDIS_URL="+def+"\n")
			f, _ := countingFactory(t, map[string]string{})
			f.ConfigPath = filepath.Join(dir, "keyward.yaml")
			public := f.PublicValues()
			got := public != nil && public(tc.env, keyward.NewSecretString(def))
			if got != tc.public {
				t.Fatalf("public = %v, want %v", got, tc.public)
			}
		})
	}
}
