package initcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/dotenv"
)

func recipes(m map[string]string) func(string) string {
	return func(n string) string { return m[n] }
}

// TestFillDotenv covers what the testscript does not: quoted and
// multi-line values survive a --force rewrite, duplicates collapse to the
// value that was in effect, and a parse error leaves the file alone.
func TestFillDotenv(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	const pem = "-----BEGIN KEY-----\nAAAA\n-----END KEY-----"
	orig := "# mine\nTOKEN=old-token-value\nPEM=\"" + pem + "\"\nDUP=first\nDUP=second\nQUOTED='a b $c'\nREF=${DUP}-x"
	if err := os.WriteFile(p, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &fromMode{force: true}
	res := &FromResult{}
	names := []string{"TOKEN", "PEM", "DUP", "QUOTED", "REF", "NEW_GEN", "NEW_EMPTY"}
	if err := m.fillDotenv(p, names, recipes(map[string]string{"TOKEN": "hex", "NEW_GEN": "urlsafe"}), res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dotenv.ParseMap(b, nil)
	if err != nil {
		t.Fatalf("rewritten file does not parse: %v", err)
	}
	if len(got["TOKEN"]) != 64 || got["TOKEN"] == "old-token-value" {
		t.Errorf("TOKEN not regenerated (length %d)", len(got["TOKEN"]))
	}
	if strings.Contains(string(b), "old-token-value") {
		t.Error("the old TOKEN statement is still in the file")
	}
	if !strings.HasPrefix(string(b), "# mine\n") {
		t.Error("the comment was not kept")
	}
	if got["PEM"] != pem || got["DUP"] != "second" || got["QUOTED"] != "a b $c" || got["REF"] != "second-x" {
		t.Errorf("existing values changed: PEM %d bytes, DUP %d bytes, QUOTED %d bytes", len(got["PEM"]), len(got["DUP"]), len(got["QUOTED"]))
	}
	if len(got["NEW_GEN"]) != 43 || got["NEW_EMPTY"] != "" {
		t.Errorf("new names: NEW_GEN %d bytes, NEW_EMPTY %d bytes", len(got["NEW_GEN"]), len(got["NEW_EMPTY"]))
	}
	if strings.Join(res.Generated, ",") != "TOKEN,NEW_GEN" || strings.Join(res.Kept, ",") != "PEM,DUP,QUOTED,REF" || strings.Join(res.Empty, ",") != "NEW_EMPTY" {
		t.Errorf("result %+v", res)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if gi, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); string(gi) != ".env\n" || !res.GitignoreAdded {
		t.Errorf(".gitignore = %q", gi)
	}

	// A file keyward cannot parse is left exactly as it was.
	bad := "TOKEN=\"unterminated\n"
	if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.fillDotenv(p, names, recipes(nil), &FromResult{}); err == nil {
		t.Fatal("malformed .env accepted")
	}
	if b, _ := os.ReadFile(p); string(b) != bad {
		t.Fatal("malformed .env was changed")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("temporary files left behind: %d entries", len(ents))
	}
}

func TestEnsureIgnored(t *testing.T) {
	for _, tc := range []struct {
		existing string
		added    bool
		want     string
	}{
		{"", true, ".env\n"},
		{"node_modules", true, "node_modules\n.env\n"},
		{"/.env\n", false, "/.env\n"},
		{".env*\n", false, ".env*\n"},
	} {
		dir := t.TempDir()
		if tc.existing != "" {
			os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(tc.existing), 0o644)
		}
		added, err := ensureIgnored(filepath.Join(dir, ".env"))
		b, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
		if err != nil || added != tc.added || string(b) != tc.want {
			t.Errorf("existing %q: added=%v err=%v content %q", tc.existing, added, err, b)
		}
	}
}
