// Package cmdutil is the plumbing every keyward verb shares: the Factory
// that gives a verb its streams, environment and store; typed errors; exit
// codes; and the --json flag.
package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/schema"
)

// Exit codes. They are stable and documented in docs/cli.md.
const (
	ExitOK            = 0   // success
	ExitError         = 1   // failure; for validate/scan/diff: problems found
	ExitUsage         = 2   // bad flags or arguments, bad configuration
	ExitNotFound      = 3   // a secret, version, file or environment does not exist
	ExitPermission    = 4   // permission denied (wrong key, 401/403, file mode)
	ExitUnavailable   = 5   // the backend is unreachable or failing; try again
	ExitConflict      = 6   // check-and-set conflict, already exists, failed precondition
	ExitUnimplemented = 7   // the provider cannot do this
	ExitOverdue       = 8   // status: a secret is overdue for rotation
	ExitCancel        = 130 // interrupted
)

// DefaultStoreURL is the embedded default store: an age-encrypted file in
// the current directory.
const DefaultStoreURL = "local://keyward.age"

// Factory gives verbs their dependencies, like the GitHub CLI's
// cmdutil.Factory. Build it with New (the real process) or NewWith (given
// streams and environment): NewWith, in factory.go, is the one place every
// function field is wired. Fields that are functions are resolved lazily, so
// a verb that never opens a store never needs one, and the project's
// keyward.yaml is read at most once per command (Project, AuditConfig).
// Tests replace fields with fakes. A Factory literal has none of the
// keyward.yaml support and no audit trail: its function fields are nil,
// and ResolveStoreURL, OpenURL and OpenEnv treat that as "no project".
type Factory struct {
	sources SourceBook // which rule chose each store OpenStore opened

	IO      *iostreams.IOStreams
	Getenv  func(string) string
	Environ func() []string
	Now     func() time.Time

	// Global flags, filled by the root command.
	StoreURL   string   // --store
	EnvName    string   // --env
	ConfigPath string   // --config
	AllowRefs  []string // --allow-ref (see TrustPolicy)

	// Mux opens store URLs; nil means keyward.DefaultURLMux().
	Mux *keyward.URLMux

	// Plugins starts provider plugin programs for this command (set by
	// cli.Run); verbs use it for provider-specific actions.
	Plugins *plugin.Host

	// Signals routes the signals cli.Main catches, for run to forward to
	// its child (ForwardSignals); nil outside cli.Main.
	Signals *Signals

	// ReadProjectFile reads keyward.yaml (fsutil.ReadFile with
	// fsutil.MaxProjectFile); tests count the reads through it.
	ReadProjectFile func(path string) ([]byte, error)

	// Project returns the project's keyward.yaml (--config, else the
	// nearest one upward from the working directory), read and checked
	// once per command, after the flags are parsed; nil and no error when
	// there is none.
	Project func() (*schema.Config, error)
	// AuditConfig returns the effective audit settings: the user's config,
	// keyward.yaml's audit: section (from the same read as Project) and the
	// environment (audit.ResolveRead). Memoized like Project.
	AuditConfig func() (audit.Effective, error)
	// Environments lists keyward.yaml's environments in file order (nil
	// when there is no keyward.yaml).
	Environments func() ([]string, error)
	// ResolveEnv maps an environment name from keyward.yaml to a store URL,
	// checked against the trust policy (the URL is the repository's).
	ResolveEnv func(name string) (storeURL string, err error)
	// DefaultEnv returns keyward.yaml's default environment name, if any.
	DefaultEnv func() (string, error)
	// Delivery returns keyward.yaml's delivery: settings (old_suffix,
	// numbered_ring); nil, or a nil result, means the defaults.
	Delivery func() (*DeliveryConfig, error)
	// DeclaredKeys returns the secrets keyward.yaml declares (nil when
	// there is no keyward.yaml). Stores are opened with them
	// (keyward.WithDeclaredKeys), so env:// lists only those.
	DeclaredKeys func() []string
	// CheckValue returns keyward.yaml's findings ("is 8 characters; needs
	// at least 32 (min-length)") for a value about to be stored as key in
	// env; never the value.
	CheckValue func(key, env string, v keyward.Secret) []string
	// PublicValues returns whether a managed value is public by the
	// project's own account: a literal value of its committed
	// .env.example, in an environment that is not production (scan does
	// not search for those). A nil result: none is.
	PublicValues func() func(env string, v keyward.Secret) bool

	// StoreOptions adjusts options (the audit hook) for each opened store.
	StoreOptions func(o *keyward.StoreOptions) error
	// AfterCommand runs after every command with its outcome (the audit
	// trail records verb-level actions through it).
	AfterCommand func(ctx context.Context, cmd *cobra.Command, err error) error

	opened []*keyward.Store
	trust  *keyward.TrustPolicy
}

// DeliveryConfig is keyward.yaml's delivery: section.
type DeliveryConfig struct {
	OldSuffix    *string // nil: the default _OLD
	NumberedRing bool
}

// ResolveStoreURL says which store the command works on, and why:
// --store, then --env (keyward.yaml), then KEYWARD_STORE / SECRET_PROVIDER,
// then keyward.yaml's default environment, then the embedded default.
func (f *Factory) ResolveStoreURL() (url, env, source string, err error) {
	if f.StoreURL != "" {
		return f.StoreURL, "", "--store", nil
	}
	if f.EnvName != "" {
		if f.ResolveEnv == nil {
			return "", "", "", FlagErrorf("--env needs a keyward.yaml with environments")
		}
		u, err := f.ResolveEnv(f.EnvName)
		return u, f.EnvName, "--env", err
	}
	u, err := keyward.StoreURLFromEnv(f.Getenv)
	if err != nil {
		return "", "", "", WithHint(err, "set the variable, or pick a store with --store URL")
	}
	if u != "" {
		src := "KEYWARD_STORE"
		if f.Getenv("KEYWARD_STORE") == "" {
			src = "SECRET_PROVIDER"
		}
		return u, "", src, nil
	}
	if f.DefaultEnv != nil && f.ResolveEnv != nil {
		name, err := f.DefaultEnv()
		if err != nil {
			return "", "", "", err
		}
		if name != "" {
			u, err := f.ResolveEnv(name)
			return u, name, "keyward.yaml", err
		}
	}
	return DefaultStoreURL, "", "default", nil
}

// OpenStore opens the store the command should use. It is closed by Close.
// It records which rule chose the store (Sources), and says so on stderr
// when stderr is a terminal, or always when an environment variable
// (KEYWARD_STORE, SECRET_PROVIDER) chose it: a variable left over in a
// shell must never pick a store silently.
func (f *Factory) OpenStore(ctx context.Context) (*keyward.Store, error) {
	u, env, source, err := f.ResolveStoreURL()
	if err != nil {
		return nil, err
	}
	s, err := f.OpenURL(ctx, u, env)
	if err != nil {
		return nil, err
	}
	f.sources.m.Store(s, source)
	f.NoteSource(s.URL(), source, env)
	return s, nil
}

// NoteSource says on stderr which rule chose the store: when stderr is a
// terminal, and always when an environment variable chose it.
func (f *Factory) NoteSource(url, source, env string) {
	if f.IO != nil && (f.IO.IsStderrTTY() || source == "KEYWARD_STORE" || source == "SECRET_PROVIDER") {
		fmt.Fprintf(f.IO.ErrOut, "keyward: using %s (%s)\n", url, DescribeSource(source, env, f.Getenv))
	}
}

// SourceBook records which rule chose each store a Factory opened with
// OpenStore. The Factory owns it (Factory.Sources); a verb's Options hold
// it to put "store_source" in their --json.
type SourceBook struct{ m sync.Map }

// Of says which rule chose a store opened with Factory.OpenStore:
// "--store", "--env", "KEYWARD_STORE", "SECRET_PROVIDER", "keyward.yaml"
// (its default_environment) or "default" (local://keyward.age); "" for a
// store opened otherwise, or when the book is nil (a verb's test).
func (b *SourceBook) Of(s *keyward.Store) string {
	if b == nil {
		return ""
	}
	if v, ok := b.m.Load(s); ok {
		return v.(string)
	}
	return ""
}

// Sources is the book of which rule chose each store this Factory opened.
func (f *Factory) Sources() *SourceBook { return &f.sources }

// DescribeSource says in words which rule chose a store.
func DescribeSource(source, env string, getenv func(string) string) string {
	switch source {
	case "--store":
		return "chosen by --store"
	case "--env":
		return fmt.Sprintf("environment %q of keyward.yaml, chosen by --env", env)
	case "KEYWARD_STORE":
		return "chosen by KEYWARD_STORE"
	case "SECRET_PROVIDER":
		p := ""
		if getenv != nil {
			p = "=" + strings.TrimSpace(getenv("SECRET_PROVIDER"))
		}
		return "chosen by SECRET_PROVIDER" + p
	case "keyward.yaml":
		return fmt.Sprintf("environment %q, keyward.yaml's default_environment", env)
	case "default":
		return "the default store: no --store, --env, KEYWARD_STORE, SECRET_PROVIDER or keyward.yaml default_environment"
	}
	return source
}

// OpenURL opens a given store URL with the factory's options.
func (f *Factory) OpenURL(ctx context.Context, rawURL, env string) (*keyward.Store, error) {
	mux := f.Mux
	if mux == nil {
		mux = keyward.DefaultURLMux()
	}
	o := &keyward.StoreOptions{Environment: env}
	if f.IO != nil {
		ctx = keyward.WithWarnings(ctx, func(msg string) { fmt.Fprintln(f.IO.ErrOut, "keyward: warning: "+msg) })
	}
	if f.DeclaredKeys != nil {
		if keys := f.DeclaredKeys(); keys != nil {
			ctx = keyward.WithDeclaredKeys(ctx, keys)
		}
	}
	if f.StoreOptions != nil {
		if err := f.StoreOptions(o); err != nil {
			return nil, err
		}
	}
	s, err := mux.OpenStore(ctx, rawURL, o)
	if err != nil {
		return nil, err
	}
	f.opened = append(f.opened, s)
	return s, nil
}

// Close closes every store the factory opened.
func (f *Factory) Close() {
	for _, s := range f.opened {
		_ = s.Close()
	}
	f.opened = nil
}

// ProjectConfigPath finds keyward.yaml: --config, else the nearest one
// upward from the working directory; "" if there is none.
func (f *Factory) ProjectConfigPath() string {
	if f.ConfigPath != "" {
		return f.ConfigPath
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "keyward.yaml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Path resolves p against the working directory (for messages).
func (f *Factory) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	return filepath.Join(wd, p)
}

// FlagError is a usage error: the command prints it with its usage line.
type FlagError struct{ err error }

func (e *FlagError) Error() string { return e.err.Error() }
func (e *FlagError) Unwrap() error { return e.err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{fmt.Errorf(format, args...)}
}

// SilentError exits with a code without printing anything more (the verb
// already explained itself, e.g. validate's report; or keyward run passes on
// its child's exit status).
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// HintError adds "hint:" lines under an error.
type HintError struct {
	Err   error
	Hints []string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// WithHint attaches hints to err (nil stays nil).
func WithHint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &HintError{Err: err, Hints: hints}
}

// ExitCode maps an error to the documented exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var se *SilentError
	if errors.As(err, &se) {
		return se.Code
	}
	var fe *FlagError
	if errors.As(err, &fe) {
		return ExitUsage
	}
	switch keyward.ErrorCode(err) {
	case keyward.NotFound:
		return ExitNotFound
	case keyward.PermissionDenied:
		return ExitPermission
	case keyward.Unavailable, keyward.DeadlineExceeded:
		return ExitUnavailable
	case keyward.FailedPrecondition, keyward.AlreadyExists:
		return ExitConflict
	case keyward.Unimplemented:
		return ExitUnimplemented
	case keyward.InvalidArgument:
		return ExitUsage
	case keyward.Canceled:
		return ExitCancel
	}
	return ExitError
}

// PrintError writes err as "keyward: …" lines with its hints.
func PrintError(w io.Writer, err error) {
	msg := err.Error()
	for i, line := range strings.Split(msg, "\n") {
		if i == 0 && !strings.HasPrefix(line, "keyward: ") {
			line = "keyward: " + line
		}
		fmt.Fprintln(w, line)
	}
	var he *HintError
	for e := err; errors.As(e, &he); e = he.Err {
		for _, h := range he.Hints {
			fmt.Fprintln(w, "keyward: hint: "+h)
		}
	}
	for _, h := range autoHints(err) {
		fmt.Fprintln(w, "keyward: hint: "+h)
	}
}

func autoHints(err error) []string {
	ph := providerHints(err)
	var he *HintError
	if errors.As(err, &he) {
		return ph
	}
	switch keyward.ErrorCode(err) {
	case keyward.Unimplemented:
		return append(ph, "this store's provider cannot do that; see docs/providers.md for what each provider supports")
	case keyward.Unavailable:
		return append(ph, "the backend did not answer; check the address and network, then try again")
	}
	return ph
}

// AddJSONFlag adds --json to a read verb.
func AddJSONFlag(cmd *cobra.Command, p *bool) {
	cmd.Flags().BoolVar(p, "json", false, "Print machine-readable JSON (never secret values unless the verb says so)")
}

// WriteJSON prints v as indented JSON with a trailing newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Table writes aligned columns for people; Flush when done.
func Table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// ReadSecretInput reads a secret value from r (stdin or a file), refusing
// more than max bytes, and trims one trailing newline when trim is set.
// It returns ctx.Err() as soon as ctx is done (SIGINT, SIGTERM), even
// while a read from a pipe blocks.
func ReadSecretInput(ctx context.Context, r io.Reader, max int64, trim bool) ([]byte, error) {
	b, err := fsutil.ReadAllContext(ctx, r, "input", max)
	if err != nil {
		return nil, err
	}
	if trim {
		b = fsutil.TrimNewline(b)
	}
	return b, nil
}

// InputError wraps an error from reading input for the verb's op: code
// Canceled (exit 130) when a signal interrupted the read, else
// InvalidArgument.
func InputError(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return keyward.NewError(keyward.Canceled, op, errors.New("interrupted"))
	}
	return keyward.NewError(keyward.InvalidArgument, op, err)
}

// ParseLabels parses repeated --label KEY=VALUE flags; none is a nil map.
func ParseLabels(labels []string) (map[string]string, error) {
	if len(labels) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(labels))
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, FlagErrorf("--label %q: want KEY=VALUE", l)
		}
		out[k] = v
	}
	return out, nil
}

// MaxSecretSize bounds one secret read from input (1 MiB).
const MaxSecretSize = 1 << 20

// ForwardingSignals is set while `run` forwards SIGINT/SIGTERM to its child
// and waits for it (ForwardSignals); cli.Main then does not exit on its own
// after a signal.
var ForwardingSignals atomic.Bool

// Count writes n with a noun, in the singular for one: "1 finding",
// "3 findings". Every verb's messages use it, so the grammar is the same.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
