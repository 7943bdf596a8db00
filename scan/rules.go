package scan

import (
	"bytes"
	"math"
	"net/url"
	"regexp"

	"github.com/keyward/keyward/internal/lazyre"
)

// A Rule finds one credential format. The scanner never runs a rule's
// regular expression over a whole file: it finds the rule's Keywords with
// the same automaton that finds managed values, and runs Regex only on a
// small window anchored at each hit: Before bytes before the keyword and
// After bytes after it, and no more than the longest match Regex can
// produce. A Regex with an unbounded repeat (x*, x+) runs on the hit's
// whole lines instead (at most 1 KiB each way).
type Rule struct {
	ID          string
	Description string
	// Keywords anchor the rule. They are matched case-insensitively for
	// ASCII (any mix of cases) unless CaseSensitive.
	// A rule with no keywords runs over whole files (slow; loaded rule
	// files only).
	Keywords      []string
	CaseSensitive bool
	Regex         *regexp.Regexp
	// SecretGroup is the regexp group holding the secret (0: whole match;
	// if 0 and the regexp has groups, the first non-empty group).
	SecretGroup int
	// Entropy is the minimum Shannon entropy (bits per character) of the
	// secret; 0 means no check.
	Entropy float64
	// Before and After size the window around a keyword (defaults 128, 512).
	Before, After int
	// Path, if set, limits the rule to files whose path matches.
	Path *regexp.Regexp
	// Allow are regexps; a secret (or, with AllowMatch, the whole match)
	// matching any of them is not reported.
	Allow      []*regexp.Regexp
	AllowMatch bool
	// AllowPaths are regexps of paths the rule ignores.
	AllowPaths []*regexp.Regexp
	// Stopwords: a secret containing one of them is not reported.
	Stopwords []string
	// Check, if set, must accept the secret; match is the whole regexp
	// match around it. Built-in rules use it for per-character-set entropy
	// and placeholder checks.
	Check func(secret, match []byte) bool

	// builtin rules also apply the example-value allow-list (allow.go).
	builtin bool
	// anchor: every match starts where a keyword does, so the regexp runs
	// once, anchored, at each keyword hit (engine.go).
	anchor bool
	// requires is a literal every match contains: a window without it is
	// not searched.
	requires string
}

func (r *Rule) before() int {
	if r.Before > 0 {
		return r.Before
	}
	return 128
}

func (r *Rule) after() int {
	if r.After > 0 {
		return r.After
	}
	return 512
}

// Entropy is the Shannon entropy of b in bits per byte.
func Entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// Character sets for the generic rule's entropy thresholds.
const (
	charsetHex    = "hex"
	charsetAlnum  = "alnum"
	charsetBase64 = "base64"
	charsetOther  = "other"
)

func charset(b []byte) string {
	hexOnly, alnum, b64 := true, true, true
	for _, c := range b {
		isDigit := c >= '0' && c <= '9'
		isLower := c >= 'a' && c <= 'z'
		isUpper := c >= 'A' && c <= 'Z'
		if !(isDigit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			hexOnly = false
		}
		if !(isDigit || isLower || isUpper) {
			alnum = false
			if !(c == '+' || c == '/' || c == '=' || c == '-' || c == '_') {
				b64 = false
			}
		}
	}
	switch {
	case hexOnly:
		return charsetHex
	case alnum:
		return charsetAlnum
	case b64:
		return charsetBase64
	}
	return charsetOther
}

// GenericEntropy is the minimum entropy, in bits per character, that the
// generic password=/secret= rule asks of a value, by character set. A
// random string over a small alphabet cannot reach the entropy of one over
// a large alphabet, so one threshold for all would either miss random hex
// or flag English words in mixed case.
var GenericEntropy = map[string]float64{
	charsetHex:    3.0,
	charsetAlnum:  3.3,
	charsetBase64: 3.5,
	charsetOther:  3.0,
}

var placeholders = []string{
	"password", "passwd", "secret", "example", "changeme", "change_me", "xxxx", "****", "....",
	"your", "redacted", "placeholder", "dummy", "sample", "todo", "fixme", "<", ">", "${", "{{",
	"$(", "%s", "%v", "%d", "null", "none", "undefined", "true", "false", "test",
}

func isPlaceholder(s []byte) bool {
	l := bytes.ToLower(s)
	for _, p := range placeholders {
		if bytes.Contains(l, []byte(p)) {
			return true
		}
	}
	return false
}

// classes counts the character classes (lower, upper, digit, symbol) in b.
func classes(b []byte) int {
	var lo, up, di, sy int
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			lo = 1
		case c >= 'A' && c <= 'Z':
			up = 1
		case c >= '0' && c <= '9':
			di = 1
		default:
			sy = 1
		}
	}
	return lo + up + di + sy
}

func genericCheck(s, match []byte) bool {
	if len(s) < 8 || isPlaceholder(s) || classes(s) < 2 {
		return false
	}
	// An unquoted value without a digit is almost always code (another
	// identifier, a constant expression), not a literal secret.
	i := bytes.LastIndex(match, s)
	quoted := i > 0 && bytes.IndexByte([]byte("\"'`"), match[i-1]) >= 0
	if !quoted && !bytes.ContainsAny(s, "0123456789") {
		return false
	}
	if bytes.ContainsAny(s, "*+") && !quoted {
		return false
	}
	// Identifiers and dotted field accesses (code, not values).
	if bytes.ContainsAny(s, "()[]{}") || genericNotSecret.Match(s) {
		return false
	}
	return Entropy(s) >= GenericEntropy[charset(s)]
}

func entropyAtLeast(h float64) func(_, _ []byte) bool {
	return func(s, _ []byte) bool { return Entropy(s) >= h }
}

func urlPasswordCheck(s, _ []byte) bool {
	if len(s) < 6 || s[0] == '$' || s[0] == '%' {
		return false
	}
	// Judge the decoded password: "p%40ssword" is "p@ssword".
	if d, err := url.PathUnescape(string(s)); err == nil {
		s = []byte(d)
	}
	if isPlaceholder(s) || bytes.ContainsAny(s, " ^") || bytes.Contains(bytes.ToLower(s), []byte("ssw")) {
		return false
	}
	// A single lower-case word is a documentation example, not a secret.
	if classes(s) < 2 {
		return false
	}
	return Entropy(s) >= 3.0
}

// testPaths are test fixtures and test sources. Only the heuristic
// generic-secret rule skips them: they are full of high-entropy test vectors
// assigned to names like shared_secret. Managed values and the specific
// format rules are still searched there.
var testPaths = lazyre.New(`(?:^|/)testdata/|_test\.go$|(?:^|/)(?:test|tests|__tests__|spec)/|\.test\.[jt]sx?$`)

func mustRule(r Rule, expr string) *Rule {
	r.Regex = regexp.MustCompile(expr)
	r.builtin = true
	r.AllowPaths = append(r.AllowPaths, noisePaths.Regexp())
	return &r
}

// BuiltinRules returns the built-in format rules (fresh copies).
func BuiltinRules() []*Rule {
	cs := func(r Rule) Rule { r.CaseSensitive = true; return r }
	return []*Rule{
		mustRule(cs(Rule{ID: "aws-access-key-id", anchor: true, Description: "AWS access key ID",
			Keywords: []string{"AKIA", "ASIA", "ABIA", "ACCA"}, Before: 1, After: 24,
			Check: entropyAtLeast(3.0)}),
			`\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`),
		mustRule(Rule{ID: "aws-secret-access-key", Description: "AWS secret access key",
			Keywords: []string{"aws_secret", "aws-secret", "awssecret", "secret_access_key", "secretaccesskey"},
			Before:   32, After: 120, Check: entropyAtLeast(4.0)},
			`(?i)(?:aws.?)?secret.?(?:access.?)?key(?:.?id)?["']?\s*(?:[:=]|:=|=>)\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
		mustRule(cs(Rule{ID: "stripe-live-key", anchor: true, Description: "Stripe live secret or restricted key",
			Keywords: []string{"sk_live_", "rk_live_"}, Before: 1, After: 128}),
			`\b((?:sk|rk)_live_[0-9A-Za-z]{24,99})\b`),
		mustRule(cs(Rule{ID: "stripe-webhook-secret", anchor: true, Description: "Stripe webhook signing secret",
			Keywords: []string{"whsec_"}, Before: 1, After: 128, Check: entropyAtLeast(3.0)}),
			`\b(whsec_[0-9A-Za-z+/]{32,})`),
		mustRule(cs(Rule{ID: "github-token", anchor: true, Description: "GitHub token",
			Keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, Before: 1, After: 48,
			Check: entropyAtLeast(3.0)}),
			`\b((?:ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36})\b`),
		mustRule(cs(Rule{ID: "github-fine-grained-pat", anchor: true, Description: "GitHub fine-grained personal access token",
			Keywords: []string{"github_pat_"}, Before: 1, After: 100, Check: entropyAtLeast(3.0)}),
			`\b(github_pat_[0-9A-Za-z_]{82})\b`),
		mustRule(cs(Rule{ID: "slack-token", anchor: true, Description: "Slack token",
			Keywords: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"}, Before: 1, After: 200}),
			`\b(xox[bpares]-[0-9]{8,14}-[0-9A-Za-z-]{10,200})`),
		mustRule(cs(Rule{ID: "slack-webhook", anchor: true, Description: "Slack incoming webhook URL",
			Keywords: []string{"hooks.slack.com/"}, Before: 8, After: 120}),
			`(hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,12}/[AB][A-Z0-9]{6,12}/[A-Za-z0-9]{20,40})`),
		mustRule(cs(Rule{ID: "google-api-key", anchor: true, Description: "Google API key",
			Keywords: []string{"AIza"}, Before: 1, After: 40, Check: entropyAtLeast(3.5)}),
			`\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)`),
		mustRule(cs(Rule{ID: "gcp-service-account-key", anchor: true, Description: "Google Cloud service-account key file",
			Keywords: []string{`"private_key_id"`}, Before: 1, After: 80}),
			`"private_key_id"\s{0,8}:\s{0,8}"([0-9a-f]{40})"`),
		mustRule(cs(Rule{ID: "sendgrid-api-key", anchor: true, Description: "SendGrid API key",
			Keywords: []string{"SG."}, Before: 1, After: 72, Check: entropyAtLeast(3.5)}),
			`\b(SG\.[0-9A-Za-z_\-]{22}\.[0-9A-Za-z_\-]{43})(?:[^0-9A-Za-z_\-]|$)`),
		mustRule(cs(Rule{ID: "twilio-api-key", anchor: true, Description: "Twilio API key",
			Keywords: []string{"SK"}, Before: 1, After: 34, Check: func(s, _ []byte) bool { return classes(s[2:]) >= 2 && Entropy(s) >= 3.0 }}),
			`\b(SK[0-9a-fA-F]{32})\b`),
		mustRule(Rule{ID: "twilio-auth-token", anchor: true, Description: "Twilio auth token",
			Keywords: []string{"twilio"}, Before: 8, After: 80, Check: entropyAtLeast(3.0)},
			`(?i)twilio.{0,20}?(?:auth.?)?token["']?\s*(?:[:=]|:=|=>)\s*["']?([0-9a-f]{32})\b`),
		mustRule(cs(Rule{ID: "private-key", Description: "Private key block", requires: "-----END",
			Keywords: []string{"-----BEGIN"}, Before: 1, After: 16384}),
			`-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]{64,}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----`),
		mustRule(cs(Rule{ID: "jwt", anchor: true, Description: "JSON Web Token",
			Keywords: []string{"eyJ"}, Before: 1, After: 4096}),
			`\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})`),
		mustRule(cs(Rule{ID: "url-credentials", Description: "Credentials in a URL", requires: "@",
			Keywords: []string{"://"}, Before: 24, After: 200, Check: urlPasswordCheck}),
			`\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:@/'"<>]{1,64}:([^\s:@/'"<>]{1,128})@[A-Za-z0-9][A-Za-z0-9.-]*`),
		mustRule(Rule{ID: "generic-secret", anchor: true, Description: "Password or secret assigned a high-entropy value",
			Keywords: []string{"password", "passwd", "secret", "api_key", "apikey", "api-key", "token", "auth_key"},
			Before:   32, After: 160, Check: genericCheck, AllowPaths: []*regexp.Regexp{testPaths.Regexp()}},
			`(?i)(?:password|passwd|secret|api[_-]?key|token|auth_key)[a-z0-9_.-]{0,20}["']?\s{0,3}(?:=|:=|:|=>)\s{0,3}["'\x60]?([^\s"'\x60;,]{8,100})(?:["'\x60;,]|\s|$)`),
	}
}
