// Package scan implements `keyward scan`.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/lazyre"
	"github.com/keyward/keyward/scan"
)

// Options are scan's inputs.
type Options struct {
	IO *iostreams.IOStreams
	// LoadManaged returns the managed values to search for, and notes
	// (for stderr) about stores that could not be read.
	LoadManaged func(ctx context.Context) ([]scan.Managed, []string, error)
	Getenv      func(string) string
	Version     string
	// Picked reports whether the user named the store (--store, --env):
	// then a trust refusal is an error even for --staged, since falling
	// back would hide that the store they asked for was not read.
	Picked func() bool

	Paths         []string
	Staged        bool
	History       bool
	NoIgnore      bool
	NoManaged     bool
	Format        string
	JSON          bool
	RulesFile     string
	Baseline      string
	WriteBaseline string
	MaxFileSize   int64
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Getenv: f.Getenv, Picked: func() bool { return f.StoreURL != "" || f.EnvName != "" }, LoadManaged: func(ctx context.Context) ([]scan.Managed, []string, error) {
		ms, notes, err := LoadManaged(ctx, f)
		// A managed value the project publishes itself (a copied default
		// of its .env.example such as REDIS_URL=redis://localhost:6379/0,
		// outside production) is not searched (Factory.PublicValues).
		if f.PublicValues != nil && len(ms) > 0 {
			ms = dropPublic(ms, f.PublicValues())
		}
		return ms, notes, err
	}}
	cmd := &cobra.Command{
		Use:   "scan [PATH...]",
		Short: "Find leaked secrets in files and git history",
		Long: `Search files, staged changes or the whole git history for the secret values
keyward manages, in clear or encoded (hex, base64 and base64url at any byte
alignment, percent-, JSON- and Go-escaped), and for well-known credential
formats (AWS, Stripe, GitHub, Slack, Google, SendGrid, Twilio, private keys,
JWTs, passwords in URLs, password=/secret= assignments).

Managed values come from the store you pick (--store, --env, KEYWARD_STORE,
SECRET_PROVIDER), or else from every keyward.yaml environment on this
machine (local://, dotenv://, file://, env://); a network environment is
read only when you pick it or allow it (--allow-ref, docs/delivery.md), so
the pre-commit hook never contacts a server a repository names. Values
shorter than 8 bytes are not searched. Findings name the key and environment, or the rule, and a
short keyed fingerprint; never the value.

With no PATH the current directory is scanned. Files git ignores are skipped
(--no-ignore includes them); symbolic links are never followed.
--staged scans what is staged for the next commit (for a pre-commit hook:
see 'keyward hook install'); --history scans every commit of every ref,
each distinct file version once, and names the commit and author that
introduced each finding.

Suppress a finding with a 'keyward:allow' comment on its line, or accept the
current ones with --write-baseline FILE and later runs with --baseline FILE.

Exit status: 0 clean, 1 findings, 2 usage error.`,
		Example: `  keyward scan
  keyward scan --staged
  keyward scan --history --format sarif > keyward.sarif
  keyward scan --env production --rules .gitleaks.toml src/
  keyward scan --write-baseline .keyward-baseline.json
  keyward scan --baseline .keyward-baseline.json --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			opts.Version = cmd.Root().Version
			if opts.JSON {
				if opts.Format != "" && opts.Format != "json" {
					return cmdutil.FlagErrorf("--json and --format %s disagree", opts.Format)
				}
				opts.Format = "json"
			}
			switch opts.Format {
			case "":
				opts.Format = "text"
			case "text", "json", "sarif":
			default:
				return cmdutil.FlagErrorf("unknown --format %q (want text, json or sarif)", opts.Format)
			}
			if opts.Staged && opts.History {
				return cmdutil.FlagErrorf("--staged and --history cannot be combined")
			}
			if (opts.Staged || opts.History) && len(args) > 1 {
				return cmdutil.FlagErrorf("--staged and --history take at most one PATH (the repository)")
			}
			if opts.MaxFileSize < 0 {
				return cmdutil.FlagErrorf("--max-file-size must be positive")
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Staged, "staged", false, "Scan the changes staged for the next commit")
	fl.BoolVar(&opts.History, "history", false, "Scan every commit of every ref")
	fl.BoolVar(&opts.NoIgnore, "no-ignore", false, "Also scan files git ignores")
	fl.BoolVar(&opts.NoManaged, "no-managed", false, "Do not read the store; search for known formats only")
	fl.StringVar(&opts.Format, "format", "", "Output format: text, json or sarif (SARIF 2.1.0)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	fl.StringVar(&opts.RulesFile, "rules", "", "Load format rules from a gitleaks-format TOML FILE (replaces the built-ins unless it says [extend] useDefault = true)")
	fl.StringVar(&opts.Baseline, "baseline", "", "Ignore the findings recorded in FILE")
	fl.StringVar(&opts.WriteBaseline, "write-baseline", "", "Record the current findings in FILE and exit 0")
	fl.Int64Var(&opts.MaxFileSize, "max-file-size", scan.DefaultMaxFileSize, "Skip files and blobs larger than this many bytes (reported)")
	return cmd
}

// LoadManaged reads every version of every key from the stores the command
// works on: the store picked with --store, --env, KEYWARD_STORE or
// SECRET_PROVIDER; else every keyward.yaml environment on this machine
// (local://, dotenv://, file://, env://) — a network store only when the
// user's allow entries cover it, so that neither scan nor the pre-commit
// hook contacts a server a repository names. Stores not read, and missing
// default stores, are notes, not errors.
func LoadManaged(ctx context.Context, f *cmdutil.Factory) ([]scan.Managed, []string, error) {
	var notes []string
	fromEnv, _ := keyward.StoreURLFromEnv(f.Getenv)
	// Every environment of the project, unless --store or --env picks one
	// store.
	if f.Environments != nil && f.StoreURL == "" && f.EnvName == "" && fromEnv == "" && f.ResolveEnv != nil {
		names, err := f.Environments()
		if err != nil {
			return nil, nil, err
		}
		if len(names) > 0 {
			var all []scan.Managed
			for _, n := range names {
				u, err := f.ResolveEnv(n)
				if err != nil {
					var te *keyward.TrustError
					if errors.As(err, &te) {
						notes = append(notes, fmt.Sprintf("environment %s not read: %v", n, strings.TrimPrefix(err.Error(), "keyward: ")))
						continue
					}
					return nil, nil, err
				}
				if !LocalStore(u) && !allowedNetwork(f, u) {
					notes = append(notes, networkNote(n, u))
					continue
				}
				s, err := f.OpenURL(ctx, u, n)
				if err != nil {
					notes = append(notes, fmt.Sprintf("environment %s: %v", n, err))
					continue
				}
				ms, err := ReadStore(ctx, s, n)
				if err != nil {
					notes = append(notes, fmt.Sprintf("environment %s: %v", n, err))
				}
				all = append(all, ms...)
			}
			return all, notes, nil
		}
	}
	u, env, source, err := f.ResolveStoreURL()
	if err != nil {
		return nil, nil, err
	}
	if source == "keyward.yaml" && !LocalStore(u) && !allowedNetwork(f, u) {
		return nil, []string{networkNote(env, u)}, nil
	}
	s, err := f.OpenURL(ctx, u, env)
	if err != nil {
		if source == "default" {
			return nil, []string{"no store found (" + cmdutil.DefaultStoreURL + "); searching for known formats only"}, nil
		}
		return nil, nil, err
	}
	ms, err := ReadStore(ctx, s, env)
	return ms, nil, err
}

// localSchemes are the stores scan reads by default: files and the
// process environment, nothing over the network.
var localSchemes = map[string]bool{"local": true, "dotenv": true, "file": true, "env": true, "mem": true}

// LocalStore reports whether a store URL names a store on this machine.
func LocalStore(raw string) bool {
	u, err := keyward.ParseStoreURL(raw)
	return err == nil && localSchemes[strings.ToLower(u.Scheme)]
}

// allowedNetwork: a network store of keyward.yaml that the user's allow
// entries (--allow-ref, KEYWARD_ALLOW_REFS, references.allow) cover.
func allowedNetwork(f *cmdutil.Factory, raw string) bool {
	p, err := f.TrustPolicy()
	if err != nil {
		return false
	}
	for _, e := range p.Allow {
		if keyward.AllowMatch(e, raw) {
			return true
		}
	}
	return false
}

// networkNote says why the network store u of environment env was not read.
func networkNote(env, u string) string {
	return fmt.Sprintf("environment %s not read: scan reads network stores only when you pick one (--env %s) or allow it (--allow-ref %s)", env, env, storePrefix(u))
}

// storePrefix is raw without user info or query, for a hint.
func storePrefix(raw string) string {
	u, err := keyward.ParseStoreURL(raw)
	if err != nil {
		return "URL"
	}
	return "'" + u.Scheme + "://" + u.Host + u.Path + "'"
}

// ReadStore returns every readable version of every key in s.
func ReadStore(ctx context.Context, s *keyward.Store, env string) ([]scan.Managed, error) {
	keys, err := s.List(ctx)
	if err != nil {
		return nil, cmdutil.WithHint(err, "scan needs a store that can list its keys; use --no-managed to search for known formats only")
	}
	var out []scan.Managed
	for _, k := range keys {
		v, err := s.GetValue(ctx, k.Key, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, scan.Managed{Key: k.Key, Env: env, Version: v.Version.ID, Value: v.Secret})
		if !s.Can("history") {
			continue
		}
		hist, err := s.History(ctx, k.Key)
		if err != nil {
			continue
		}
		for _, h := range hist {
			if h.ID == v.Version.ID {
				continue
			}
			old, err := s.GetValue(ctx, k.Key, &keyward.GetOptions{Version: h.ID})
			if err != nil {
				continue // destroyed or disabled: nothing stored to leak
			}
			out = append(out, scan.Managed{Key: k.Key, Env: env, Version: h.ID, Value: old.Secret})
		}
	}
	return out, nil
}

// stagedStoreTimeout bounds reading the stores for --staged: a pre-commit
// hook must not hang on a network store it cannot reach.
const stagedStoreTimeout = 15 * time.Second

func run(ctx context.Context, opts *Options) error {
	var managed []scan.Managed
	if !opts.NoManaged && opts.LoadManaged != nil {
		lctx := ctx
		if opts.Staged {
			var cancel context.CancelFunc
			lctx, cancel = context.WithTimeout(ctx, stagedStoreTimeout)
			defer cancel()
		}
		ms, notes, err := opts.LoadManaged(lctx)
		var te *keyward.TrustError
		picked := opts.Picked != nil && opts.Picked()
		if err != nil && (!opts.Staged || ctx.Err() != nil || (picked && errors.As(err, &te))) {
			return err
		}
		if opts.Staged {
			// The pre-commit hook never blocks a clean commit because a
			// store cannot be read (none yet, an identity the committer
			// does not have, a network store out of reach): it searches
			// for known formats, and the values it could read, with one note.
			notes = stagedNotes(notes, err)
		}
		for _, n := range notes {
			fmt.Fprintln(opts.IO.ErrOut, "keyward: note: "+n)
		}
		managed = ms
	}
	so := scan.Options{Managed: managed}
	if opts.RulesFile != "" {
		rules, err := scan.LoadRulesFile(opts.RulesFile)
		if err != nil {
			return cmdutil.FlagErrorf("%v", err)
		}
		so.Rules = rules
	}
	if opts.Getenv != nil {
		k, err := FingerprintKey(opts.Getenv)
		if err != nil {
			return err
		}
		so.FingerprintKey = k
	}
	s, err := scan.New(so)
	if err != nil {
		return err
	}
	for _, m := range s.Skipped() {
		fmt.Fprintf(opts.IO.ErrOut, "keyward: note: %s not searched: its value is shorter than %d bytes\n", name(m), scan.MinValueLen)
	}
	var base scan.Baseline
	if opts.Baseline != "" {
		var keyID string
		if base, keyID, err = scan.ReadBaselineKeyed(opts.Baseline); err != nil {
			return err
		}
		if note := baselineKeyNote(opts.Baseline, keyID, s.KeyID(), len(base)); note != "" {
			fmt.Fprintln(opts.IO.ErrOut, "keyward: note: "+note)
		}
	}
	src := scan.SourceOptions{NoIgnore: opts.NoIgnore, MaxFileSize: opts.MaxFileSize}
	stop := func() {}
	if opts.IO.ShowProgress() {
		src.Progress, stop = progress(opts.IO.ErrOut)
	}
	dir := "."
	if len(opts.Paths) > 0 {
		dir = opts.Paths[0]
	}
	var rep *scan.Report
	switch {
	case opts.Staged:
		rep, err = s.ScanStaged(ctx, dir, src)
	case opts.History:
		rep, err = s.ScanHistory(ctx, dir, src)
	default:
		rep, err = s.ScanTree(ctx, opts.Paths, src)
	}
	stop()
	if err != nil {
		if (opts.Staged || opts.History) && strings.Contains(err.Error(), "not a git repository") {
			return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "scan", "%s is not inside a git repository", dir),
				"--staged and --history read git: run them inside a repository, or scan files with 'keyward scan PATH'")
		}
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(opts.IO.ErrOut, "keyward: warning: "+w)
	}
	fs := rep.Findings
	if base != nil {
		fs = base.Filter(fs)
	}
	if opts.WriteBaseline != "" {
		if err := scan.WriteBaselineKeyed(opts.WriteBaseline, fs, s.KeyID()); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "keyward: wrote %s to %s\n", cmdutil.Count(len(fs), "finding"), opts.WriteBaseline)
		return nil
	}
	switch opts.Format {
	case "json":
		err = scan.WriteJSON(opts.IO.Out, fs)
	case "sarif":
		err = scan.WriteSARIF(opts.IO.Out, fs, s.Rules(), opts.Version)
	default:
		err = scan.WriteText(opts.IO.Out, fs)
	}
	if err != nil {
		return err
	}
	if opts.Format == "text" && opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "keyward: scanned %s (%.1f MB): %s\n", cmdutil.Count(int(rep.Files), "file"), float64(rep.Bytes)/1e6, cmdutil.Count(len(fs), "finding"))
	}
	if len(fs) > 0 {
		return &cmdutil.SilentError{Code: cmdutil.ExitError}
	}
	return nil
}

// EnvScanKey overrides the per-user scan fingerprint key (CI sets it from a
// CI secret, so that a committed baseline matches on every runner).
const EnvScanKey = "KEYWARD_SCAN_KEY"

// KeyPath is the per-user scan fingerprint key: scan.key next to the user
// config ($XDG_CONFIG_HOME/keyward/scan.key, or ~/.config/keyward/scan.key).
func KeyPath(getenv func(string) string) string {
	return filepath.Join(filepath.Dir(audit.UserConfigPath(getenv)), "scan.key")
}

// FingerprintKey is the key scan's fingerprints are keyed with:
// $KEYWARD_SCAN_KEY (its bytes, at least 16), else the per-user key at
// KeyPath, created (32 random bytes, hex, 0600) on first use. There is no
// public default: a fingerprint under a known key lets anyone holding a
// report test guessed values offline.
func FingerprintKey(getenv func(string) string) ([]byte, error) {
	if k := getenv(EnvScanKey); k != "" {
		if len(k) < scan.MinFingerprintKeyLen {
			return nil, cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "read "+EnvScanKey,
				"%s is %d bytes; it must be at least %d", EnvScanKey, len(k), scan.MinFingerprintKeyLen),
				"use a random value, e.g. from 'keyward generate' (docs/scan.md)")
		}
		return []byte(k), nil
	}
	p := KeyPath(getenv)
	k, err := audit.LoadOrCreateKey(p)
	if err != nil {
		return nil, cmdutil.WithHint(keyward.NewError(keyward.FailedPrecondition, "load the scan fingerprint key", err),
			"keyward keeps a per-user key at "+p+"; make its directory writable, or set "+EnvScanKey+" (docs/scan.md)")
	}
	return k, nil
}

// baselineKeyNote explains a baseline whose entries cannot match because it
// was written under another fingerprint key ("" when the keys agree).
func baselineKeyNote(path, baselineKey, key string, n int) string {
	switch {
	case n == 0 || baselineKey == key:
		return ""
	case baselineKey == "":
		return fmt.Sprintf("%s has no key id: it was written by an older keyward under the old public fingerprint key, so its %d entries will not match; rewrite it with --write-baseline (docs/scan.md)", path, n)
	}
	return fmt.Sprintf("%s was written under another scan fingerprint key, so its %d entries cannot match; use the key it was written with (%s, docs/scan.md) or rewrite it with --write-baseline", path, n, EnvScanKey)
}

// stagedNotes folds the notes of a --staged scan, and the error that kept
// it from reading a store, into one note.
func stagedNotes(notes []string, err error) []string {
	var why []string
	for _, n := range notes {
		why = append(why, shortNote(n))
	}
	if err != nil {
		why = append(why, shortNote(err.Error()))
	}
	switch {
	case len(why) == 0:
		return nil
	case err != nil && len(notes) == 0:
		return []string{"could not read the store (" + why[0] + "); searching staged changes for known formats only"}
	}
	return []string{"could not read every store (" + strings.Join(why, "; ") + "); searching staged changes for known formats and the values that could be read"}
}

// noteRE picks the environment, store and error code out of a note such as
// "environment staging: keyward: failed to list in awssm://…: permission denied: …".
var noteRE = lazyre.New(`^(?:environment (\S+): )?(?:keyward: )?failed to [^"]*?(?: "[^"]*")? in (\S+): ([a-z ]+):`)

// shortNote is the first line of a note, or "ENV: STORE: CODE" for a store error.
func shortNote(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	m := noteRE.FindStringSubmatch(s)
	switch {
	case m == nil:
		return strings.TrimPrefix(s, "keyward: ")
	case m[1] != "":
		return "environment " + m[1] + ", " + m[2] + ": " + m[3]
	}
	return m[2] + ": " + m[3]
}

// dropPublic removes managed values that the project publishes itself.
func dropPublic(ms []scan.Managed, public func(env string, v keyward.Secret) bool) []scan.Managed {
	if public == nil {
		return ms
	}
	out := ms[:0]
	for _, m := range ms {
		if !public(m.Env, m.Value) {
			out = append(out, m)
		}
	}
	return out
}

func name(m scan.Managed) string {
	if m.Env != "" {
		return m.Key + "@" + m.Env
	}
	return m.Key
}

// progress draws a one-line counter on w at most ten times a second.
func progress(w io.Writer) (func(files, bytes int64), func()) {
	var mu sync.Mutex
	var last time.Time
	drawn := false
	update := func(files, bytes int64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		drawn = true
		fmt.Fprintf(w, "\r\033[Kscanning: %d files, %.1f MB", files, float64(bytes)/1e6)
	}
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if drawn {
			fmt.Fprint(w, "\r\033[K")
		}
	}
	return update, stop
}
