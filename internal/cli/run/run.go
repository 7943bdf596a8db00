// Package run implements `keyward run`: execute a command with the store's
// secrets in its environment.
//
// The command is executed directly with os/exec, never through a shell, so
// no argument is ever re-parsed, globbed or expanded. Its stdin, stdout and
// stderr are the Options' streams: with the real process streams (files) the
// child inherits the file descriptors and keyward copies nothing. To filter
// the child's output later (redaction), set Options.Stdout/Stderr to a
// writer; os/exec then copies through it.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	cliexport "github.com/keyward/keyward/internal/cli/export"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/internal/redact"
)

// Exit codes of run besides cmdutil's, following the shell conventions.
const (
	ExitCannotExecute   = 126 // the command exists but could not be executed
	ExitCommandNotFound = 127 // the command was not found
)

// Options are run's inputs.
type Options struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (*keyward.Store, error)
	// Environ is the environment the child starts from (os.Environ).
	Environ func() []string

	// Stdout and Stderr, when set, receive the child's output instead of
	// IO.Out and IO.ErrOut (the slot for an output filter).
	Stdout, Stderr io.Writer

	Only       []string
	Prefix     string
	NoOverride bool
	Command    []string
	// PassKeywardEnv keeps keyward's own credential variables
	// (cmdutil.KeywardCredentialVars) in the child's environment; by default
	// they are removed.
	PassKeywardEnv bool

	// Redact passes the child's stdout and stderr through a filter that
	// replaces every injected value (and its encoded forms) with
	// [REDACTED:NAME]. NewCmd turns it on; --no-redact turns it off.
	Redact bool
	// Resolver resolves variables whose value is a reference (ref+…,
	// keyward://ENV/KEY); nil means a plain keyward.Resolver (no keyward://).
	Resolver func() *keyward.Resolver

	// Ring says how key rings in grace are delivered (KEY_OLD, numbered);
	// see ring.go.
	Ring         export.RingOptions
	NumberedRing bool
	ringConfig   func(numbered bool) (export.RingOptions, error)
	ringsSeen    func(map[string]*keyward.KeyRing)

	// Files, when set, is a directory the secrets are written into (one
	// file per secret) instead of the environment; see files.go.
	Files string

	// Signals routes the signals cli.Main catches; the child's are
	// forwarded through it (cmdutil.ForwardSignals). nil: run catches them
	// itself.
	Signals *cmdutil.Signals

	// Watch keeps the child running and reloads it when a secret changes;
	// see watch.go.
	Watch WatchOptions
	// NoStoreOfItsOwn reports that nothing chose a store (no --store,
	// --env, KEYWARD_STORE, SECRET_PROVIDER or keyward.yaml) and the
	// embedded default store does not exist. run then starts the child with
	// its own environment, references resolved, as docs/delivery.md says
	// (DATABASE_URL=ref+awssm://… keyward run -- ./server). nil: never.
	NoStoreOfItsOwn func() bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, OpenStore: f.OpenStore, Environ: f.Environ, Signals: f.Signals,
		Resolver:        f.Resolver,
		NoStoreOfItsOwn: func() bool { return noStoreOfItsOwn(f) },
		ringConfig:      func(n bool) (export.RingOptions, error) { return cliexport.RingOptions(f, n) }}
	var noRedact bool
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARGS...]",
		Short: "Run a command with the store's secrets in its environment",
		Long: `Run COMMAND with every secret in the store added to its environment as
KEY=value (or only the keys given with --only). keyward stays in front of the
child and exits with its exit code.

COMMAND is executed directly, never through a shell: write
'keyward run -- sh -c "…"' when you want one.

A secret replaces a variable of the same name already in the environment
(the store is the source of truth); --no-override keeps the existing
variable instead. --prefix P names each variable P+KEY.

SIGINT, SIGTERM and SIGHUP sent to keyward are forwarded to the child. run
exits with the child's exit code, or 128+N when the child was killed by
signal N; 127 when COMMAND is not found and 126 when it cannot be executed.
Errors before the child starts (store, missing --only key) use keyward's
usual exit codes.

Keys that cannot be environment variable names (empty, or containing "="
or a NUL byte) are skipped with a warning when listing the whole store and
are an error with --only; so is a value containing a NUL byte.

A variable whose value is a reference — ref+SCHEME://…#/KEY or
keyward://ENV/KEY — is resolved before the child starts, whether it comes
from the store or from keyward's own environment; a malformed reference is
an error naming the variable. A reference that came from the store is
data: it may name only this store, or stores you allow with --allow-ref
(KEYWARD_ALLOW_REFS, references.allow in ~/.config/keyward/config.yaml;
see docs/delivery.md). References in your own environment are yours.

The child's stdout and stderr pass through a filter that replaces every
value run injected (and its base64, hex, URL- and JSON-escaped forms) with
[REDACTED:NAME], also when a value is split across writes. Values shorter
than 8 bytes are not redacted (they would match unrelated output, and the
gaps would reveal them); run notes on stderr which ones. With the filter the
child's output is a pipe, not a terminal; --no-redact gives it keyward's
own stdout and stderr.

keyward's own credentials never reach the child: KEYWARD_AGE_IDENTITY,
KEYWARD_AGE_IDENTITY_FILE, KEYWARD_SCAN_KEY, KEYWARD_AUDIT_KEY and any
other KEYWARD_*_KEY, *_IDENTITY, *_TOKEN, *_PASSWORD, *_SECRET variable are
removed from its environment (--pass-keyward-env keeps them, e.g. when the
child is keyward itself). With --only the child gets the named keys and the
rest of keyward's environment, nothing else from the store: references are
resolved only in the named keys' variables.

While a key has a previous value in its rotation grace period, the child
also gets KEY_OLD holding it (keyward.yaml delivery.old_suffix), so it can
verify tokens signed just before a rotation; --numbered-ring adds the whole
ring as KEY_0 (current), KEY_1, …. --files DIR writes the secrets as files
and gives the child KEY_FILE paths instead.

--watch keeps the child running and reloads it when a secret changes: it
polls every --interval, waits for --debounce of quiet (one reload per
rotation) and a random --splay, then restarts the child (SIGTERM,
--stop-timeout, SIGKILL) or, with --reload signal:HUP, only signals it. A
store outage keeps the child on its last values (a warning on stderr);
every reload is an audit record naming keys and versions.`,
		Example: `  keyward run -- ./server --port 8080
  keyward run --only DATABASE_URL,JWT_SECRET_KEY -- python app.py
  keyward run --env production -- npm start
  keyward run --prefix APP_ -- env
  keyward run -- sh -c 'echo "token has ${#API_TOKEN} characters"'
  keyward run --watch --interval 1m -- python3 verifier.py serve
  keyward run --watch --reload signal:HUP --files ./secrets -- ./server`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("run needs a command: keyward run [flags] -- COMMAND [ARGS...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Command = args
			opts.Redact = !noRedact
			if err := cmdutil.CleanOnly(opts.Only); err != nil {
				return err
			}
			if strings.ContainsAny(opts.Prefix, "=\x00") {
				return cmdutil.FlagErrorf("--prefix must not contain '=' or NUL")
			}
			if err := configureRing(opts); err != nil {
				return err
			}
			if err := checkWatch(cmd, &opts.Watch); err != nil {
				return err
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	// Everything after the command name belongs to the command, even without "--".
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringSliceVar(&opts.Only, "only", nil, "Only these keys (comma-separated or repeated)")
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "Prefix each variable name with this string")
	cmd.Flags().BoolVar(&opts.NoOverride, "no-override", false, "Keep a variable already in the environment instead of the secret")
	cmd.Flags().BoolVar(&noRedact, "no-redact", false, "Do not filter the child's output for secret values")
	cmd.Flags().BoolVar(&opts.PassKeywardEnv, "pass-keyward-env", false, cmdutil.PassKeywardEnvUsage)
	cliexport.AddRingFlags(cmd, &opts.NumberedRing)
	addWatchFlags(cmd, &opts.Watch)
	cmd.Flags().StringVar(&opts.Files, "files", "", "Write the secrets as files into this directory (0700; files 0400, named by the lower-case key) and give the child KEY_FILE=path instead of KEY")
	return cmd
}

// noStoreOfItsOwn: the store would be the embedded default only because
// nothing chose one, and that store file does not exist.
func noStoreOfItsOwn(f *cmdutil.Factory) bool {
	u, _, src, err := f.ResolveStoreURL()
	if err != nil || src != "default" {
		return false
	}
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	_, err = os.Lstat(keyward.URLPath(pu))
	return errors.Is(err, fs.ErrNotExist)
}

func hasRefs(env []string) bool {
	for _, kv := range env {
		if _, v, _ := strings.Cut(kv, "="); keyward.IsRef(v) {
			return true
		}
	}
	return false
}

func run(ctx context.Context, opts *Options) error {
	var vars []string
	// With no store of its own and references to resolve, the references
	// are the secrets; without references the missing store is reported.
	if opts.Watch.Enabled || opts.NoStoreOfItsOwn == nil || len(opts.Only) > 0 || !opts.NoStoreOfItsOwn() || !hasRefs(opts.environ()) {
		s, err := opts.OpenStore(ctx)
		if err != nil {
			return err
		}
		if opts.Watch.Enabled {
			return runWatch(ctx, opts, s)
		}
		if vars, err = auditedSecretEnv(ctx, opts, s); err != nil {
			return err
		}
	}
	env, resolved, err := deliveryEnv(ctx, opts, vars)
	if err != nil {
		return err
	}
	var red map[string][]byte
	if opts.Redact {
		red = redactable(vars, env, resolved) // before --files replaces the values with paths
	}
	if opts.Files != "" {
		// The secrets go into files; the child gets their paths (files.go).
		fileVars, _, err := writeFiles(opts.Files, secretVars(vars, env), nil)
		if err != nil {
			return err
		}
		env = mergeEnv(withoutVars(env, vars), fileVars, false)
	}
	if !opts.Redact {
		return execChild(ctx, opts, env)
	}
	return runRedacted(ctx, opts, env, red)
}

// environ is the environment the child starts from (Options.Environ,
// else os.Environ).
func (o *Options) environ() []string {
	if o.Environ != nil {
		return o.Environ()
	}
	return os.Environ()
}

// deliveryEnv is the child's environment around vars (the store's NAME=value
// entries): keyward's own environment without its credentials, vars merged
// in, references resolved; resolved names the variables resolved from a
// reference. run and run --watch both build it here.
func deliveryEnv(ctx context.Context, opts *Options, vars []string) ([]string, map[string]bool, error) {
	base := cmdutil.ChildEnv(opts.environ(), opts.PassKeywardEnv)
	env := mergeEnv(base, vars, opts.NoOverride)
	return resolveRefs(ctx, opts, env, base, selected(opts))
}

// selected is the set of variable names --only chose (with --prefix), or
// nil without --only (every variable).
func selected(opts *Options) map[string]bool {
	if len(opts.Only) == 0 {
		return nil
	}
	m := make(map[string]bool, len(opts.Only))
	for _, k := range opts.Only {
		m[opts.Prefix+k] = true
	}
	return m
}

// resolveRefs resolves every variable of env whose value is a reference and
// returns the names it resolved. With only set (--only), only those
// variables are resolved: least privilege means a reference elsewhere in the
// environment fetches nothing. A reference keyward inherited (an entry of
// base, the user's own environment) is trusted; one that came from the
// store is data, and goes through the resolver's trust check.
func resolveRefs(ctx context.Context, opts *Options, env, base []string, only map[string]bool) ([]string, map[string]bool, error) {
	var r *keyward.Resolver
	resolved := map[string]bool{}
	inherited := make(map[string]bool, len(base))
	for _, kv := range base {
		inherited[kv] = true
	}
	for i, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		if !keyward.IsRef(val) || (only != nil && !only[name]) {
			continue
		}
		if r == nil {
			if opts.Resolver != nil {
				r = opts.Resolver()
			} else {
				r = &keyward.Resolver{}
			}
		}
		resolve := r.Resolve
		if inherited[kv] {
			resolve = r.ResolveTrusted
		}
		s, err := resolve(ctx, val)
		if err != nil {
			return nil, nil, export.RefError(name, err)
		}
		if strings.IndexByte(s.RevealString(), 0) >= 0 {
			return nil, nil, keyward.Errorf(keyward.InvalidArgument, "run",
				"the reference in %s resolves to a value with a NUL byte, which cannot be put in an environment variable", name)
		}
		env[i] = name + "=" + s.RevealString()
		resolved[name] = true
	}
	return env, resolved, nil
}

// redactable is what the filter hides: the secrets run fetched and every
// variable resolved from a reference (with its resolved value).
func redactable(vars, env []string, resolved map[string]bool) map[string][]byte {
	out := map[string][]byte{}
	for _, v := range vars {
		n, val, _ := strings.Cut(v, "=")
		out[n] = []byte(val)
	}
	for _, kv := range env {
		n, v, _ := strings.Cut(kv, "=")
		if resolved[n] {
			out[n] = []byte(v)
		}
	}
	return out
}

// runRedacted runs the child with its stdout and stderr through redaction
// filters, flushing them when it is done.
func runRedacted(ctx context.Context, opts *Options, env []string, secrets map[string][]byte) error {
	if len(secrets) == 0 {
		return execChild(ctx, opts, env)
	}
	o := *opts
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = opts.IO.Out
	}
	if stderr == nil {
		stderr = opts.IO.ErrOut
	}
	red, skipped := redact.Compile(secrets)
	fout, ferr := red.Writer(stdout), red.Writer(stderr)
	if len(skipped) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "keyward: note: not redacting %s: values shorter than %d bytes are not redacted\n",
			strings.Join(skipped, ", "), redact.MinLength)
	}
	o.Stdout, o.Stderr = fout, ferr
	err := execChild(ctx, &o, env)
	e1, e2 := fout.Close(), ferr.Close()
	if err == nil {
		if e1 != nil {
			err = e1
		} else {
			err = e2
		}
	}
	return err
}

// auditedSecretEnv is secretEnv with one audit record for the whole read,
// naming every key, flushed before any value can reach a child
// (docs/audit.md): run's delivery, and each full read of run --watch.
func auditedSecretEnv(ctx context.Context, opts *Options, s *keyward.Store) ([]string, error) {
	bctx, flush := s.AuditBatch(ctx)
	vars, err := secretEnv(bctx, opts, s)
	if ferr := flush(ctx); err == nil {
		err = ferr
	}
	return vars, err
}

// secretEnv fetches the secrets and returns them as NAME=value entries.
func secretEnv(ctx context.Context, opts *Options, s *keyward.Store) ([]string, error) {
	for _, k := range opts.Only {
		if !validName(k) {
			return nil, cmdutil.FlagErrorf("--only: %q is not a valid environment variable name", k)
		}
	}
	keys, explicit, err := cmdutil.SelectKeys(ctx, s, opts.Only)
	if err != nil {
		return nil, err
	}
	if !explicit {
		keys = slices.DeleteFunc(keys, func(k string) bool {
			if validName(k) {
				return false
			}
			fmt.Fprintf(opts.IO.ErrOut, "keyward: warning: skipping key %q: not a valid environment variable name\n", k)
			return true
		})
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return ringEnv(ctx, opts, s, keys, explicit)
}

func validName(k string) bool {
	return k != "" && !strings.ContainsAny(k, "=\x00")
}

// mergeEnv adds vars (NAME=value) to base. A var replaces every entry of
// base with the same name unless noOverride, in which case the base entry
// wins. The result has one entry per name.
func mergeEnv(base, vars []string, noOverride bool) []string {
	name := func(kv string) string {
		n, _, _ := strings.Cut(kv, "=")
		return n
	}
	set := make(map[string]bool, len(vars))
	for _, v := range vars {
		set[name(v)] = true
	}
	out := make([]string, 0, len(base)+len(vars))
	have := make(map[string]bool, len(base))
	for _, kv := range base {
		n := name(kv)
		if set[n] && !noOverride {
			continue
		}
		have[n] = true
		out = append(out, kv)
	}
	for _, v := range vars {
		if noOverride && have[name(v)] {
			continue
		}
		out = append(out, v)
	}
	return out
}

// execChild runs the command, forwards signals, and turns its exit status
// into keyward's. A signal that cancelled ctx before the forwarding was in
// place means the user asked keyward to stop: no child is started.
func execChild(ctx context.Context, opts *Options, env []string) error {
	c, err := newCommand(opts)
	if err != nil {
		return err
	}
	c.Env = env
	c.Stdout, c.Stderr = opts.IO.Out, opts.IO.ErrOut
	if opts.Stdout != nil {
		c.Stdout = opts.Stdout
	}
	if opts.Stderr != nil {
		c.Stderr = opts.Stderr
	}
	if opts.Stdout != nil || opts.Stderr != nil {
		// Output is copied through a pipe: do not wait forever for a
		// background grandchild that keeps it open after the child exits.
		c.WaitDelay = 2 * time.Second
		// A pipe makes Python block-buffer its stdout, so a server's log
		// lines would arrive in bursts: ask it to stay unbuffered, as it is
		// on a terminal, unless the environment already says otherwise.
		c.Env = PythonUnbuffered(c.Env)
	}

	// Catch the signals before the child exists, so none is lost between
	// Start and the forwarding loop. (The root command also turns SIGINT and
	// SIGTERM into a cancelled context; the child is deliberately not tied to
	// that context: it decides itself how to handle the forwarded signal.)
	sigs, stop := cmdutil.ForwardSignals(opts.Signals)
	defer stop()
	if ctx.Err() != nil {
		return errInterruptedBeforeStart()
	}

	if err := startCommand(opts, c); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				_ = c.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err = c.Wait()
	close(done)
	return exitOf(opts.Command[0], err)
}

// errInterruptedBeforeStart is run's error for a signal that came before
// its child started: none is started (exit 130).
func errInterruptedBeforeStart() error {
	return keyward.NewError(keyward.Canceled, "run", errors.New("interrupted before the command started"))
}

// newCommand is opts.Command, found on PATH, reading keyward's stdin; a
// command that cannot be found or run is the shell's exit 127 or 126.
func newCommand(opts *Options) (*exec.Cmd, error) {
	path, err := exec.LookPath(opts.Command[0])
	if err != nil {
		code := ExitCommandNotFound
		if errors.Is(err, os.ErrPermission) {
			code = ExitCannotExecute
		}
		return nil, cannotRun(opts, err, code)
	}
	c := exec.Command(path, opts.Command[1:]...)
	c.Args[0] = opts.Command[0]
	c.Stdin = opts.IO.In
	return c, nil
}

// startCommand starts c, mapping a failure to exit 127 or 126 as newCommand does.
func startCommand(opts *Options, c *exec.Cmd) error {
	if err := c.Start(); err != nil {
		code := ExitCannotExecute
		if errors.Is(err, os.ErrNotExist) {
			code = ExitCommandNotFound
		}
		return cannotRun(opts, err, code)
	}
	return nil
}

func cannotRun(opts *Options, err error, code int) error {
	fmt.Fprintf(opts.IO.ErrOut, "keyward: failed to run %q: %v\n", opts.Command[0], unwrapExec(err))
	return &cmdutil.SilentError{Code: code}
}

func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return fsutil.StripPath(err)
}

// PythonUnbuffered adds PYTHONUNBUFFERED=1 to env unless env already sets
// PYTHONUNBUFFERED (to anything): run uses it when the child's output goes
// through the redaction filter's pipe.
func PythonUnbuffered(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PYTHONUNBUFFERED=") {
			return env
		}
	}
	return append(env[:len(env):len(env)], "PYTHONUNBUFFERED=1")
}

// exitOf turns the child's exit into keyward's: 0 stays nil, an exit code
// or a signal becomes the same exit of keyward (128+signal, as a shell
// does), anything else (an I/O error copying the child's output, a
// closed pipe, say) is an Unknown error naming the command.
func exitOf(name string, err error) error {
	if err == nil || errors.Is(err, exec.ErrWaitDelay) {
		// ErrWaitDelay: the child exited 0 but something it started still
		// held the output pipe open.
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &cmdutil.SilentError{Code: 128 + int(ws.Signal())}
		}
		return &cmdutil.SilentError{Code: ee.ExitCode()}
	}
	return keyward.NewError(keyward.Unknown, "run "+fmt.Sprintf("%q", name), err)
}
