package scan

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Test tokens are assembled at run time from obviously fake parts so no
// realistic credential is committed.
func rep(s string, n int) string { return strings.Repeat(s, n/len(s)+1)[:n] }

// mixed is a fake high-entropy-looking string over [A-Za-z0-9].
func mixed(n int) string { return rep("Ab3Cd5Ef7Gh9Jk2Lm4Np6Qr8St", n) }

func TestBuiltinRules(t *testing.T) {
	jwtHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	jwtBody := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"fake-test-user"}`))
	pem := "-----BEGIN " + "RSA PRIVATE KEY-----\n" + rep("FAKEKEYDATA0", 64) + "\n" + rep("FAKEKEYDATA0", 64) + "\n-----END " + "RSA PRIVATE KEY-----"
	cases := []struct {
		rule string
		pos  []string
		neg  []string
	}{
		{"aws-access-key-id",
			[]string{"key = AKIA" + "TESTFAKE7KEY2ABC"},
			[]string{"AKIA" + "short", "AKIA" + "AAAAAAAAAAAAAAAA", "xAKIA" + "TESTFAKE7KEY2ABCx"}},
		{"aws-secret-access-key",
			[]string{"aws_secret_access_key = " + mixed(40), `AWS_SECRET_ACCESS_KEY="` + mixed(38) + `/+"`},
			[]string{"aws_secret_access_key = " + rep("a", 40), "aws_secret_access_key = " + mixed(20)}},
		{"stripe-live-key",
			[]string{"sk_live_" + mixed(24), "rk_live_" + mixed(30)},
			[]string{"sk_test_" + mixed(24), "sk_live_" + mixed(10)}},
		{"stripe-webhook-secret",
			[]string{"whsec_" + mixed(32)},
			[]string{"whsec_" + mixed(8), "whsec_" + rep("a", 32)}},
		{"github-token",
			[]string{"ghp_" + mixed(36), "token: ghs_" + mixed(36)},
			[]string{"ghp_" + mixed(20), "ghx_" + mixed(36), "ghp_" + rep("0", 36)}},
		{"github-fine-grained-pat",
			[]string{"github_pat_" + mixed(82)},
			[]string{"github_pat_" + mixed(30)}},
		{"slack-token",
			[]string{"xoxb-" + rep("1", 11) + "-" + mixed(24)},
			[]string{"xoxb-abc", "xoxq-" + rep("1", 11) + "-" + mixed(24)}},
		{"slack-webhook",
			[]string{"https://hooks.slack.com/services/T" + rep("FAKE0", 8) + "/B" + rep("FAKE0", 8) + "/" + mixed(24)},
			[]string{"https://hooks.slack.com/services/", "https://hooks.slack.com/services/T1/B2/x"}},
		{"google-api-key",
			[]string{`key: "AIza` + mixed(35) + `"`},
			[]string{"AIza" + mixed(20), "AIza" + rep("x", 35)}},
		{"gcp-service-account-key",
			[]string{`{"type": "service_account", "private_key_id": "` + rep("0a1b2c3d4e5f6789", 40) + `"}`},
			[]string{`"private_key_id": "not-a-key"`}},
		{"sendgrid-api-key",
			[]string{"SG." + mixed(22) + "." + mixed(43)},
			[]string{"SG." + mixed(10), "SG." + rep("x", 22) + "." + rep("x", 43)}},
		{"twilio-api-key",
			[]string{"SK" + rep("0a1b2c3d4e5f6789", 32)},
			[]string{"SK" + rep("0", 32), "TASK_MASK", "SK" + rep("0a1b", 20)}},
		{"twilio-auth-token",
			[]string{"TWILIO_AUTH_TOKEN=" + rep("0a1b2c3d4e5f6789", 32)},
			[]string{"TWILIO_AUTH_TOKEN=" + rep("0", 32), "twilio token"}},
		{"private-key",
			[]string{pem},
			[]string{"-----BEGIN " + "PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----", "-----BEGIN " + "RSA PRIVATE KEY-----\n"}},
		{"jwt",
			[]string{"Authorization: Bearer " + jwtHeader + "." + jwtBody + "." + mixed(43)},
			[]string{"eyJ" + "abc", jwtHeader + ".notjwt"}},
		{"url-credentials",
			[]string{"postgres://app:" + mixed(16) + "@db.internal:5432/app", "DATABASE_URL=mysql://root:" + mixed(12) + "@localhost/x"},
			[]string{"https://go.dev/doc", "postgres://user:password@host/db", "http://user:${DB_PASS}@host", "https://user@host/x", "smtp://a:b@c", "http://jane:p%40ssword@example.com", "https://aladdin:opensesame@vcs.example", "http://My%20User:My%20Pass@x.test/"}},
		{"generic-secret",
			[]string{`password = "` + mixed(16) + `"`, "API_KEY=" + rep("0a1b2c3d4e5f6789", 32), `client_secret: ` + mixed(20) + "!#"},
			[]string{`password = "changeme"`, `password = "` + rep("a", 16) + `"`, "token := p.next()", "secret = getSecret(ctx)", `password: "${DB_PASSWORD}"`, "tokens = tokenizeAll", "dec.tokenState = tokenArrayValue", "TOKEN_ALL_ACCESS = STANDARD_RIGHTS_REQUIRED |", "tokens = 2*maxCompilerConcurrency + minTokens*cfg.BuildP"}},
	}
	s := newScanner(t)
	ids := map[string]bool{}
	for _, r := range s.Rules() {
		ids[r.ID] = true
	}
	for _, tc := range cases {
		if !ids[tc.rule] {
			t.Fatalf("no built-in rule %q", tc.rule)
		}
		delete(ids, tc.rule)
		for i, p := range tc.pos {
			if !hasRule(s.ScanBytes([]byte("line one\n"+p+"\nline three\n"), "f.txt"), tc.rule) {
				t.Errorf("%s: positive case %d not found", tc.rule, i)
			}
		}
		for i, n := range tc.neg {
			if hasRule(s.ScanBytes([]byte("line one\n"+n+"\nline three\n"), "f.txt"), tc.rule) {
				t.Errorf("%s: negative case %d matched", tc.rule, i)
			}
		}
	}
	for id := range ids {
		t.Errorf("built-in rule %q has no test cases", id)
	}
}

func hasRule(ms []Match, id string) bool {
	for _, m := range ms {
		if m.Kind == KindRule && m.RuleID == id {
			return true
		}
	}
	return false
}

func TestRuleReportsOncePerSecret(t *testing.T) {
	s := newScanner(t)
	// Two keywords of the same rule near one secret: one finding.
	text := "password secret password = \"" + mixed(20) + "\"\n"
	n := 0
	for _, m := range s.ScanBytes([]byte(text), "f") {
		if m.RuleID == "generic-secret" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d generic-secret findings, want 1", n)
	}
}

func TestEntropyPerCharset(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want string
	}{{"deadbeef09", charsetHex}, {"abcXYZ123", charsetAlnum}, {"ab+/cd==", charsetBase64}, {"a!b@c#", charsetOther}} {
		if got := charset([]byte(tc.s)); got != tc.want {
			t.Errorf("charset(%q) = %s, want %s", tc.s, got, tc.want)
		}
	}
	if Entropy([]byte("aaaa")) != 0 || Entropy([]byte("ab")) != 1 {
		t.Fatal("bad entropy")
	}
}

func TestGenericSkipsTestFixtures(t *testing.T) {
	s := newScanner(t)
	line := []byte(`shared_secret = "` + mixed(20) + `"` + "\n")
	for _, p := range []string{"crypto/x_test.go", "a/testdata/v.json", "tests/x.py"} {
		if hasRule(s.ScanBytes(line, p), "generic-secret") {
			t.Errorf("generic-secret fired in test file %s", p)
		}
	}
	if !hasRule(s.ScanBytes(line, "config/app.yaml"), "generic-secret") {
		t.Errorf("generic-secret did not fire in a config file")
	}
	// Specific rules still run in tests.
	if !hasRule(s.ScanBytes([]byte("k := \"sk_live_"+mixed(24)+"\"\n"), "pay_test.go"), "stripe-live-key") {
		t.Errorf("stripe rule skipped a test file")
	}
}
