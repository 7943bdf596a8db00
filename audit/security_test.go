package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecurityAuditCannotBeWeakenedByRepo: whatever a repository's
// keyward.yaml says in its audit: section, the user's own settings apply,
// a section that does not decode is a ProjectError (never "audit off"), and
// the project can only tighten. Errors never echo the value.
func TestSecurityAuditCannotBeWeakenedByRepo(t *testing.T) {
	const canary = "CANARY-7d1e4b"
	userRequired := "audit:\n  required: true\n  file: ~/my-audit.log\n"
	tests := []struct {
		name       string
		project    string // keyward.yaml content; "DIR" makes it a directory
		user       string
		wantErr    string // substring of a ProjectError; "" means none
		want       Effective
		checkField func(Effective) bool
	}{
		{name: "type error in required", project: "audit:\n  required: \"" + canary + "\"\n", user: userRequired,
			wantErr: "keyward.yaml:2:13: audit.required: must be true or false"},
		{name: "type error in enabled", project: "audit:\n  enabled: [" + canary + "]\n", user: userRequired,
			wantErr: "keyward.yaml:2:12: audit.enabled: must be true or false"},
		{name: "type error in file", project: "audit:\n  file: [" + canary + "]\n", user: userRequired,
			wantErr: "keyward.yaml:2:9: audit.file: must be a path"},
		{name: "!!bool tag on a non-boolean", project: "audit:\n  stderr: !!bool " + canary + "\n", user: userRequired,
			wantErr: "keyward.yaml:2:11: audit.stderr: must be true or false"},
		{name: "keyward.yaml is a directory", project: "DIR", user: userRequired, wantErr: "is a directory"},
		{name: "audit is not a mapping", project: "audit: " + canary + "\n", user: userRequired,
			wantErr: "keyward.yaml:1:8: audit: must be a mapping"},
		{name: "unknown field (a typo)", project: "audit:\n  requierd: true\n", user: userRequired,
			wantErr: "audit.requierd: unknown field"},
		{name: "field repeated", project: "audit:\n  required: true\n  required: false\n", user: userRequired,
			wantErr: "audit.required: defined twice"},
		{name: "section repeated", project: "audit:\n  required: true\naudit:\n  enabled: false\n", user: userRequired,
			wantErr: "audit: defined twice"},
		{name: "bad yaml", project: "audit: [\n", user: userRequired, wantErr: "keyward.yaml"},
		{name: "project switches off, moves log, disables fsync", project: "audit:\n  enabled: false\n  file: /dev/null\n  key_file: /tmp/k\n  fsync: false\n",
			user: userRequired},
		{name: "aliases are followed, still only tightening", project: "base: &b\n  required: true\n  enabled: false\naudit: *b\n",
			user: "audit:\n  required: false\n"},
		{name: "project tightens", project: "audit:\n  required: true\n  hmac_values: true\n  stderr: true\n",
			user: "audit:\n  enabled: false\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"HOME": filepath.Join(dir, "home"), "XDG_CONFIG_HOME": filepath.Join(dir, "cfg")}
			getenv := func(k string) string { return env[k] }
			mustWrite(t, UserConfigPath(getenv), tt.user)
			project := filepath.Join(dir, "repo", "keyward.yaml")
			if tt.project == "DIR" {
				if err := os.MkdirAll(project, 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				mustWrite(t, project, tt.project)
			}
			eff, err := Resolve(getenv, project)
			user, uerr := LoadSection(UserConfigPath(getenv))
			if uerr != nil {
				t.Fatal(uerr)
			}
			userOnly := Merge(user, Config{}, getenv)
			if tt.wantErr != "" {
				var pe *ProjectError
				if !errors.As(err, &pe) {
					t.Fatalf("Resolve error = %v, want a ProjectError", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("error echoes the value: %q", err)
				}
				// The user's settings still apply, unchanged.
				if eff != userOnly {
					t.Errorf("with a broken project section the settings are %+v, want the user's %+v", eff, userOnly)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			// Never weaker than the user's settings alone.
			if userOnly.Enabled && !eff.Enabled || userOnly.Required && !eff.Required ||
				userOnly.Fsync && !eff.Fsync || userOnly.HMACValues && !eff.HMACValues || userOnly.Stderr && !eff.Stderr {
				t.Errorf("project weakened audit: %+v, user alone %+v", eff, userOnly)
			}
			if eff.File != userOnly.File || eff.KeyFile != userOnly.KeyFile {
				t.Errorf("project moved the log or key: %q %q, user's %q %q", eff.File, eff.KeyFile, userOnly.File, userOnly.KeyFile)
			}
		})
	}

	t.Run("the user's broken config is an error too, not audit off", func(t *testing.T) {
		dir := t.TempDir()
		env := map[string]string{"HOME": filepath.Join(dir, "home"), "XDG_CONFIG_HOME": filepath.Join(dir, "cfg")}
		getenv := func(k string) string { return env[k] }
		mustWrite(t, UserConfigPath(getenv), "audit:\n  required: \""+canary+"\"\n")
		eff, err := Resolve(getenv, "")
		var ue *UserError
		if !errors.As(err, &ue) {
			t.Fatalf("Resolve error = %v, want a UserError", err)
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("error echoes the value: %q", err)
		}
		if !eff.Enabled {
			t.Error("a broken user config turned audit off")
		}
	})
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
