package schema

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func pemKey(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestFormats runs each built-in format against values it must accept and
// values it must refuse, in and outside production. Failures name the
// case index, never the value.
func TestFormats(t *testing.T) {
	key := pemKey(t)
	type tc struct {
		good, bad   []string
		goodOutside []string // valid only outside production
		badCheck    string   // the check a production-only refusal reports
	}
	cases := map[string]tc{
		"stripe-secret-key": {
			good:        []string{stripeLive, "rk_" + "live_" + "FAKEq8Lr2Vw9Xz4Nt6Bm3Kd"},
			goodOutside: []string{stripeTest, rkTest},
			badCheck:    CheckTestKey,
			bad:         []string{"", "sk_live_", "pk_" + "live_FAKEq8Lr2Vw9Xz4Nt6Bm3Kd", "sk_live_short", "sk_prod_FAKEq8Lr2Vw9Xz4Nt6Bm3Kd", "sk_" + "live_FAKE q8Lr2Vw9Xz4Nt6Bm3Kd"},
		},
		"stripe-webhook-secret": {
			good: []string{webhook, "whsec_" + "abcdefghijklmnop1234/+=="},
			bad:  []string{"", "whsec_", "whsec_short", "wh_FAKE7Hq2Zp9Lx4Rv8Nc1Tb6", "WHSEC_FAKE7Hq2Zp9Lx4Rv8Nc1Tb6"},
		},
		"postgres-url": {
			good: []string{"postgres://u:p@db:5432/app", "postgresql://dharmamind:Zx81@db.internal/dm?sslmode=require"},
			bad:  []string{"", "hunter2hunter2hunter2:rest", "postgres://db/app", "postgres://u@db/app", "postgres://u:@db/app", "mysql://u:p@db/app", "postgres://u:p@/app", "not a url", "://"},
		},
		"redis-url": {
			good: []string{"redis://localhost:6379/0", "rediss://:pw@cache.internal:6380", "redis://cache"},
			bad:  []string{"", "http://cache:6379", "redis://", "localhost:6379", "redis:///0"},
		},
		"url": {
			good: []string{"https://example.org/x", "ftp://h", "amqp://u:p@mq:5672/vh"},
			bad:  []string{"", "example.org", "/just/a/path", "https://", "mailto:a@b.c"},
		},
		"email": {
			good: []string{"user@example.org", "first.last+tag@mail.example.co.uk"},
			bad:  []string{"", "user", "user@", "@example.org", "User <user@example.org>", "user@localhost", "a b@c.d"},
		},
		"google-client-secret": {
			good: []string{googleSec, "abcdefghijklmnopqrstuv_-"},
			bad:  []string{"", "GOCSPX-short", "GOCSPX-" + strings.Repeat("a", 29), "gocspx-" + strings.Repeat("a", 28), "abc def ghi jkl mno pqrstu"},
		},
		"jwt-secret": {
			good: []string{"kq3Vd9Zr_T7mXw2LpB8sYh4NcF6jUe1GaR5tQo0iKzE", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			bad:  []string{"", "short-but-random-Zx81Qv", strings.Repeat("a", 64), strings.Repeat("0123456789abcdef", 4), "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbcccccccc"},
		},
		"uuid": {
			good: []string{"123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000", "123E4567-E89B-12D3-A456-426614174000"},
			bad:  []string{"", "123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-42661417400g", "{123e4567-e89b-12d3-a456-426614174000}"},
		},
		"hex": {
			good: []string{"00", "deadBEEF", "0123456789abcdef"},
			bad:  []string{"", "abc", "0x00", "zz", "de ad"},
		},
		"base64": {
			good: []string{"aGVsbG8=", "aGVsbG8", "-_-_", "YWJj+/=="[:4]},
			bad:  []string{"", "not base64!", "a", "ab=c"},
		},
		"pem-private-key": {
			good: []string{key, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"},
			bad: []string{"", "PRIVATE KEY", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
				"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", key + "trailing"},
		},
		"aws-access-key-id": {
			good: []string{"AKIA" + "IOSFODNN7ABCDEFG", "ASIA" + "ZZZZ2222YYYY7777"},
			bad:  []string{"", "AKIA", "AKIA" + "iosfodnn7abcdefg", "AKIA" + "IOSFODNN7ABCDEF1", "XKIA" + "IOSFODNN7ABCDEFG", "AKIA" + "IOSFODNN7ABCDEFGH"},
		},
		"aws-secret-access-key": {
			good: []string{strings.Repeat("wJalrXUtnFEMI/K7MDENG+", 2)[:40]},
			bad:  []string{"", "short", strings.Repeat("a", 41), strings.Repeat("a", 39) + "-"},
		},
	}
	for _, f := range Formats() {
		if _, ok := cases[f.Name]; !ok {
			t.Errorf("format %s has no test cases", f.Name)
		}
	}
	for name, c := range cases {
		f, ok := LookupFormat(name)
		if !ok {
			t.Errorf("no format %s", name)
			continue
		}
		if len(c.good) == 0 || len(c.bad) == 0 {
			t.Errorf("%s needs positive and negative cases", name)
		}
		for i, v := range c.good {
			for _, prod := range []bool{true, false} {
				err := f.Check(v, prod)
				var fe *FormatError
				if err != nil && !(errors.As(err, &fe) && fe.Check == CheckLiveKey && !prod) {
					t.Errorf("%s: good case #%d (production=%v) refused: %v", name, i, prod, err)
				}
			}
		}
		for i, v := range c.goodOutside {
			if err := f.Check(v, false); err != nil {
				t.Errorf("%s: case #%d refused outside production: %v", name, i, err)
			}
			var fe *FormatError
			if err := f.Check(v, true); !errors.As(err, &fe) || fe.Check != c.badCheck {
				t.Errorf("%s: case #%d in production: got %v, want a %s error", name, i, err, c.badCheck)
			}
		}
		for i, v := range c.bad {
			for _, prod := range []bool{true, false} {
				err := f.Check(v, prod)
				if err == nil {
					t.Errorf("%s: bad case #%d (production=%v) accepted", name, i, prod)
					continue
				}
				if len(v) >= 16 && (strings.Contains(err.Error(), v) || strings.Contains(err.Error(), "hunter2")) {
					t.Errorf("%s: the error for bad case #%d contains the value", name, i)
				}
			}
		}
	}
}

func TestEstimateBits(t *testing.T) {
	for _, tc := range []struct {
		v        string
		min, max float64
	}{
		{"", 0, 0},
		{"aaaaaaaa", 0, 0},
		{"abababababab", 0, 2.1},
		{"abcdefgh", 23.9, 24.1},
		{"kq3Vd9Zr_T7mXw2LpB8sYh4NcF6jUe1GaR5tQo0iKzE", 200, 260},
	} {
		if b := EstimateBits(tc.v); b < tc.min || b > tc.max {
			t.Errorf("EstimateBits(len %d) = %.1f, want [%v, %v]", len(tc.v), b, tc.min, tc.max)
		}
	}
}
