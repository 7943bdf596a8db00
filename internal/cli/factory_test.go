package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/fsutil"
)

// TestCommandReadsProjectOnce: a whole command reads keyward.yaml once,
// although it asks it several questions (the default environment and its
// store, the declared keys for opening the store, the audit section for the
// audit trail, the schema for validate). Before the Factory memoized it,
// `get` read the file three times.
func TestCommandReadsProjectOnce(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	cfg := filepath.Join(dir, "keyward.yaml")
	yaml := "default_environment: dev\nenvironments:\n  dev: {store: dotenv://app.env}\nsecrets:\n  API_TOKEN: {}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.env"), []byte("API_TOKEN=tok-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "KEYWARD_AUDIT_FILE": filepath.Join(home, "audit.log")}
	for _, args := range [][]string{
		{"get", "API_TOKEN", "--config", cfg},
		{"get", "API_TOKEN", "--env", "dev", "--config", cfg},
		{"list", "--config", cfg},
		{"run", "--config", cfg, "--", "true"},
		{"scan", "--config", cfg, src}, // the store's values are searched for, and not found
		{"validate", "--config", cfg},
		{"export", "--config", cfg},
	} {
		name := strings.NewReplacer(cfg, "keyward.yaml", src, "src").Replace(strings.Join(args, " "))
		t.Run(name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			f := cmdutil.NewWith(ios, func(k string) string { return env[k] }, func() []string { return nil }, time.Now)
			reads := 0
			f.ReadProjectFile = func(path string) ([]byte, error) {
				reads++
				return fsutil.ReadFile(path, fsutil.MaxProjectFile)
			}
			if code := Run(context.Background(), f, args); code != 0 {
				t.Fatalf("keyward %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
			}
			if args[0] == "get" && !strings.Contains(out.String(), "tok-0123456789abcdef") {
				t.Fatalf("get printed %q; want the value from the default environment's store", out)
			}
			if _, err := os.Stat(env["KEYWARD_AUDIT_FILE"]); err != nil {
				t.Fatalf("no audit record was written (%v): the audit section was not consulted", err)
			}
			if reads != 1 {
				t.Fatalf("keyward %s read keyward.yaml %d times; want 1", strings.Join(args, " "), reads)
			}
		})
	}
}
