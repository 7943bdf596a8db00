package schema

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// Severity says what a failed check means: an error fails validation, a
// warning is reported (and fails only in strict mode), off skips the check.
type Severity string

// The severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityOff     Severity = "off"
)

// The checks validate runs, by the name used in reports, SARIF rule ids and
// keyward.yaml's validate.checks.
const (
	CheckRequired        = "required"           // a required secret is missing or empty
	CheckBinary          = "binary"             // the value is not UTF-8 text
	CheckMinLength       = "min-length"         // shorter than min_length
	CheckFormat          = "format"             // does not match its format
	CheckPattern         = "pattern"            // does not match its pattern
	CheckTestKey         = "test-key"           // a test-mode key (sk_test_…) in production
	CheckLiveKey         = "live-key"           // a live-mode key outside production
	CheckPlaceholder     = "placeholder"        // a placeholder, default or example value in production
	CheckEntropy         = "entropy"            // a generated (or jwt-secret) value with too little entropy
	CheckReuse           = "reuse"              // the same value in another environment
	CheckRotationOverdue = "rotation-overdue"   // older than rotation.every
	CheckDotenvTracked   = "dotenv-tracked"     // a .env file tracked by git
	CheckDotenvIgnored   = "dotenv-gitignore"   // a .env file that .gitignore does not ignore
	CheckDotenvPerms     = "dotenv-permissions" // a .env file readable by group or others
)

var defaultSeverity = map[string]Severity{
	CheckRequired:        SeverityError,
	CheckBinary:          SeverityError,
	CheckMinLength:       SeverityError,
	CheckFormat:          SeverityError,
	CheckPattern:         SeverityError,
	CheckTestKey:         SeverityError,
	CheckLiveKey:         SeverityWarning,
	CheckPlaceholder:     SeverityError,
	CheckEntropy:         SeverityError,
	CheckReuse:           SeverityError,
	CheckRotationOverdue: SeverityWarning,
	CheckDotenvTracked:   SeverityError,
	CheckDotenvIgnored:   SeverityWarning,
	CheckDotenvPerms:     SeverityWarning,
}

var checkHelp = map[string]string{
	CheckRequired:        "A required secret is missing or empty.",
	CheckBinary:          "The value is not UTF-8 text (or contains NUL bytes).",
	CheckMinLength:       "The value is shorter than min_length.",
	CheckFormat:          "The value does not match its declared format.",
	CheckPattern:         "The value does not match its declared pattern.",
	CheckTestKey:         "A test-mode key (sk_test_, rk_test_, pk_test_) is used in production.",
	CheckLiveKey:         "A live-mode key is used outside production.",
	CheckPlaceholder:     "A placeholder, default or .env.example value is used in production.",
	CheckEntropy:         "A generated secret has too little entropy.",
	CheckReuse:           "The same value is used in another environment.",
	CheckRotationOverdue: "The current version is older than the rotation period.",
	CheckDotenvTracked:   "A .env file is tracked by git.",
	CheckDotenvIgnored:   "A .env file is not ignored by .gitignore.",
	CheckDotenvPerms:     "A .env file is readable by group or others.",
}

// CheckNames lists the checks, sorted.
func CheckNames() []string {
	out := make([]string, 0, len(defaultSeverity))
	for k := range defaultSeverity {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DefaultSeverity is a check's severity when keyward.yaml does not set one.
func DefaultSeverity(check string) Severity { return defaultSeverity[check] }

// GeneratedMinBits is the estimated entropy a value needs when its spec has
// generate: (every gen recipe gives at least 128 random bits; the estimate
// is per character, so the bar is lower to never fail a good value).
const GeneratedMinBits = 96

// ValidateOptions tune Validate. A nil *ValidateOptions means defaults.
type ValidateOptions struct {
	// Production forces production rules on (or off); nil lets the
	// environment decide (see Environment.IsProduction).
	Production *bool
	// OpenEnv opens another environment's store, for the reuse check. Nil
	// skips the reuse check. Compare, if set, limits it to those names.
	OpenEnv func(ctx context.Context, env string) (*keyward.Store, error)
	Compare []string
	// CompareTimeout bounds opening and reading each other environment
	// (zero: no bound beyond the stores' own timeouts).
	CompareTimeout time.Duration
	// Dir is where .env files are looked for; "" means the config's Dir.
	Dir string
	// NoFiles skips the .env file checks.
	NoFiles bool
	// Strict makes warnings fail validation (as does validate.strict).
	Strict bool
	// Now replaces time.Now (tests).
	Now func() time.Time
	// Git runs git in dir and returns its exit status; nil runs the git
	// binary (and skips the git checks when there is none).
	Git func(ctx context.Context, dir string, args ...string) (int, error)
}

// Validate loads keyward.yaml (searched upward from the working directory)
// and checks store against environment env. See Config.Validate.
func Validate(ctx context.Context, store *keyward.Store, env string) (*Report, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	p, err := Find(wd)
	if err != nil {
		return nil, err
	}
	if p == "" {
		return nil, keyward.Errorf(keyward.NotFound, "validate", "no %s in %s or its parents", FileName, wd)
	}
	c, err := Load(p)
	if err != nil {
		return nil, err
	}
	return c.Validate(ctx, store, env, nil)
}

// Validate checks the secrets in store against the specs for environment
// env ("" for none: no overrides, production rules only when forced). The
// report lists every finding; it never contains a value. The error is for
// failures to check at all (the store cannot be read), not for findings.
func (c *Config) Validate(ctx context.Context, store *keyward.Store, env string, opts *ValidateOptions) (*Report, error) {
	var o ValidateOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	prod := false
	var e *Environment
	if env != "" {
		var err error
		if e, err = c.Environment(env); err != nil {
			return nil, err
		}
		prod = e.IsProduction()
	}
	if o.Production != nil {
		prod = *o.Production
	}
	v := &validation{c: c, o: &o, env: env, prod: prod, rep: &Report{
		Environment: env, Store: store.URL(), Production: prod, Config: c.Path,
		Strict: o.Strict || c.Strict,
	}}
	if err := v.run(ctx, store, e); err != nil {
		return nil, err
	}
	v.rep.finish()
	return v.rep, nil
}

type validation struct {
	c    *Config
	o    *ValidateOptions
	env  string
	prod bool
	rep  *Report
	key  []byte // per-run HMAC key for fingerprints
}

func (v *validation) severity(check string) Severity {
	if s, ok := v.c.Checks[check]; ok {
		return s
	}
	return defaultSeverity[check]
}

func (v *validation) add(sr *SecretResult, f Finding) {
	f.Severity = v.severity(f.Check)
	if f.Severity == SeverityOff {
		return
	}
	if sr != nil {
		f.Secret = sr.Name
		if f.Pos == (Pos{}) {
			f.Pos = v.c.Secrets[sr.Name].Pos
		}
		sr.Findings = append(sr.Findings, f)
		return
	}
	v.rep.Findings = append(v.rep.Findings, f)
}

func (v *validation) run(ctx context.Context, store *keyward.Store, e *Environment) error {
	names := v.c.Order
	vals, err := store.GetMany(ctx, names)
	if err != nil {
		var me keyward.MultiError
		if errors.As(err, &me) {
			for _, x := range me {
				if keyward.ErrorCode(x) != keyward.NotFound {
					return x
				}
			}
		} else if keyward.ErrorCode(err) != keyward.NotFound {
			return err
		}
	}
	v.key = make([]byte, 32)
	if _, err := rand.Read(v.key); err != nil {
		return err
	}
	examples := v.c.ExampleValues()
	for _, name := range names {
		spec := v.c.Secrets[name].For(v.env)
		sr := &SecretResult{Name: name, Description: spec.Description}
		v.rep.Secrets = append(v.rep.Secrets, sr)
		val := vals[name]
		if val == nil || val.Secret.IsZero() {
			sr.Present = val != nil
			if spec.Required {
				msg := "is missing (required)"
				if val != nil {
					msg = "is empty (required)"
				}
				v.add(sr, Finding{Check: CheckRequired, Message: msg})
			} else {
				sr.Skipped = true
			}
			continue
		}
		sr.Present = true
		sr.Length = val.Secret.Len()
		v.checkValue(sr, spec, val, examples)
	}
	if err := v.checkReuse(ctx, vals); err != nil {
		return err
	}
	if !v.o.NoFiles {
		v.checkFiles(ctx, e)
	}
	return nil
}

func (v *validation) checkValue(sr *SecretResult, spec *Spec, val *keyward.Value, examples map[string]bool) {
	raw := val.Secret.Reveal()
	if !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0 {
		v.add(sr, Finding{Check: CheckBinary, Message: fmt.Sprintf("value is binary (%d bytes, not UTF-8 text); text checks were skipped", len(raw))})
		return
	}
	s := string(raw)
	if spec.MinLength > 0 && utf8.RuneCountInString(s) < spec.MinLength {
		v.add(sr, Finding{Check: CheckMinLength, Message: fmt.Sprintf("is %d characters; needs at least %d", utf8.RuneCountInString(s), spec.MinLength)})
	}
	if spec.Format != "" {
		if f, ok := LookupFormat(spec.Format); ok {
			if p := f.check(s, v.prod); p != nil {
				msg := p.msg
				if p.check == CheckFormat {
					msg = "not a valid " + f.Name + ": " + msg
				}
				v.add(sr, Finding{Check: p.check, Message: msg})
			}
		}
	}
	if spec.re != nil && !spec.re.MatchString(s) {
		v.add(sr, Finding{Check: CheckPattern, Message: "does not match the pattern " + quoteName(spec.Pattern)})
	}
	if v.prod {
		if spec.Format != "stripe-secret-key" {
			if p := testKeyPrefix(s); p != "" {
				v.add(sr, Finding{Check: CheckTestKey, Message: "is a test-mode key (" + p + "…) in production"})
			}
		}
		if why := placeholderReason(s, examples); why != "" {
			v.add(sr, Finding{Check: CheckPlaceholder, Message: why + " in production"})
		}
	}
	if spec.Generate != "" && spec.Format != "jwt-secret" {
		if b := EstimateBits(s); b < GeneratedMinBits {
			v.add(sr, Finding{Check: CheckEntropy, Message: fmt.Sprintf("has too little entropy for a generated secret (estimated %d bits, needs %d)", int(b), GeneratedMinBits)})
		}
	}
	if r := v.c.Secrets[sr.Name].Rotation; r != nil && r.Every > 0 && !val.Version.Created.IsZero() {
		age := v.o.Now().Sub(val.Version.Created)
		if age > r.Every {
			v.add(sr, Finding{Check: CheckRotationOverdue, Message: fmt.Sprintf("was last changed %d days ago; rotate every %s", int(age.Hours()/24), FormatDuration(r.Every))})
		}
	}
}

var testKeyPrefixes = []string{"sk_test_", "rk_test_", "pk_test_", "whsec_test_"}

func testKeyPrefix(s string) string {
	for _, p := range testKeyPrefixes {
		if strings.HasPrefix(s, p) {
			return p
		}
	}
	return ""
}

// placeholders are values that are never real secrets (compared
// case-insensitively, whole value).
var placeholders = map[string]bool{
	"changeme": true, "change-me": true, "change_me": true, "changeit": true,
	"secret": true, "password": true, "passw0rd": true, "pass": true, "123456": true, "12345678": true,
	"test": true, "testing": true, "example": true, "sample": true, "default": true, "dummy": true,
	"placeholder": true, "todo": true, "fixme": true, "tbd": true, "none": true, "null": true, "nil": true,
	"undefined": true, "your-secret": true, "your_secret": true, "yoursecret": true, "your-secret-key": true,
	"your-secret-here": true, "secret-key": true, "secret_key": true, "secretkey": true, "mysecret": true,
	"admin": true, "root": true, "letmein": true, "qwerty": true, "abc123": true, "foobar": true, "foo": true, "bar": true,
}

// placeholderFragments mark a placeholder anywhere in the value.
var placeholderFragments = []string{"changeme", "change_me", "change-me", "replace-me", "replace_me", "replaceme",
	"your-", "your_", "<your", "placeholder", "example", "dummy", "...", "…", "xxxx"}

// placeholderReason says why s looks like a placeholder, or "".
func placeholderReason(s string, examples map[string]bool) string {
	t := strings.TrimSpace(s)
	l := strings.ToLower(t)
	switch {
	case examples[t]:
		return "is the value from .env.example"
	case placeholders[l]:
		return "is a well-known placeholder value"
	case len(t) >= 3 && strings.Count(t, t[:1]) == len(t):
		return "is one character repeated"
	case strings.HasPrefix(t, "${") || strings.HasPrefix(t, "{{") || (strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">") && !strings.Contains(t, "\n")):
		return "is an unfilled template placeholder"
	case strings.HasPrefix(l, "test-") || strings.HasPrefix(l, "test_") || strings.HasPrefix(l, "dev-") || strings.HasPrefix(l, "dev_"):
		return "looks like a test or development value"
	}
	for _, f := range placeholderFragments {
		if strings.Contains(l, f) {
			return "contains the placeholder text " + quoteName(f)
		}
	}
	return ""
}

// ExampleValues are the literal values of the project's committed example
// file (.env.example), read through the bounded reader; empty when there is
// none or it cannot be read.
func (c *Config) ExampleValues() map[string]bool {
	out := map[string]bool{}
	p := c.ExamplePath()
	if p == "" {
		return out
	}
	b, err := fsutil.ReadFile(p, MaxFileSize)
	if err != nil {
		return out
	}
	for _, kv := range ParseExample(b) {
		if kv.Value != "" {
			out[kv.Value] = true
		}
	}
	return out
}

func (v *validation) fingerprint(s keyward.Secret) []byte {
	m := hmac.New(sha256.New, v.key)
	m.Write(s.Reveal())
	return m.Sum(nil)
}

func (v *validation) checkReuse(ctx context.Context, vals map[string]*keyward.Value) error {
	if v.o.OpenEnv == nil || v.severity(CheckReuse) == SeverityOff {
		return nil
	}
	mine := map[string][]byte{}
	var names []string
	for _, name := range v.c.Order {
		if val := vals[name]; val != nil && !val.Secret.IsZero() {
			mine[name] = v.fingerprint(val.Secret)
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	byName := map[string]*SecretResult{}
	for _, sr := range v.rep.Secrets {
		byName[sr.Name] = sr
	}
	for _, other := range v.c.EnvOrder {
		if other == v.env || (len(v.o.Compare) > 0 && !containsStr(v.o.Compare, other)) {
			continue
		}
		if err := v.compareWith(ctx, other, names, mine, byName); err != nil {
			return err
		}
	}
	return nil
}

func (v *validation) compareWith(ctx context.Context, other string, names []string, mine map[string][]byte, byName map[string]*SecretResult) error {
	cctx := ctx
	if v.o.CompareTimeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, v.o.CompareTimeout)
		defer cancel()
	}
	s, err := v.o.OpenEnv(cctx, other)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if keyward.ErrorCode(err) == keyward.NotFound {
			return nil // no store there (a .env that does not exist): nothing to compare
		}
		v.rep.Findings = append(v.rep.Findings, Finding{Check: CheckReuse, Severity: SeverityWarning, Pos: v.c.Environments[other].Pos,
			Message: fmt.Sprintf("could not open environment %q to compare values: %s", other, keyward.ErrorCode(err))})
		return nil
	}
	got, gerr := s.GetMany(cctx, names)
	if gerr != nil && len(got) == 0 && !allNotFound(gerr) {
		v.rep.Findings = append(v.rep.Findings, Finding{Check: CheckReuse, Severity: SeverityWarning, Pos: v.c.Environments[other].Pos,
			Message: fmt.Sprintf("could not read environment %q to compare values: %s", other, keyward.ErrorCode(gerr))})
		return nil
	}
	for _, name := range names {
		ov := got[name]
		if ov == nil || ov.Secret.IsZero() {
			continue
		}
		if hmac.Equal(mine[name], v.fingerprint(ov.Secret)) {
			v.add(byName[name], Finding{Check: CheckReuse, Message: fmt.Sprintf("has the same value in environment %q", other)})
		}
	}
	return nil
}

func allNotFound(err error) bool {
	var me keyward.MultiError
	if errors.As(err, &me) {
		for _, x := range me {
			if keyward.ErrorCode(x) != keyward.NotFound {
				return false
			}
		}
		return true
	}
	return keyward.ErrorCode(err) == keyward.NotFound
}

// dotenvPath returns the file a dotenv:// store URL names, or "".
func dotenvPath(raw string) string {
	u, err := keyward.ParseStoreURL(raw)
	if err != nil || u.Scheme != "dotenv" {
		return ""
	}
	return keyward.URLPath(u)
}

var exampleSuffixes = []string{".example", ".sample", ".template", ".dist", ".tmpl", ".defaults"}

func isEnvExample(name string) bool {
	for _, s := range exampleSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func (v *validation) checkFiles(ctx context.Context, e *Environment) {
	dir := v.o.Dir
	if dir == "" {
		dir = v.c.Dir
	}
	if dir == "" {
		return
	}
	seen := map[string]bool{}
	var files []string
	addFile := func(p string) {
		if p == "" {
			return
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		p = filepath.Clean(p)
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	if e != nil {
		addFile(dotenvPath(e.Store))
	}
	if u := dotenvPath(v.rep.Store); u != "" {
		addFile(u)
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, ent := range ents {
			n := ent.Name()
			if ent.Type().IsRegular() && (n == ".env" || strings.HasPrefix(n, ".env.")) && !isEnvExample(n) {
				addFile(n)
			}
		}
	}
	sort.Strings(files)
	git := v.o.Git
	if git == nil {
		git = runGit
	}
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			rel = p
		}
		if st.Mode().Perm()&0o077 != 0 {
			v.add(nil, Finding{Check: CheckDotenvPerms, File: rel,
				Message: fmt.Sprintf("is readable by group or others (mode %04o); run chmod 600 %s", st.Mode().Perm(), rel)})
		}
		fdir, base := filepath.Split(p)
		if code, err := git(ctx, fdir, "rev-parse", "--is-inside-work-tree"); err != nil || code != 0 {
			continue // not in a git work tree, or no git
		}
		if code, err := git(ctx, fdir, "ls-files", "--error-unmatch", "--", base); err == nil && code == 0 {
			v.add(nil, Finding{Check: CheckDotenvTracked, File: rel,
				Message: "is tracked by git; run git rm --cached " + rel + " and add it to .gitignore"})
			continue
		}
		if code, err := git(ctx, fdir, "check-ignore", "-q", "--", base); err == nil && code == 1 {
			v.add(nil, Finding{Check: CheckDotenvIgnored, File: rel, Message: "is not ignored by .gitignore; add it"})
		}
	}
}

func runGit(ctx context.Context, dir string, args ...string) (int, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// ExampleVar is one line of a .env.example file.
type ExampleVar struct {
	Key   string
	Value string
	Line  int
}

// ParseExample reads KEY=VALUE lines from a .env.example file: blank lines
// and # comments are skipped, "export " is allowed, values may be quoted
// with ' or ", and an unquoted value ends at " #". Malformed lines are
// skipped (the file is an example, not a store).
func ParseExample(b []byte) []ExampleVar {
	var out []ExampleVar
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), MaxFileSize)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		k, val, ok := strings.Cut(t, "=")
		k = strings.TrimSpace(k)
		if !ok || !secretNameRE.MatchString(k) {
			continue
		}
		val = strings.TrimSpace(val)
		switch {
		case len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && strings.IndexByte(val[1:], val[0]) >= 0:
			end := strings.IndexByte(val[1:], val[0])
			val = val[1 : end+1]
		default:
			if i := strings.Index(val, " #"); i >= 0 {
				val = strings.TrimSpace(val[:i])
			}
		}
		out = append(out, ExampleVar{Key: k, Value: val, Line: line})
	}
	return out
}

// PlaceholderReason says why an example value looks like a placeholder
// (changeme, postgresql://..., sk_test_..., <your key>, ...), or "" when
// it reads as a literal default such as redis://localhost:6379/0. The
// reason never contains the value.
func PlaceholderReason(value string) string { return placeholderReason(value, nil) }

// IsExampleFile reports whether a .env file name is a committed example
// (.env.example, .env.sample, .env.template, .env.dist, .env.tmpl,
// .env.defaults) rather than a file holding real values.
func IsExampleFile(name string) bool { return isEnvExample(name) }

// CheckValue runs the value checks of validate (binary, min-length, format,
// pattern, test-key, placeholder, entropy) on one value about to be stored
// as name in env, and returns the findings; nil when name is not declared.
// Messages never contain the value. `keyward set` warns with them.
func (c *Config) CheckValue(name, env string, value keyward.Secret) []Finding {
	sp := c.Secrets[name]
	if sp == nil {
		return nil
	}
	prod := false
	if env != "" {
		if e, err := c.Environment(env); err == nil {
			prod = e.IsProduction()
		}
	}
	v := &validation{c: c, o: &ValidateOptions{Now: time.Now}, env: env, prod: prod, rep: &Report{}}
	sr := &SecretResult{Name: name}
	v.checkValue(sr, sp.For(env), &keyward.Value{Secret: value}, v.c.ExampleValues())
	return sr.Findings
}
