package schema

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
)

// Fake values, assembled from parts so that no scanner mistakes this file
// for one holding credentials.
var (
	stripeLive = "sk_" + "live_" + "FAKEq8Lr2Vw9Xz4Nt6Bm3Kd"
	stripeTest = "sk_" + "test_" + "FAKEq8Lr2Vw9Xz4Nt6Bm3Kd"
	rkTest     = "rk_" + "test_" + "FAKEq8Lr2Vw9Xz4Nt6Bm3Kd"
	webhook    = "whsec_" + "FAKE7Hq2Zp9Lx4Rv8Nc1Tb6"
	googleSec  = "GOCSPX-" + "FAKE9Qw2Er7Ty4Ui1Op6As3Df8Gh"
)

func goodProduction() map[string]string {
	return map[string]string{
		"JWT_SECRET_KEY":        "kq3Vd9Zr_T7mXw2LpB8sYh4NcF6jUe1GaR5tQo0iKzE",
		"DATABASE_URL":          "postgres://dharmamind:Zx81Qv0LmT4r@db.internal:5432/dharmamind?sslmode=require",
		"REDIS_URL":             "rediss://:Pw9s8d7fK2@cache.internal:6379/0",
		"STRIPE_SECRET_KEY":     stripeLive,
		"STRIPE_WEBHOOK_SECRET": webhook,
		"GOOGLE_CLIENT_SECRET":  googleSec,
		"SMTP_PASSWORD":         "m4il-Pa55-Qx7rTz",
	}
}

func goodDevelopment() map[string]string {
	return map[string]string{
		"JWT_SECRET_KEY":        "Dv7_pL2qR9sT4uW1xY8zA3bC6dE0fG5hJ2kM9nPq",
		"DATABASE_URL":          "postgres://dev:devpw@localhost:5432/dharmamind",
		"REDIS_URL":             "redis://localhost:6379/0",
		"STRIPE_SECRET_KEY":     stripeTest,
		"STRIPE_WEBHOOK_SECRET": "whsec_" + "FAKEdev0Dev1Dev2Dev3Dev4",
		"GOOGLE_CLIENT_SECRET":  "GOCSPX-" + "FAKEdev9Qw2Er7Ty4Ui1Op6As3Df",
		"SMTP_PASSWORD":         "dev-smtp-password-local",
	}
}

const exampleFile = `# copy to .env and fill in
JWT_SECRET_KEY=
DATABASE_URL=postgresql://user:pass@localhost/dharmamind
SMTP_PASSWORD=sm7p-Sample-Pw-2024
`

func putAll(t *testing.T, s *keyward.Store, vals map[string]string) {
	t.Helper()
	for k, v := range vals {
		if _, err := s.Put(context.Background(), k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// project copies the dharmamind example into a fresh directory with a
// .env.example and a .gitignore.
func project(t *testing.T) (dir string, cfg *Config) {
	t.Helper()
	dir = t.TempDir()
	b, err := os.ReadFile("../examples/dharmamind/keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "keyward.yaml", string(b), 0o644)
	write(t, dir, ".env.example", exampleFile, 0o644)
	write(t, dir, ".gitignore", ".env\n", 0o644)
	cfg, err = Load(filepath.Join(dir, "keyward.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

func write(t *testing.T, dir, name, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func gitInit(t *testing.T, dir string, add ...string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed for the .env tracking checks")
	}
	run := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=t@t", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	if len(add) > 0 {
		run(append([]string{"add", "-f", "--"}, add...)...)
		run("commit", "-q", "-m", "x")
	}
}

type plant struct {
	name   string
	prod   func(m map[string]string) // changes the production values
	dev    func(m map[string]string) // changes the development values
	files  func(t *testing.T, dir string)
	check  string
	secret string // "" for file findings
}

func set(k, v string) func(map[string]string) { return func(m map[string]string) { m[k] = v } }
func del(k string) func(map[string]string)    { return func(m map[string]string) { delete(m, k) } }

// TestValidatePlantedDefects is the "Done when" table: validate --env
// production on the dharmamind example catches every planted defect, and
// never prints a value while doing so.
func TestValidatePlantedDefects(t *testing.T) {
	cases := []plant{
		{name: "missing JWT_SECRET_KEY", prod: del("JWT_SECRET_KEY"), check: CheckRequired, secret: "JWT_SECRET_KEY"},
		{name: "missing DATABASE_URL", prod: del("DATABASE_URL"), check: CheckRequired, secret: "DATABASE_URL"},
		{name: "missing REDIS_URL", prod: del("REDIS_URL"), check: CheckRequired, secret: "REDIS_URL"},
		{name: "missing STRIPE_SECRET_KEY", prod: del("STRIPE_SECRET_KEY"), check: CheckRequired, secret: "STRIPE_SECRET_KEY"},
		{name: "missing STRIPE_WEBHOOK_SECRET", prod: del("STRIPE_WEBHOOK_SECRET"), check: CheckRequired, secret: "STRIPE_WEBHOOK_SECRET"},
		{name: "missing GOOGLE_CLIENT_SECRET", prod: del("GOOGLE_CLIENT_SECRET"), check: CheckRequired, secret: "GOOGLE_CLIENT_SECRET"},
		{name: "missing SMTP_PASSWORD", prod: del("SMTP_PASSWORD"), check: CheckRequired, secret: "SMTP_PASSWORD"},
		{name: "empty JWT_SECRET_KEY", prod: set("JWT_SECRET_KEY", ""), check: CheckRequired, secret: "JWT_SECRET_KEY"},
		{name: "short JWT_SECRET_KEY", prod: set("JWT_SECRET_KEY", "kq3Vd9Zr_T7mXw2LpB8sYh4NcF6jUe1"), check: CheckMinLength, secret: "JWT_SECRET_KEY"},
		{name: "short SMTP_PASSWORD", prod: set("SMTP_PASSWORD", "Qx7rTz9"), check: CheckMinLength, secret: "SMTP_PASSWORD"},
		{name: "low entropy JWT repeated char", prod: set("JWT_SECRET_KEY", strings.Repeat("a", 40)), check: CheckEntropy, secret: "JWT_SECRET_KEY"},
		{name: "low entropy JWT repeated unit", prod: set("JWT_SECRET_KEY", strings.Repeat("abc1", 12)), check: CheckEntropy, secret: "JWT_SECRET_KEY"},
		{name: "low entropy JWT two letters", prod: set("JWT_SECRET_KEY", "abababababbababaabababbabababaabababab"), check: CheckEntropy, secret: "JWT_SECRET_KEY"},
		{name: "stripe wrong prefix", prod: set("STRIPE_SECRET_KEY", "pk_"+"live_FAKEq8Lr2Vw9Xz4Nt6Bm3Kd"), check: CheckFormat, secret: "STRIPE_SECRET_KEY"},
		{name: "stripe test key in production", prod: set("STRIPE_SECRET_KEY", stripeTest), check: CheckTestKey, secret: "STRIPE_SECRET_KEY"},
		{name: "stripe restricted test key in production", prod: set("STRIPE_SECRET_KEY", rkTest), check: CheckTestKey, secret: "STRIPE_SECRET_KEY"},
		{name: "test key in another secret", prod: set("GOOGLE_CLIENT_SECRET", stripeTest), check: CheckTestKey, secret: "GOOGLE_CLIENT_SECRET"},
		{name: "webhook wrong prefix", prod: set("STRIPE_WEBHOOK_SECRET", "wh_FAKE7Hq2Zp9Lx4Rv8Nc1Tb6"), check: CheckFormat, secret: "STRIPE_WEBHOOK_SECRET"},
		{name: "database not postgres", prod: set("DATABASE_URL", "mysql://u:Zx81Qv0LmT4r@db.internal/dharmamind"), check: CheckFormat, secret: "DATABASE_URL"},
		{name: "database without password", prod: set("DATABASE_URL", "postgres://dharmamind@db.internal/dharmamind"), check: CheckFormat, secret: "DATABASE_URL"},
		{name: "database guide placeholder", prod: set("DATABASE_URL", "postgresql://..."), check: CheckPlaceholder, secret: "DATABASE_URL"},
		{name: "database example host", prod: set("DATABASE_URL", "postgres://u:Zx81Qv0LmT4r@db.example.com/app"), check: CheckPlaceholder, secret: "DATABASE_URL"},
		{name: "database from .env.example", prod: set("DATABASE_URL", "postgresql://user:pass@localhost/dharmamind"), check: CheckPlaceholder, secret: "DATABASE_URL"},
		{name: "redis wrong scheme", prod: set("REDIS_URL", "http://cache.internal:6379"), check: CheckFormat, secret: "REDIS_URL"},
		{name: "google secret malformed", prod: set("GOOGLE_CLIENT_SECRET", "GOCSPX-short"), check: CheckFormat, secret: "GOOGLE_CLIENT_SECRET"},
		{name: "jwt changeme", prod: set("JWT_SECRET_KEY", "changeme-changeme-changeme-changeme"), check: CheckPlaceholder, secret: "JWT_SECRET_KEY"},
		{name: "jwt guide placeholder", prod: set("JWT_SECRET_KEY", "your-secret"), check: CheckPlaceholder, secret: "JWT_SECRET_KEY"},
		{name: "jwt template", prod: set("JWT_SECRET_KEY", "${JWT_SECRET_KEY_FROM_SOMEWHERE_ELSE_PLEASE}"), check: CheckPlaceholder, secret: "JWT_SECRET_KEY"},
		{name: "jwt xxx", prod: set("JWT_SECRET_KEY", strings.Repeat("x", 48)), check: CheckPlaceholder, secret: "JWT_SECRET_KEY"},
		{name: "smtp well-known word", prod: set("SMTP_PASSWORD", "LetMeIn"), check: CheckPlaceholder, secret: "SMTP_PASSWORD"},
		{name: "smtp your-", prod: set("SMTP_PASSWORD", "your-smtp-password"), check: CheckPlaceholder, secret: "SMTP_PASSWORD"},
		{name: "smtp from .env.example", prod: set("SMTP_PASSWORD", "sm7p-Sample-Pw-2024"), check: CheckPlaceholder, secret: "SMTP_PASSWORD"},
		{name: "smtp test value", prod: set("SMTP_PASSWORD", "test_mailer_pw_1"), check: CheckPlaceholder, secret: "SMTP_PASSWORD"},
		{name: "binary value", prod: set("SMTP_PASSWORD", "\x00\xff\xfe binary pw \x01"), check: CheckBinary, secret: "SMTP_PASSWORD"},
		{name: "jwt reused across environments", dev: func(m map[string]string) { m["JWT_SECRET_KEY"] = goodProduction()["JWT_SECRET_KEY"] }, check: CheckReuse, secret: "JWT_SECRET_KEY"},
		{name: "database reused across environments", dev: func(m map[string]string) { m["DATABASE_URL"] = goodProduction()["DATABASE_URL"] }, check: CheckReuse, secret: "DATABASE_URL"},
		{name: "stripe live key reused in development", dev: set("STRIPE_SECRET_KEY", stripeLive), check: CheckReuse, secret: "STRIPE_SECRET_KEY"},
		{name: "tracked .env", files: func(t *testing.T, dir string) {
			write(t, dir, ".env", "JWT_SECRET_KEY=x\n", 0o600)
			gitInit(t, dir, ".env")
		}, check: CheckDotenvTracked},
		{name: ".env not in .gitignore", files: func(t *testing.T, dir string) {
			write(t, dir, ".gitignore", "node_modules/\n", 0o644)
			write(t, dir, ".env", "JWT_SECRET_KEY=x\n", 0o600)
			gitInit(t, dir)
		}, check: CheckDotenvIgnored},
		{name: ".env.production world-readable", files: func(t *testing.T, dir string) {
			write(t, dir, ".env.production", "JWT_SECRET_KEY=x\n", 0o644)
		}, check: CheckDotenvPerms},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d planted defects; the issue asks for at least 30", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, cfg := project(t)
			prodVals, devVals := goodProduction(), goodDevelopment()
			if tc.prod != nil {
				tc.prod(prodVals)
			}
			if tc.dev != nil {
				tc.dev(devVals)
			}
			if tc.files != nil {
				tc.files(t, dir)
			}
			rep := validateMem(t, cfg, prodVals, devVals)
			if rep.Valid && DefaultSeverity(tc.check) == SeverityError {
				t.Errorf("report is valid; want a %s finding", tc.check)
			}
			found := false
			for _, f := range rep.All() {
				if f.Check == tc.check && f.Secret == tc.secret {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s finding for %q; got %s", tc.check, tc.secret, summary(rep))
			}
			assertNoValues(t, rep, prodVals, devVals)
		})
	}
}

func summary(r *Report) string {
	var s []string
	for _, f := range r.All() {
		s = append(s, f.Check+"/"+f.Secret+f.File)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func validateMem(t *testing.T, cfg *Config, prodVals, devVals map[string]string) *Report {
	t.Helper()
	prod := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://prod"})
	dev := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://dev"})
	putAll(t, prod, prodVals)
	putAll(t, dev, devVals)
	rep, err := cfg.Validate(context.Background(), prod, "production", &ValidateOptions{
		OpenEnv: func(_ context.Context, env string) (*keyward.Store, error) {
			switch env {
			case "development":
				return dev, nil
			case "staging": // the example's staging store (AWS): empty here
				return mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://staging"}), nil
			}
			t.Errorf("opened environment %q", env)
			return dev, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// assertNoValues renders the report every way and fails if any stored
// value (of length 6 or more) appears; it names the secret, never the value.
func assertNoValues(t *testing.T, rep *Report, maps ...map[string]string) {
	t.Helper()
	var table, js, sarif bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteSARIF(&sarif); err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		for k, v := range m {
			if len(v) < 6 {
				continue
			}
			for name, out := range map[string]string{"table": table.String(), "json": js.String(), "sarif": sarif.String()} {
				if strings.Contains(out, v) {
					t.Errorf("the %s output contains the value of %s", name, k)
				}
			}
		}
	}
}

func TestValidateCorrectStorePasses(t *testing.T) {
	dir, cfg := project(t)
	write(t, dir, ".env", "X=1\n", 0o600)
	gitInit(t, dir)
	rep := validateMem(t, cfg, goodProduction(), goodDevelopment())
	if !rep.Valid || rep.Errors != 0 || rep.Warnings != 0 {
		t.Fatalf("correct store is not valid: %s", summary(rep))
	}
	if len(rep.Secrets) != 7 {
		t.Fatalf("report has %d secrets, want 7", len(rep.Secrets))
	}
	for _, s := range rep.Secrets {
		if s.Status != "ok" || !s.Present || s.Length == 0 {
			t.Errorf("%s: status %s present %v length %d", s.Name, s.Status, s.Present, s.Length)
		}
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "✓  JWT_SECRET_KEY") || !strings.Contains(buf.String(), "; valid") {
		t.Fatalf("table:\n%s", buf.String())
	}
}

func TestValidateDevelopmentAllowsTestKeys(t *testing.T) {
	_, cfg := project(t)
	dev := mem.NewBackend().OpenStore(nil)
	putAll(t, dev, goodDevelopment())
	rep, err := cfg.Validate(context.Background(), dev, "development", &ValidateOptions{NoFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Production {
		t.Fatalf("development with test keys: valid=%v production=%v %s", rep.Valid, rep.Production, summary(rep))
	}
	// A live key outside production is a warning, not an error.
	vals := goodDevelopment()
	vals["STRIPE_SECRET_KEY"] = stripeLive
	dev = mem.NewBackend().OpenStore(nil)
	putAll(t, dev, vals)
	rep, err = cfg.Validate(context.Background(), dev, "development", &ValidateOptions{NoFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Warnings != 1 || rep.Secrets[3].Findings[0].Check != CheckLiveKey {
		t.Fatalf("live key in development: %s", summary(rep))
	}
	rep, err = cfg.Validate(context.Background(), dev, "development", &ValidateOptions{NoFiles: true, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid {
		t.Fatal("strict mode let a warning pass")
	}
}

func TestValidateSeverityConfig(t *testing.T) {
	cfg := mustParse(t, `
environments:
  production: mem://x
validate:
  checks:
    min-length: warning
    placeholder: "off"
secrets:
  A: {min_length: 10}
  B:
    required: false
  C:
    environments:
      production: {required: false}
`)
	s := mem.NewBackend().OpenStore(nil)
	putAll(t, s, map[string]string{"A": "changeme"})
	rep, err := cfg.Validate(context.Background(), s, "production", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Warnings != 1 || rep.Errors != 0 {
		t.Fatalf("severity config not applied: %s", summary(rep))
	}
	if rep.Secrets[1].Status != "skipped" || rep.Secrets[2].Status != "skipped" {
		t.Fatalf("optional secrets: %s %s", rep.Secrets[1].Status, rep.Secrets[2].Status)
	}
}

func TestValidateRotationOverdue(t *testing.T) {
	cfg := mustParse(t, `
secrets:
  K:
    rotation: {every: 90d, method: automated}
`)
	s := mem.NewBackend().OpenStore(nil)
	putAll(t, s, map[string]string{"K": "Zx81Qv0LmT4rkq3Vd9Zr"})
	now := func() time.Time { return time.Now().Add(91 * 24 * time.Hour) }
	rep, err := cfg.Validate(context.Background(), s, "", &ValidateOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.All(); len(f) != 1 || f[0].Check != CheckRotationOverdue || f[0].Severity != SeverityWarning {
		t.Fatalf("want one rotation-overdue warning, got %s", summary(rep))
	}
}

func TestValidateUnknownEnvironment(t *testing.T) {
	_, cfg := project(t)
	_, err := cfg.Validate(context.Background(), mem.NewBackend().OpenStore(nil), "prodution", nil)
	if keyward.ErrorCode(err) != keyward.InvalidArgument || !strings.Contains(err.Error(), `did you mean "production"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestPlaceholderReason(t *testing.T) {
	ex := map[string]bool{"from-example-file": true}
	for _, v := range []string{"changeme", "CHANGEME", "secret", "password", "test", "example", "xxx", "xxxxxxxxxx",
		"your-secret", "your-api-key-here", "postgresql://...", "<your key>", "${SECRET}", "{{ .Secret }}", "from-example-file",
		"REPLACE_ME_WITH_REAL", "AKIAIOSFODNN7EXAMPLE", "000000", "dummy-value", "test-key-123"} {
		if placeholderReason(v, ex) == "" {
			t.Errorf("value #%d (length %d) not seen as a placeholder", len(v), len(v))
		}
	}
	for _, v := range []string{"kq3Vd9Zr_T7mXw2LpB8sYh4NcF6jUe1GaR5tQo0iKzE", "postgres://u:Zx81Qv0L@db.internal/app", "m4il-Pa55-Qx7rTz", "s3cr3t-but-real-9Qz"} {
		if r := placeholderReason(v, ex); r != "" {
			t.Errorf("value of length %d seen as a placeholder: %s", len(v), r)
		}
	}
}

func TestValidateFindsKeywardYAML(t *testing.T) {
	dir, _ := project(t)
	sub := filepath.Join(dir, "backend", "app")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	s := mem.NewBackend().OpenStore(nil)
	putAll(t, s, goodProduction())
	rep, err := Validate(context.Background(), s, "production")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || !rep.Production || rep.Config != filepath.Join(dir, "keyward.yaml") {
		t.Fatalf("valid=%v production=%v config=%q %s", rep.Valid, rep.Production, rep.Config, summary(rep))
	}
	t.Chdir(t.TempDir())
	if _, err := Validate(context.Background(), s, "production"); keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatalf("without keyward.yaml: %v", err)
	}
}
