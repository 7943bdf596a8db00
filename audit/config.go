package audit

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/fsutil"
)

// Config is the `audit:` section of keyward.yaml (the project) and of the
// user's own config file ($XDG_CONFIG_HOME/keyward/config.yaml).
type Config struct {
	// Enabled turns auditing on or off. Default on. Only the user (their
	// config or KEYWARD_AUDIT=off) can turn it off, never a repository.
	Enabled *bool `yaml:"enabled"`
	// File is the log location. Only the user's config or KEYWARD_AUDIT_FILE
	// may move it; a repository cannot point it at /dev/null.
	File string `yaml:"file"`
	// Required denies any access whose record cannot be written.
	Required bool `yaml:"required"`
	// HMACValues adds an HMAC-SHA256 of each value under the audit key.
	HMACValues bool `yaml:"hmac_values"`
	// KeyFile holds the audit HMAC key (hex). Default: next to the user config.
	KeyFile string `yaml:"key_file"`
	// Fsync after every record (default true).
	Fsync *bool `yaml:"fsync"`
	// Stderr also writes records to stderr.
	Stderr bool `yaml:"stderr"`
}

// Effective is a Config after merging the user's, the project's and the
// environment's settings.
type Effective struct {
	Enabled    bool
	File       string
	Required   bool
	HMACValues bool
	KeyFile    string
	Fsync      bool
	Stderr     bool
}

// Merge combines the user's config, the project's and the environment. A
// project may switch protections on (required, hmac_values, stderr) but not
// off, and may not move the log or disable it.
func Merge(user, project Config, getenv func(string) string) Effective {
	e := Effective{Enabled: true, Fsync: true, File: DefaultPath(getenv), KeyFile: DefaultKeyPath(getenv)}
	if user.Enabled != nil {
		e.Enabled = *user.Enabled
	}
	if v := strings.ToLower(getenv("KEYWARD_AUDIT")); v == "off" || v == "0" || v == "false" {
		e.Enabled = false
	}
	if project.Required {
		// A project that requires audit turns it back on.
		e.Enabled = true
	}
	if user.File != "" && getenv("KEYWARD_AUDIT_FILE") == "" {
		e.File = expandHome(user.File, getenv)
	}
	if user.KeyFile != "" {
		e.KeyFile = expandHome(user.KeyFile, getenv)
	}
	e.Required = user.Required || project.Required || getenv("KEYWARD_AUDIT_REQUIRED") == "1"
	e.HMACValues = user.HMACValues || project.HMACValues
	e.Stderr = user.Stderr || project.Stderr
	if user.Fsync != nil {
		e.Fsync = *user.Fsync
	}
	if project.Fsync != nil && *project.Fsync {
		e.Fsync = true
	}
	return e
}

func expandHome(p string, getenv func(string) string) string {
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(getenv), p[2:])
	}
	return p
}

func homeDir(getenv func(string) string) string {
	if h := getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// DefaultPath is where the audit log lives: $KEYWARD_AUDIT_FILE, else
// $XDG_STATE_HOME/keyward/audit.log, else ~/.local/state/keyward/audit.log.
func DefaultPath(getenv func(string) string) string {
	if p := getenv("KEYWARD_AUDIT_FILE"); p != "" {
		return p
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "keyward", "audit.log")
	}
	return filepath.Join(homeDir(getenv), ".local", "state", "keyward", "audit.log")
}

// UserConfigPath is $XDG_CONFIG_HOME/keyward/config.yaml (or ~/.config/…).
func UserConfigPath(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "keyward", "config.yaml")
	}
	return filepath.Join(homeDir(getenv), ".config", "keyward", "config.yaml")
}

// DefaultKeyPath is audit.key next to the user config.
func DefaultKeyPath(getenv func(string) string) string {
	return filepath.Join(filepath.Dir(UserConfigPath(getenv)), "audit.key")
}

// LoadSection reads the `audit:` section of a YAML file. A missing file is
// an empty Config. Anything else that stops the section from being read
// exactly — a directory or other non-regular file in its place, a file over
// 1 MiB, bad YAML, a field of the wrong type, an unknown or repeated field —
// is an error naming file:line:col and the field, never the value.
func LoadSection(path string) (Config, error) {
	b, err := fsutil.ReadFile(path, fsutil.MaxProjectFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, err
	}
	return DecodeSection(path, b)
}

// DecodeSection decodes the `audit:` section of the YAML document b (read
// from path, for messages). See LoadSection.
func DecodeSection(path string, b []byte) (Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return Config{}, nil // empty file
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
			return Config{}, nil
		}
		return Config{}, fmt.Errorf("%s:%d:%d: the file must be a mapping", path, top.Line, top.Column)
	}
	var sec *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "audit" {
			continue
		}
		if sec != nil {
			k := top.Content[i]
			return Config{}, fmt.Errorf("%s:%d:%d: audit: defined twice", path, k.Line, k.Column)
		}
		sec = deref(top.Content[i+1])
	}
	if sec == nil || (sec.Kind == yaml.ScalarNode && sec.Tag == "!!null") {
		return Config{}, nil
	}
	if sec.Kind != yaml.MappingNode {
		return Config{}, fmt.Errorf("%s:%d:%d: audit: must be a mapping", path, sec.Line, sec.Column)
	}
	var c Config
	seen := map[string]bool{}
	for i := 0; i+1 < len(sec.Content); i += 2 {
		k, v := sec.Content[i], deref(sec.Content[i+1])
		if seen[k.Value] {
			return Config{}, fmt.Errorf("%s:%d:%d: audit.%s: defined twice", path, k.Line, k.Column, k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "enabled":
			c.Enabled, err = boolPtr(v)
		case "required":
			c.Required, err = boolVal(v)
		case "hmac_values":
			c.HMACValues, err = boolVal(v)
		case "fsync":
			c.Fsync, err = boolPtr(v)
		case "stderr":
			c.Stderr, err = boolVal(v)
		case "file":
			c.File, err = strVal(v)
		case "key_file":
			c.KeyFile, err = strVal(v)
		default:
			return Config{}, fmt.Errorf("%s:%d:%d: audit.%s: unknown field (known: enabled, file, required, hmac_values, key_file, fsync, stderr)",
				path, k.Line, k.Column, k.Value)
		}
		if err != nil {
			return Config{}, fmt.Errorf("%s:%d:%d: audit.%s: %w", path, v.Line, v.Column, k.Value, err)
		}
	}
	return c, nil
}

// deref follows a YAML alias (*name) to its anchored node; an alias to an
// alias is not followed further (the checks below then reject it).
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func boolVal(n *yaml.Node) (bool, error) {
	// Decode fails on an explicit !!bool tag over a non-boolean; its
	// message, which quotes the value, is not passed on.
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		return false, errors.New("must be true or false")
	}
	return b, nil
}

func boolPtr(n *yaml.Node) (*bool, error) {
	b, err := boolVal(n)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

func strVal(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", errors.New("must be a path")
	}
	return n.Value, nil
}

// LoadOrCreateKey reads the hex key at path (the audit key, or the scan
// fingerprint key), creating a random 32-byte key (0600) if there is none.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := fsutil.ReadFile(path, fsutil.MaxIdentityFile)
	if err == nil {
		k, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(k) < 16 {
			return nil, fmt.Errorf("%s: not a hex key of at least 16 bytes", path)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateKey(path) // another process made it first
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		return nil, err
	}
	return k, f.Sync()
}

// ProjectError is Resolve's error when the project's keyward.yaml has an
// `audit:` section that cannot be read. The Effective returned with it holds
// the user's own settings, which still apply (records are still written);
// a caller must not read secrets under it, since the project might have
// tightened audit in a way keyward cannot see.
type ProjectError struct{ Err error }

func (e *ProjectError) Error() string { return e.Err.Error() }
func (e *ProjectError) Unwrap() error { return e.Err }

// UserError is Resolve's error when the user's own config file cannot be
// read. The Effective returned with it holds the defaults and the
// environment's settings (audit on, the default log).
type UserError struct{ Err error }

func (e *UserError) Error() string { return e.Err.Error() }
func (e *UserError) Unwrap() error { return e.Err }

// Resolve merges the user's config file, the project's keyward.yaml (if
// projectPath is not empty) and the environment. The user's config is
// decoded on its own: a broken project section never changes what the
// user's settings say. On error the returned Effective is still the best
// known configuration (see ProjectError and UserError), never "audit off"
// because of the error.
func Resolve(getenv func(string) string, projectPath string) (Effective, error) {
	if projectPath == "" {
		return ResolveRead(getenv, "", nil, nil)
	}
	b, err := fsutil.ReadFile(projectPath, fsutil.MaxProjectFile)
	return ResolveRead(getenv, projectPath, b, err)
}

// ResolveRead is Resolve for a project file the caller has already read:
// data is its content, readErr the error reading it (a missing file is no
// project section). The CLI reads keyward.yaml once per command and hands
// the same bytes to the schema and to audit.
func ResolveRead(getenv func(string) string, projectPath string, data []byte, readErr error) (Effective, error) {
	var errs []error
	user, err := LoadSection(UserConfigPath(getenv))
	if err != nil {
		user = Config{}
		errs = append(errs, &UserError{err})
	}
	var project Config
	if projectPath != "" && !errors.Is(readErr, fs.ErrNotExist) {
		err := readErr
		if err == nil {
			project, err = DecodeSection(projectPath, data)
		}
		if err != nil {
			project = Config{}
			errs = append(errs, &ProjectError{err})
		}
	}
	return Merge(user, project, getenv), errors.Join(errs...)
}
