package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// FileName is the name Find looks for.
const FileName = "keyward.yaml"

// MaxFileSize bounds keyward.yaml (1 MiB): a bigger file is refused before
// it is parsed, as is anything but a regular file (see internal/fsutil).
const MaxFileSize = fsutil.MaxProjectFile

// Config is a parsed keyward.yaml.
type Config struct {
	// Path is the file it was read from ("" when parsed from bytes without a name).
	Path string
	// Dir is the project directory: the directory holding keyward.yaml.
	// Relative paths (dotenv:// stores, example:) are relative to it.
	Dir string
	// Version is the file format version; only 1 exists.
	Version int
	// DefaultEnvironment is used when no store or environment is chosen.
	DefaultEnvironment string
	// Example is the .env.example file whose literal values count as
	// placeholders in production ("" = .env.example when it exists).
	Example string
	// Environments by name, and their names in file order.
	Environments map[string]*Environment
	EnvOrder     []string
	// Secrets by name, and their names in file order.
	Secrets map[string]*Spec
	Order   []string
	// Checks maps a check name to its severity (error, warning or off),
	// overriding the defaults; Strict makes warnings fail validation.
	Checks map[string]Severity
	Strict bool
	// Delivery says how run, export and template deliver key rings.
	Delivery Delivery

	examplePos Pos
}

// Delivery is the delivery: section: how a key ring in grace reaches the
// consumer (docs/delivery.md).
type Delivery struct {
	// OldSuffix names the most recent previous value (KEY+OldSuffix); nil
	// means _OLD, "" delivers none.
	OldSuffix *string
	// NumberedRing also delivers the ring as KEY_0 (current), KEY_1, ….
	NumberedRing bool
}

// Environment is one entry of environments:.
type Environment struct {
	Name string
	// Store is the environment's store URL.
	Store string
	// Production, when set, says whether production rules apply; when nil
	// the name decides (see IsProduction).
	Production *bool
	// History is how many versions per key a local store keeps (0: the
	// store's default, 10; a ?history= in the store URL wins).
	History int
	// Recipients are the public keys a local store should be encrypted to
	// ('keyward init --sync-recipients' applies them). Untrusted: they come
	// from the repository, and are applied only by that explicit command.
	Recipients []string
	Pos        Pos
}

// productionNames are the environment names that are production unless
// the environment says production: false.
var productionNames = []string{"prod", "production", "prd", "live"}

// IsProductionName reports whether an environment called name is treated
// as production when its entry does not say: prod, production, prd, live,
// and names starting with "prod-", "prod_", "production-" or "production_".
func IsProductionName(name string) bool {
	n := strings.ToLower(name)
	if slices.Contains(productionNames, n) {
		return true
	}
	for _, p := range []string{"prod-", "prod_", "production-", "production_"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// IsProduction reports whether production rules apply to e.
func (e *Environment) IsProduction() bool {
	if e.Production != nil {
		return *e.Production
	}
	return IsProductionName(e.Name)
}

// Spec declares one secret.
type Spec struct {
	Name        string
	Description string
	// Required defaults to true.
	Required bool
	// MinLength is the minimum length in bytes (0 = none).
	MinLength int
	// Format names a built-in format (see Formats).
	Format string
	// Pattern is a regular expression (RE2 syntax) the whole value must match.
	Pattern string
	// Generate is a gen recipe spec ("urlsafe", "hex:32"): keyward can
	// create this secret, and validate checks its entropy.
	Generate string
	// Rotation is the rotation policy, if any.
	Rotation *Rotation
	// Environments holds per-environment overrides by environment name.
	Environments map[string]*Override
	Pos          Pos

	re *regexp.Regexp
}

// Override changes a Spec for one environment. Nil fields keep the
// secret's own setting.
type Override struct {
	Required  *bool
	MinLength *int
	Format    *string
	Pattern   *string
	Generate  *string
	Pos       Pos

	re *regexp.Regexp
}

// Rotation is a rotation policy.
type Rotation struct {
	// Every is the rotation period; zero means rotate only on breach or
	// compromise.
	Every time.Duration
	// Grace is how long the previous value stays valid after a rotation.
	Grace time.Duration
	// Method is how rotation happens: automated, manual or provider.
	Method string
	// Via says where a manual or provider rotation is done ("Stripe
	// Dashboard", "Email provider").
	Via string
	Pos Pos
}

// Rotation methods.
const (
	MethodAutomated = "automated" // keyward rotate can do it unattended
	MethodManual    = "manual"    // a person rotates it and records it with keyward set
	MethodProvider  = "provider"  // rotated in the issuing service's console (Via says which)
)

var rotationMethods = []string{MethodAutomated, MethodManual, MethodProvider}

// For returns the spec with env's overrides applied.
func (s *Spec) For(env string) *Spec {
	o := s.Environments[env]
	if o == nil {
		return s
	}
	c := *s
	if o.Required != nil {
		c.Required = *o.Required
	}
	if o.MinLength != nil {
		c.MinLength = *o.MinLength
	}
	if o.Format != nil {
		c.Format = *o.Format
	}
	if o.Pattern != nil {
		c.Pattern = *o.Pattern
		c.re = o.re
	}
	if o.Generate != nil {
		c.Generate = *o.Generate
	}
	return &c
}

// Regexp is the compiled Pattern (nil when there is none).
func (s *Spec) Regexp() *regexp.Regexp { return s.re }

// Environment returns the named environment, or an InvalidArgument error
// that lists the known ones.
func (c *Config) Environment(name string) (*Environment, error) {
	if e, ok := c.Environments[name]; ok {
		return e, nil
	}
	if len(c.EnvOrder) == 0 {
		return nil, keyward.Errorf(keyward.InvalidArgument, "select environment",
			"%s declares no environments, so there is no environment %q", c.displayPath(), name)
	}
	msg := fmt.Sprintf("%s has no environment %q (known: %s)", c.displayPath(), name, strings.Join(c.EnvOrder, ", "))
	if h := suggest(name, c.EnvOrder); h != "" {
		msg += "; " + h
	}
	return nil, keyward.Errorf(keyward.InvalidArgument, "select environment", "%s", msg)
}

func (c *Config) displayPath() string {
	if c.Path == "" {
		return FileName
	}
	return c.Path
}

// ExamplePath is the .env.example file to read placeholder values from,
// or "" when there is none.
func (c *Config) ExamplePath() string {
	p := c.Example
	explicit := p != ""
	if !explicit {
		p = ".env.example"
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.Dir, p)
	}
	if !explicit {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
	}
	return p
}

// Load reads and checks keyward.yaml at path. Every problem in the file is
// reported at once, each with file:line:column, as an ErrorList wrapped in
// a keyward error with code InvalidArgument.
func Load(path string) (*Config, error) {
	data, err := fsutil.ReadFile(path, MaxFileSize)
	return LoadRead(path, data, err)
}

// LoadRead is Load for a file the caller has already read: data is its
// content, readErr the error reading it (with fsutil.ReadFile and
// MaxFileSize). The CLI reads keyward.yaml once per command and hands the
// same bytes to the schema and to audit.
func LoadRead(path string, data []byte, err error) (*Config, error) {
	if err != nil {
		return nil, keyward.NewError(fsutil.Code(err), "load "+FileName, err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	abs, aerr := filepath.Abs(path)
	if aerr == nil {
		c.Dir = filepath.Dir(abs)
	} else {
		c.Dir = filepath.Dir(path)
	}
	return c, nil
}

// Find looks for keyward.yaml in dir and then in each parent directory,
// and returns its path, or "" when there is none.
func Find(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(d, FileName)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", nil
		}
		d = parent
	}
}
