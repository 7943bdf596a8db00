package scan

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/iostreams"
	kscan "github.com/keyward/keyward/scan"
)

// TestSecurityScanKeyNotPublic: scan's fingerprints are keyed with a
// per-user secret (or KEYWARD_SCAN_KEY), never with a constant anyone can
// read in the source, so a report does not let its reader test guessed
// values offline. The same user gets the same fingerprints run after run,
// so baselines keep working.
func TestSecurityScanKeyNotPublic(t *testing.T) {
	const weak = "summer2024!" // a weak password a dictionary attack would try
	guesses := []string{"password", "123456", "letmein", weak, "winter2024!"}
	oldPublicKeys := [][]byte{[]byte("keyward-scan-fingerprint-v1")} // the fixed default before per-user keys

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.env"), []byte("DB_PASSWORD="+weak+"\n"), 0o644)
	ms := []kscan.Managed{{Key: "DB_PASSWORD", Value: keyward.NewSecretString(weak)}}

	fingerprint := func(t *testing.T, getenv func(string) string) string {
		t.Helper()
		ios, _, out, errOut := iostreams.Test()
		_ = run(context.Background(), &Options{IO: ios, Getenv: getenv, Format: "json", Paths: []string{dir}, NoIgnore: true,
			LoadManaged: func(context.Context) ([]kscan.Managed, []string, error) { return ms, nil, nil }})
		var fs []kscan.Finding
		if err := json.Unmarshal(out.Bytes(), &fs); err != nil || len(fs) == 0 {
			t.Fatalf("scan --json: %v, %d findings (stderr %q)", err, len(fs), errOut.String())
		}
		if strings.Contains(out.String()+errOut.String(), weak) {
			t.Fatal("scan output contains the value")
		}
		return fs[0].Fingerprint
	}
	user := func(home string, extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config")}[k]
		}
	}
	alice, bob := t.TempDir(), t.TempDir()
	fpAlice := fingerprint(t, user(alice, nil))

	t.Run("no public key recovers the value", func(t *testing.T) {
		for _, k := range oldPublicKeys {
			for _, g := range guesses {
				m := hmac.New(sha256.New, k)
				m.Write([]byte(g))
				if hex.EncodeToString(m.Sum(nil))[:12] == fpAlice {
					t.Fatalf("the fingerprint is an HMAC under the public key %q: a dictionary guess recovers the value", k)
				}
			}
		}
	})
	t.Run("per-user key file, 0600, created once", func(t *testing.T) {
		p := KeyPath(user(alice, nil))
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("no per-user key at %s: %v", p, err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, st.Mode().Perm())
		}
		if got := fingerprint(t, user(alice, nil)); got != fpAlice {
			t.Errorf("the same user's fingerprint changed between runs: %s then %s (baselines would break)", fpAlice, got)
		}
	})
	t.Run("another user, another key", func(t *testing.T) {
		if fingerprint(t, user(bob, nil)) == fpAlice {
			t.Error("two users with their own keys got the same fingerprint")
		}
	})
	t.Run("KEYWARD_SCAN_KEY overrides (CI)", func(t *testing.T) {
		ci := map[string]string{"KEYWARD_SCAN_KEY": "KWCANARY-ci-scan-key-0123456789abcdef"}
		a, b := fingerprint(t, user(alice, ci)), fingerprint(t, user(bob, ci))
		if a != b || a == fpAlice {
			t.Errorf("KEYWARD_SCAN_KEY: alice %s, bob %s, alice's own %s: want equal to each other, unlike the per-user one", a, b, fpAlice)
		}
	})
	t.Run("a short KEYWARD_SCAN_KEY is refused", func(t *testing.T) {
		_, err := FingerprintKey(user(alice, map[string]string{"KEYWARD_SCAN_KEY": "short"}))
		if err == nil || strings.Contains(err.Error(), "short") {
			t.Errorf("err = %v, want a refusal that does not echo the key", err)
		}
	})
	t.Run("library: no key means a random one, never a constant", func(t *testing.T) {
		a, _ := kscan.New(kscan.Options{})
		b, _ := kscan.New(kscan.Options{})
		if a.Fingerprint([]byte(weak)) == b.Fingerprint([]byte(weak)) {
			t.Error("two Scanners without a key share a fingerprint key")
		}
		if _, err := kscan.New(kscan.Options{FingerprintKey: []byte("abc")}); err == nil {
			t.Error("a 3-byte fingerprint key was accepted")
		}
	})
}
