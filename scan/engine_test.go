package scan

import (
	"strings"
	"testing"
)

func ruleHits(s *Scanner, data, path, rule string) int {
	n := 0
	for _, m := range s.ScanBytes([]byte(data), path) {
		if m.Kind == KindRule && m.RuleID == rule {
			n++
		}
	}
	return n
}

// Well-known example values and placeholders are not reported by the
// built-in rules; fake values of the same shape are.
func TestExampleAllowList(t *testing.T) {
	s := newScanner(t)
	cases := []struct {
		name, rule, text string
		want             int
	}{
		{"aws doc key id", "aws-access-key-id", `key = "AKIA` + `IOSFODNN7EXAMPLE"`, 0},
		{"aws doc key id 2", "aws-access-key-id", "AKIA" + "I44QH8DHBEXAMPLE", 0},
		{"aws key id ending in EXAMPLE", "aws-access-key-id", "AKIA" + "ZZQQ7RRT4EXAMPLE", 0},
		{"aws fake key id", "aws-access-key-id", "AKIA" + "TESTFAKE7KEY2ABC", 1},
		{"aws doc secret", "aws-secret-access-key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY", 0},
		{"aws fake secret", "aws-secret-access-key", "aws_secret_access_key = " + mixed(40), 1},
		{"google alphabet key", "google-api-key", `"AIza` + "Syabcdefghijklmnopqrstuvwxyz1234567" + `"`, 0},
		{"google fake key", "google-api-key", `"AIza` + mixed(35) + `"`, 1},
		{"jwt.io example", "jwt", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
			"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
			"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", 0},
		{"hex alphabet", "generic-secret", `api_key = "0123456789abcdef0123"`, 0},
		{"shell variable", "generic-secret", "password=$DB_PASSWORD_2", 0},
		{"braced variable", "generic-secret", `secret: "${APP_SECRET_9}"`, 0},
		{"actions secret", "generic-secret", `token: ${{ secrets.GH_TOKEN_2 }}`, 0},
		{"template", "generic-secret", `password: "{{ .Values.pw2 }}"`, 0},
		{"windows variable", "generic-secret", `password=%DB_PASS2%`, 0},
		{"one byte repeated", "generic-secret", `password = "########"`, 0},
		{"path", "generic-secret", `secret_file = "/etc/app/secret2.key"`, 0},
		{"url value", "generic-secret", `token_url = "https://auth.example.test/oauth2/token2"`, 0},
		{"file name value", "generic-secret", `TokenFile="RTL_INST_CODE2.cer"`, 0},
		{"yaml key", "generic-secret", "secret.yaml\": `apiVersion2:", 0},
		{"versioned coordinate", "generic-secret", `token:"jjwt-jackson-0.11.2"`, 0},
		{"fake password", "generic-secret", `password = "` + mixed(16) + `"`, 1},
		{"fake password with colon", "generic-secret", `password = "` + mixed(8) + ":" + mixed(8) + `"`, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ruleHits(s, tc.text+"\n", "app/config.txt", tc.rule); got != tc.want {
				t.Errorf("%s: %d findings, want %d", tc.rule, got, tc.want)
			}
		})
	}
}

// Scanner rule files and lock files are skipped by the built-in format
// rules; a managed value is still found there.
func TestNoisePaths(t *testing.T) {
	v := fake("kw-noise-", 20, "z9")
	s := newScanner(t, managed("API_TOKEN", "dev", v))
	text := "key = AKIA" + "TESTFAKE7KEY2ABC\nvalue = " + v + "\n"
	for _, tc := range []struct {
		path string
		rule int
	}{
		{"src/config.go", 1},
		{"config/gitleaks.toml", 0},
		{".gitleaks.toml", 0},
		{".gitleaksignore", 0},
		{"web/package-lock.json", 0},
		{"go.sum", 0},
		{"docs/gitleaks.toml.md", 1},
	} {
		var rules, mv int
		for _, m := range s.ScanBytes([]byte(text), tc.path) {
			switch m.Kind {
			case KindRule:
				rules++
			case KindManaged:
				mv++
			}
		}
		if rules != tc.rule || mv != 1 {
			t.Errorf("%s: %d rule and %d managed findings, want %d and 1", tc.path, rules, mv, tc.rule)
		}
	}
}

// Case-insensitive keywords match in any ASCII case mix; case-sensitive
// ones only as written.
func TestKeywordCaseInsensitivity(t *testing.T) {
	s := newScanner(t)
	val := `"` + mixed(16) + `"`
	cases := []struct {
		name, rule, text string
		want             int
	}{
		{"lower", "generic-secret", "apikey = " + val, 1},
		{"upper", "generic-secret", "APIKEY = " + val, 1},
		{"title", "generic-secret", "Apikey = " + val, 1},
		{"camel", "generic-secret", "apiKey = " + val, 1},
		{"pascal", "generic-secret", "ApiKey: " + val, 1},
		{"random case", "generic-secret", "dB_pAsSwOrD = " + val, 1},
		{"camel aws secret", "aws-secret-access-key", "awsSecretAccessKey = " + mixed(40), 1},
		{"case-sensitive keyword as written", "aws-access-key-id", "AKIA" + "TESTFAKE7KEY2ABC", 1},
		{"case-sensitive keyword lowered", "aws-access-key-id", "akia" + "TESTFAKE7KEY2ABC", 0},
		{"stripe prefix upper", "stripe-live-key", "SK_LIVE_" + mixed(24), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ruleHits(s, "x\n"+tc.text+"\n", "a.txt", tc.rule); got != tc.want {
				t.Errorf("%s: %d findings, want %d", tc.rule, got, tc.want)
			}
		})
	}
}

// Windows anchored at keyword hits find what whole-line windows found: at
// the buffer's edges, next to each other, on long lines, and not a match
// that the cut of a window would fake.
func TestAnchoredWindows(t *testing.T) {
	s := newScanner(t)
	key := "AKIA" + "TESTFAKE7KEY2ABC"
	long := strings.Repeat("filler ", 2000)
	cases := []struct {
		name, text string
		want       int
	}{
		{"whole buffer", key, 1},
		{"at start", key + " tail", 1},
		{"at end", "head " + key, 1},
		{"adjacent", key + "," + key + "," + key, 3},
		{"longer run is not a key", key + "QQ", 0},
		{"preceded by a word byte", "x" + key, 0},
		{"mid long line", long + key + " " + long, 1},
		{"two on a long line", long + key + " " + long + key + " " + long, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ruleHits(s, tc.text, "a.txt", "aws-access-key-id")
			if got != tc.want {
				t.Errorf("%d findings, want %d", got, tc.want)
			}
		})
	}
	// The cache is keyed by window bytes: the same window found again
	// (another file) gives the same matches at the new offsets.
	a := s.ScanBytes([]byte("x\n"+key+"\n"), "a.txt")
	b := s.ScanBytes([]byte("yyyy\nzz\n"+key+"\n"), "b.txt")
	if len(a) != 1 || len(b) != 1 || a[0].Start != 2 || b[0].Start != 8 || a[0].Fingerprint != b[0].Fingerprint {
		t.Fatalf("cached window: %+v %+v", a, b)
	}
}

func TestMaxMatchLen(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want int
	}{
		{`abc`, 3},
		{`\b(AKIA[A-Z2-7]{16})\b`, 20},
		{`a{2,5}b?`, 6},
		{`x|yyyy`, 4},
		{`a*`, -1},
		{`a+b`, -1},
		{`a{3,}`, -1},
		{`é`, 2},
		{`.`, 4},
		{`[a-z\x{10000}]`, 4},
		{`(?i)k`, 3},
		{`^$`, 0},
	} {
		if got := maxMatchLen(tc.expr); got != tc.want {
			t.Errorf("maxMatchLen(%q) = %d, want %d", tc.expr, got, tc.want)
		}
	}
}

// The anchored path (the regexp run once at each keyword start) finds
// exactly what the merged-window path finds, on text packed with keywords
// next to each other, inside words, at the edges and overlapping matches.
func TestAnchoredMatchesWindowed(t *testing.T) {
	key := []byte("kw-test-fingerprint-key")
	a, err := New(Options{FingerprintKey: key})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{FingerprintKey: key, noAnchor: true})
	if err != nil {
		t.Fatal(err)
	}
	aws := "AKIA" + "TESTFAKE7KEY2ABC"
	pieces := []string{
		aws, "x" + aws, aws + "Q", "ASIA" + mixed(16), "AKIA", "akia" + mixed(16),
		`password = "` + mixed(16) + `"`, "passwordtoken=" + mixed(12) + "9", "PASSWD:" + mixed(10) + "1",
		"apiKey: '" + mixed(20) + "'", "secret_token => " + mixed(14) + "7;", "token=token=" + mixed(12) + "5",
		"sk_live_" + mixed(30), "rk_live_sk_live_" + mixed(24), "whsec_" + mixed(40), "ghp_" + mixed(36), "ghp_ghp_" + mixed(36),
		"github_pat_" + mixed(82), "xoxb-" + rep("1", 11) + "-" + mixed(24), "hooks.slack.com/services/T" + rep("FAKE0", 8) + "/B" + rep("FAKE0", 8) + "/" + mixed(24),
		`"AIza` + mixed(35) + `"`, "AIza" + mixed(40), `"private_key_id": "` + rep("0a1b2c3d4e5f6789", 40) + `"`,
		"SG." + mixed(22) + "." + mixed(43), "SK" + rep("0a1b2c3d4e5f6789", 32), "TWILIO_AUTH_TOKEN=" + rep("0a1b2c3d4e5f6789", 32),
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlIn0." + mixed(30), "postgres://app:" + mixed(16) + "@db.internal/x",
		"\n", " ", "\t", `"`, "'", "=", ":", ";", "keyward:allow",
	}
	// A deterministic walk over the pieces, joined with and without
	// separators, so keywords land next to, inside and across each other.
	var b strings.Builder
	x := uint32(7)
	for i := 0; i < 4000; i++ {
		x = x*1664525 + 1013904223
		b.WriteString(pieces[int(x>>16)%len(pieces)])
		if x&3 == 0 {
			b.WriteByte(' ')
		}
	}
	text := []byte(b.String())
	for _, n := range []int{len(text), 1 << 12, 777, 64} {
		for off := 0; off+n <= len(text); off += max(n, len(text)/8) {
			chunk := text[off : off+n]
			ma, mw := a.ScanBytes(chunk, "a.txt"), w.ScanBytes(chunk, "a.txt")
			if len(ma) != len(mw) {
				t.Fatalf("chunk %d+%d: anchored %d matches, windowed %d", off, n, len(ma), len(mw))
			}
			for i := range ma {
				if ma[i].RuleID != mw[i].RuleID || ma[i].Start != mw[i].Start || ma[i].End != mw[i].End || ma[i].Fingerprint != mw[i].Fingerprint {
					t.Fatalf("chunk %d+%d: match %d differs: %s@%d-%d vs %s@%d-%d", off, n, i,
						ma[i].RuleID, ma[i].Start, ma[i].End, mw[i].RuleID, mw[i].Start, mw[i].End)
				}
			}
		}
	}
	if ms := a.ScanBytes(text, "a.txt"); len(ms) < 300 {
		t.Fatalf("only %d matches in the packed text", len(ms))
	}
}
