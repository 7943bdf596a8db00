package schema

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math"
	"net/mail"
	"net/url"
	"sort"
	"strings"

	"github.com/keyward/keyward/internal/lazyre"
)

// Format is a built-in value format that a secret can declare with
// format:. Its check never puts the value in a message.
type Format struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	check       func(v string, production bool) *problem
}

// problem is one failed check: the check's name and a message about the
// value that never contains the value.
type problem struct {
	check string
	msg   string
}

func bad(msg string) *problem { return &problem{check: CheckFormat, msg: msg} }

// Check reports whether v is valid for the format in a production (or
// other) environment; the error never contains v.
func (f Format) Check(v string, production bool) error {
	if p := f.check(v, production); p != nil {
		return &FormatError{Format: f.Name, Check: p.check, Reason: p.msg}
	}
	return nil
}

// FormatError is why a value does not match a format. Check is the name of
// the check that failed (format, test-key or live-key).
type FormatError struct {
	Format string
	Check  string
	Reason string
}

func (e *FormatError) Error() string { return "not a valid " + e.Format + ": " + e.Reason }

// The format regexps compile on first use: a command that validates
// nothing (keyward run, get) does not pay ~2.5 ms of start-up for them.
var (
	stripeKeyRE     = lazyre.New(`^(sk|rk)_(live|test)_[A-Za-z0-9]{16,247}$`)
	stripeWebhookRE = lazyre.New(`^whsec_[A-Za-z0-9+/=]{16,}$`)
	googleSecretRE  = lazyre.New(`^(GOCSPX-[A-Za-z0-9_-]{28}|[A-Za-z0-9_-]{24})$`)
	uuidRE          = lazyre.New(`^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})$`)
	hexRE           = lazyre.New(`^(?:[0-9a-fA-F]{2})+$`)
	awsKeyIDRE      = lazyre.New(`^(AKIA|ASIA)[A-Z2-7]{16}$`)
	awsSecretRE     = lazyre.New(`^[A-Za-z0-9/+]{40}$`)
)

// JWTMinBits is the estimated entropy a jwt-secret needs (HS256 wants a
// key of at least 256 bits; a character estimate of 128 bits catches weak,
// repetitive or dictionary keys without refusing good generated ones).
const JWTMinBits = 128

var formats = map[string]Format{}

func addFormat(f Format) { formats[f.Name] = f }

func init() {
	addFormat(Format{Name: "stripe-secret-key",
		Description: "Stripe secret or restricted key: sk_live_/rk_live_ in production; sk_test_/rk_test_ only outside production",
		check: func(v string, prod bool) *problem {
			m := stripeKeyRE.FindStringSubmatch(v)
			if m == nil {
				return bad("does not look like sk_live_…, rk_live_…, sk_test_… or rk_test_… followed by letters and digits")
			}
			if prod && m[2] == "test" {
				return &problem{CheckTestKey, "is a test-mode key (" + m[1] + "_test_…); production needs " + m[1] + "_live_…"}
			}
			if !prod && m[2] == "live" {
				return &problem{CheckLiveKey, "is a live-mode key (" + m[1] + "_live_…) outside production"}
			}
			return nil
		}})
	addFormat(Format{Name: "stripe-webhook-secret",
		Description: "Stripe webhook signing secret: whsec_ followed by at least 16 characters",
		check: func(v string, _ bool) *problem {
			if !stripeWebhookRE.MatchString(v) {
				return bad("does not start with whsec_ followed by at least 16 letters and digits")
			}
			return nil
		}})
	addFormat(Format{Name: "postgres-url",
		Description: "PostgreSQL connection URL postgres:// or postgresql:// with a host, a user and a password",
		check: func(v string, _ bool) *problem {
			return checkURL(v, []string{"postgres", "postgresql"}, true)
		}})
	addFormat(Format{Name: "redis-url",
		Description: "Redis URL redis:// or rediss:// with a host",
		check: func(v string, _ bool) *problem {
			return checkURL(v, []string{"redis", "rediss"}, false)
		}})
	addFormat(Format{Name: "url",
		Description: "absolute URL with a scheme and a host",
		check:       func(v string, _ bool) *problem { return checkURL(v, nil, false) }})
	addFormat(Format{Name: "email",
		Description: "a bare e-mail address, user@domain",
		check: func(v string, _ bool) *problem {
			a, err := mail.ParseAddress(v)
			if err != nil || a.Address != v || a.Name != "" || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") {
				return bad("is not a bare e-mail address like user@example.org")
			}
			return nil
		}})
	addFormat(Format{Name: "google-client-secret",
		Description: "Google OAuth client secret: GOCSPX- and 28 characters (or a legacy 24-character secret)",
		check: func(v string, _ bool) *problem {
			if !googleSecretRE.MatchString(v) {
				return bad("is not GOCSPX- followed by 28 letters, digits, _ or - (nor a legacy 24-character secret)")
			}
			return nil
		}})
	addFormat(Format{Name: "jwt-secret",
		Description: "HMAC signing key: at least 32 characters and an estimated 128 bits of entropy",
		check: func(v string, _ bool) *problem {
			if len(v) < 32 {
				return &problem{CheckFormat, "is shorter than 32 characters"}
			}
			if b := EstimateBits(v); b < JWTMinBits {
				return &problem{CheckEntropy, "has too little entropy (estimated " + itoa(int(b)) + " bits, needs " + itoa(JWTMinBits) + ")"}
			}
			return nil
		}})
	addFormat(Format{Name: "uuid",
		Description: "UUID, 8-4-4-4-12 hex digits or 32 hex digits",
		check: func(v string, _ bool) *problem {
			if !uuidRE.MatchString(v) {
				return bad("is not a UUID (8-4-4-4-12 or 32 hex digits)")
			}
			return nil
		}})
	addFormat(Format{Name: "hex",
		Description: "hexadecimal bytes: an even number of 0-9 a-f A-F",
		check: func(v string, _ bool) *problem {
			if !hexRE.MatchString(v) {
				return bad("is not an even number of hex digits")
			}
			return nil
		}})
	addFormat(Format{Name: "base64",
		Description: "standard or URL-safe base64, padded or not",
		check: func(v string, _ bool) *problem {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				if _, err := enc.DecodeString(v); err == nil && v != "" {
					return nil
				}
			}
			return bad("is not base64")
		}})
	addFormat(Format{Name: "pem-private-key",
		Description: "PEM-encoded private key (PKCS#8, PKCS#1, EC, OpenSSH or encrypted)",
		check: func(v string, _ bool) *problem {
			blk, rest := pem.Decode([]byte(v))
			if blk == nil || !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
				return bad("is not a PEM block of type … PRIVATE KEY")
			}
			if strings.TrimSpace(string(rest)) != "" {
				return bad("has text after the PEM block")
			}
			var err error
			switch blk.Type {
			case "PRIVATE KEY":
				_, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
			case "RSA PRIVATE KEY":
				_, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
			case "EC PRIVATE KEY":
				_, err = x509.ParseECPrivateKey(blk.Bytes)
			}
			if err != nil {
				return bad("is a PEM block whose " + blk.Type + " does not parse")
			}
			return nil
		}})
	addFormat(Format{Name: "aws-access-key-id",
		Description: "AWS access key ID: AKIA or ASIA and 16 upper-case letters and digits 2-7",
		check: func(v string, _ bool) *problem {
			if !awsKeyIDRE.MatchString(v) {
				return bad("is not AKIA or ASIA followed by 16 characters A-Z 2-7")
			}
			return nil
		}})
	addFormat(Format{Name: "aws-secret-access-key",
		Description: "AWS secret access key: 40 characters of A-Z a-z 0-9 / +",
		check: func(v string, _ bool) *problem {
			if !awsSecretRE.MatchString(v) {
				return bad("is not 40 characters of A-Z a-z 0-9 / +")
			}
			return nil
		}})
}

func checkURL(v string, schemes []string, creds bool) *problem {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" {
		return bad("is not a URL")
	}
	if schemes != nil && !containsStr(schemes, strings.ToLower(u.Scheme)) {
		// The scheme is not named: a value pasted in the wrong place
		// ("password:…") would otherwise be echoed.
		return bad("scheme is not " + strings.Join(schemes, ":// or ") + "://")
	}
	if u.Host == "" || u.Hostname() == "" {
		return bad("has no host")
	}
	if creds {
		if u.User == nil || u.User.Username() == "" {
			return bad("has no user name")
		}
		if pw, ok := u.User.Password(); !ok || pw == "" {
			return bad("has no password")
		}
	}
	return nil
}

// quoteName quotes a short, non-secret part such as a URL scheme, cut to 16
// characters so that a value pasted in the wrong place is not echoed.
func quoteName(s string) string {
	if len(s) > 16 {
		s = s[:16] + "…"
	}
	return `"` + s + `"`
}

// LookupFormat finds a built-in format by name.
func LookupFormat(name string) (Format, bool) {
	f, ok := formats[name]
	return f, ok
}

// Formats lists the built-in formats, sorted by name.
func Formats() []Format {
	out := make([]Format, 0, len(formats))
	for _, f := range formats {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FormatNames lists the built-in format names, sorted.
func FormatNames() []string {
	var out []string
	for _, f := range Formats() {
		out = append(out, f.Name)
	}
	return out
}

// EstimateBits estimates the entropy of v in bits from its character
// frequencies (length × Shannon entropy per character). It is an upper
// bound for structured values and a fair estimate for random ones; a
// repetitive or single-character value scores near zero.
func EstimateBits(v string) float64 {
	if v == "" {
		return 0
	}
	// A value that repeats a shorter unit is worth no more than the unit.
	if p := period(v); p < len(v) {
		return EstimateBits(v[:p])
	}
	var counts [256]int
	for i := 0; i < len(v); i++ {
		counts[v[i]]++
	}
	n := float64(len(v))
	h := 0.0
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h * n
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// period returns the length of the shortest unit that v repeats (len(v)
// when v is not a repetition).
func period(v string) int {
	n := len(v)
	for p := 1; p <= n/2; p++ {
		if n%p != 0 {
			continue
		}
		if strings.Repeat(v[:p], n/p) == v {
			return p
		}
	}
	return n
}
