package run

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/redact"
)

// run --watch: keep the child running and reload it when an injected
// secret (or its key ring) changes.

// Defaults of the watch flags.
const (
	DefaultWatchInterval = 30 * time.Second
	DefaultStopTimeout   = 10 * time.Second
	DefaultDebounce      = 5 * time.Second
)

// WatchOptions are run --watch's settings.
type WatchOptions struct {
	Enabled bool
	// Interval is how often the store is polled.
	Interval time.Duration
	// Reload is "restart" (SIGTERM, wait StopTimeout, SIGKILL, start again
	// with the new environment) or "signal:NAME" (send the signal only).
	Reload      string
	StopTimeout time.Duration
	// Debounce is how long the store must stay unchanged after a change
	// before the reload, so a rotation that writes several keys (or several
	// steps) causes one reload.
	Debounce time.Duration
	// Splay is the upper bound of a random delay before each reload, so a
	// fleet does not restart at once.
	Splay time.Duration

	signal syscall.Signal // parsed from Reload; 0 means restart

	// Tests: after replaces time.After (what is "interval", "debounce",
	// "splay" or "stop"); events receives what the watcher does.
	after  func(what string, d time.Duration) <-chan time.Time
	events chan<- string
	now    func() time.Time
}

func addWatchFlags(cmd *cobra.Command, w *WatchOptions) {
	fl := cmd.Flags()
	fl.BoolVar(&w.Enabled, "watch", false, "Keep the child running and reload it when a secret changes")
	fl.DurationVar(&w.Interval, "interval", DefaultWatchInterval, "--watch: how often to poll the store")
	fl.StringVar(&w.Reload, "reload", "restart", "--watch: restart (SIGTERM, --stop-timeout, SIGKILL, start again) or signal:NAME (e.g. signal:HUP)")
	fl.DurationVar(&w.StopTimeout, "stop-timeout", DefaultStopTimeout, "--watch --reload restart: how long the child may take to exit after SIGTERM")
	fl.DurationVar(&w.Debounce, "debounce", DefaultDebounce, "--watch: how long the store must stay unchanged before reloading (one reload per rotation)")
	fl.DurationVar(&w.Splay, "splay", 0, "--watch: wait a random delay up to this before each reload")
}

var watchFlags = []string{"interval", "reload", "stop-timeout", "debounce", "splay"}

// checkWatch validates the watch flags.
func checkWatch(cmd *cobra.Command, w *WatchOptions) error {
	if !w.Enabled {
		for _, n := range watchFlags {
			if cmd.Flags().Changed(n) {
				return cmdutil.FlagErrorf("--%s only applies with --watch", n)
			}
		}
		return nil
	}
	if w.Interval <= 0 {
		return cmdutil.FlagErrorf("--interval must be positive")
	}
	if w.StopTimeout < 0 || w.Debounce < 0 || w.Splay < 0 {
		return cmdutil.FlagErrorf("--stop-timeout, --debounce and --splay cannot be negative")
	}
	return parseReload(w)
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
}

func parseReload(w *WatchOptions) error {
	w.signal = 0
	switch r := w.Reload; {
	case r == "" || r == "restart":
		w.Reload = "restart"
		return nil
	case strings.HasPrefix(r, "signal:"):
		name := strings.TrimPrefix(strings.ToUpper(strings.TrimPrefix(r, "signal:")), "SIG")
		sig, ok := signalNames[name]
		if !ok {
			return cmdutil.FlagErrorf("--reload %s: unknown signal (known: HUP, USR1, USR2, TERM, INT, QUIT)", r)
		}
		w.signal = sig
		return nil
	}
	return cmdutil.FlagErrorf("--reload must be restart or signal:NAME (e.g. signal:HUP), not %q", w.Reload)
}

// snapshot is one full read of what the child gets.
type snapshot struct {
	env      []string
	vars     []string          // the secret variables, references resolved
	secrets  map[string][]byte // what redaction hides
	versions map[string]string // key → current version
	ringLen  map[string]int    // key → values in its ring
	expiry   time.Time         // earliest end of a grace among the rings
	keys     []string          // delivered keys (for stamps)
	listed   []string          // the store's listing (whole-store mode)
	stamps   map[string]string // provider change stamps taken before the read
	read     time.Time
}

type watcher struct {
	opts   *Options
	s      *keyward.Store
	quiet  *Options // opts with warnings discarded (every poll after the first)
	stale  bool
	noted  bool     // the short-values redaction note was printed
	stampp bool     // the provider has change stamps
	files  []string // the file names --files wrote last
}

// childEnv is the child's environment for snap: with --files the secrets
// are (re)written into the directory and the child gets their paths.
func (w *watcher) childEnv(snap *snapshot) ([]string, error) {
	if w.opts.Files == "" {
		return snap.env, nil
	}
	fileVars, names, err := writeFiles(w.opts.Files, snap.vars, w.files)
	if err != nil {
		return nil, err
	}
	w.files = names
	// A service that re-reads its files on a signal keeps the environment
	// it started with: name every key's old-value file from the start
	// (it exists only while the key has a previous value in grace).
	if suf := w.opts.Ring.Suffix(); suf != "" {
		have := map[string]bool{}
		for _, kv := range fileVars {
			n, _, _ := strings.Cut(kv, "=")
			have[n] = true
		}
		abs, _ := filepath.Abs(w.opts.Files)
		for _, k := range snap.keys {
			m, err := export.DockerMappings([]string{w.opts.Prefix + k + suf}, abs)
			if err == nil && len(m) == 1 && !have[m[0].Var] {
				fileVars = append(fileVars, m[0].Var+"="+m[0].Path)
			}
		}
	}
	return mergeEnv(withoutVars(snap.env, snap.vars), fileVars, false), nil
}

func (w *watcher) event(format string, args ...any) {
	if w.opts.Watch.events != nil {
		w.opts.Watch.events <- fmt.Sprintf(format, args...)
	}
}

func (w *watcher) after(what string, d time.Duration) <-chan time.Time {
	if d <= 0 && what != "interval" {
		c := make(chan time.Time, 1)
		c <- time.Now()
		return c
	}
	if w.opts.Watch.after != nil {
		return w.opts.Watch.after(what, d)
	}
	return time.After(d)
}

// stamps reads the provider's change stamps of keys (and their ring
// companions); nil when the provider has none. A provider that cannot give
// them here (KV v1, no permission on Vault's metadata) is then polled by
// value from now on, rather than counted as an outage.
func (w *watcher) stamps(ctx context.Context, keys []string) (map[string]string, error) {
	if !w.stampp {
		return nil, nil
	}
	st, ok, err := w.s.Stamps(ctx, withCompanions(w.s, keys))
	if err != nil {
		switch keyward.ErrorCode(err) {
		case keyward.Unimplemented, keyward.PermissionDenied:
			w.stampp = false
			return nil, nil
		}
		return nil, err
	}
	if !ok {
		w.stampp = false
		return nil, nil
	}
	return st, nil
}

// withCompanions adds the fields the key's rotation layout keeps next to
// it (KEY_OLD, KEY_ROTATION, KEY_PENDING), so their stamps count too.
func withCompanions(s *keyward.Store, keys []string) []string {
	out := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k)
		for _, suf := range keyward.RingCompanions(s.RingLayout(k)) {
			out = append(out, k+suf)
		}
	}
	return out
}

// listing returns the keys a whole-store run delivers from (nil with --only).
func (w *watcher) listing(ctx context.Context) ([]string, error) {
	if len(w.opts.Only) > 0 {
		return nil, nil
	}
	keys, _, err := cmdutil.SelectKeys(ctx, w.s, nil)
	return keys, err
}

// read does a full read: stamps first (of stampKeys), then values.
func (w *watcher) read(ctx context.Context, o *Options, stampKeys, listed []string) (*snapshot, error) {
	snap := &snapshot{listed: listed, read: time.Now()}
	if stampKeys != nil {
		st, err := w.stamps(ctx, stampKeys)
		if err != nil {
			return nil, err
		}
		snap.stamps = st
	}
	var rings map[string]*keyward.KeyRing
	oo := *o
	oo.ringsSeen = func(r map[string]*keyward.KeyRing) { rings = r }
	vars, err := auditedSecretEnv(ctx, &oo, w.s)
	if err != nil {
		return nil, err
	}
	env, resolved, err := deliveryEnv(ctx, o, vars)
	if err != nil {
		return nil, err
	}
	snap.env, snap.secrets, snap.vars = env, redactable(vars, env, resolved), secretVars(vars, env)
	snap.versions, snap.ringLen = map[string]string{}, map[string]int{}
	for k, r := range rings {
		snap.keys = append(snap.keys, k)
		snap.versions[k] = r.Current.Version.ID
		snap.ringLen[k] = 1 + len(r.Previous)
		for _, p := range r.Previous {
			if !p.Expires.IsZero() && (snap.expiry.IsZero() || p.Expires.Before(snap.expiry)) {
				snap.expiry = p.Expires
			}
		}
	}
	sort.Strings(snap.keys)
	return snap, nil
}

// poll reports whether what the child would get differs from cur. With
// change stamps it reads values only when a stamp, the listing or a grace
// deadline says something may have changed. A failed read is reported on
// stderr once per outage and changes nothing (stale-if-error).
func (w *watcher) poll(ctx context.Context, cur *snapshot) (*snapshot, bool) {
	next, changed, err := w.pollOnce(ctx, cur)
	if err != nil {
		if !w.stale {
			w.stale = true
			fmt.Fprintf(w.opts.IO.ErrOut, "keyward: warning: cannot read the store (%v); the child keeps running on the values read at %s\n",
				strings.TrimPrefix(err.Error(), "keyward: "), cur.read.UTC().Format(time.RFC3339))
		}
		w.event("stale")
		return cur, false
	}
	if w.stale {
		w.stale = false
		fmt.Fprintln(w.opts.IO.ErrOut, "keyward: the store is reachable again")
		w.event("recovered")
	}
	if !changed {
		w.event("unchanged")
	} else {
		w.event("changed")
	}
	return next, changed
}

func (w *watcher) pollOnce(ctx context.Context, cur *snapshot) (*snapshot, bool, error) {
	listed, err := w.listing(ctx)
	if err != nil {
		return nil, false, err
	}
	stampKeys := cur.keys
	if listed != nil {
		stampKeys = listed
	}
	now := time.Now
	if w.opts.Watch.now != nil {
		now = w.opts.Watch.now
	}
	// A grace that ended since the last read changes the ring without any
	// write: read again then, whatever the stamps say.
	if w.stampp && cur.stamps != nil && (cur.expiry.IsZero() || now().Before(cur.expiry)) && slices.Equal(listed, cur.listed) {
		st, err := w.stamps(ctx, stampKeys)
		if err != nil {
			return nil, false, err
		}
		if st != nil && maps.Equal(st, cur.stamps) {
			return cur, false, nil
		}
	}
	next, err := w.read(ctx, w.quiet, stampKeys, listed)
	if err != nil {
		return nil, false, err
	}
	if slices.Equal(next.env, cur.env) {
		// Stamps moved (another key, a rewrite), values did not.
		cur.stamps, cur.listed, cur.expiry = next.stamps, next.listed, next.expiry
		return cur, false, nil
	}
	return next, true, nil
}

// changes names what differs between two snapshots: keys and versions, never values.
func changes(old, cur *snapshot) (keys []string, detail string) {
	all := map[string]bool{}
	for k := range old.versions {
		all[k] = true
	}
	for k := range cur.versions {
		all[k] = true
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(all)) {
		ov, had := old.versions[k]
		nv, has := cur.versions[k]
		switch {
		case !had:
			parts = append(parts, fmt.Sprintf("%s added (version %s)", k, nv))
		case !has:
			parts = append(parts, k+" removed")
		case ov != nv:
			parts = append(parts, fmt.Sprintf("%s version %s → %s", k, ov, nv))
		case old.ringLen[k] != cur.ringLen[k]:
			parts = append(parts, fmt.Sprintf("%s ring %d → %d values (version %s)", k, old.ringLen[k], cur.ringLen[k], nv))
		default:
			continue
		}
		keys = append(keys, k)
	}
	if len(parts) == 0 {
		parts = []string{"a resolved reference changed"}
	}
	return keys, strings.Join(parts, ", ")
}

// child is one running command.
type child struct {
	c    *exec.Cmd
	done chan struct{}
	err  error // Wait's result; set before done is closed
}

func (w *watcher) start(snap *snapshot) (*child, error) {
	opts := w.opts
	c, err := newCommand(opts)
	if err != nil {
		return nil, err
	}
	env, err := w.childEnv(snap)
	if err != nil {
		return nil, err
	}
	c.Env = env
	stdout, stderr := io.Writer(opts.IO.Out), io.Writer(opts.IO.ErrOut)
	if opts.Stdout != nil {
		stdout = opts.Stdout
	}
	if opts.Stderr != nil {
		stderr = opts.Stderr
	}
	var closers []io.Closer
	if opts.Redact && len(snap.secrets) > 0 {
		red, skipped := redact.Compile(snap.secrets)
		fout, ferr := red.Writer(stdout), red.Writer(stderr)
		if len(skipped) > 0 && !w.noted {
			w.noted = true
			fmt.Fprintf(opts.IO.ErrOut, "keyward: note: not redacting %s: values shorter than %d bytes are not redacted\n",
				strings.Join(skipped, ", "), redact.MinLength)
		}
		stdout, stderr = fout, ferr
		closers = append(closers, fout, ferr)
	}
	c.Stdout, c.Stderr = stdout, stderr
	if _, ok := stdout.(*os.File); !ok {
		c.WaitDelay = 2 * time.Second
	} else if _, ok := stderr.(*os.File); !ok {
		c.WaitDelay = 2 * time.Second
	}
	if err := startCommand(opts, c); err != nil {
		return nil, err
	}
	ch := &child{c: c, done: make(chan struct{})}
	go func() {
		err := c.Wait()
		for _, cl := range closers {
			if cerr := cl.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}
		ch.err = err
		close(ch.done)
	}()
	w.event("started %d", c.Process.Pid)
	return ch, nil
}

// result turns the child's exit into keyward's.
func (w *watcher) result(ch *child) error { return exitOf(w.opts.Command[0], ch.err) }

// audit records one reload: the keys and versions, never values.
func (w *watcher) audit(ctx context.Context, how string, old, cur *snapshot) string {
	keys, detail := changes(old, cur)
	e := &keyward.Event{Action: "run.reload", Detail: how + ": " + detail}
	if len(keys) == 1 {
		e.Key, e.Version = keys[0], cur.versions[keys[0]]
	}
	if err := w.s.Audit(ctx, e); err != nil {
		fmt.Fprintf(w.opts.IO.ErrOut, "keyward: warning: %v\n", err)
	}
	return detail
}

// runWatch is run --watch.
func runWatch(ctx context.Context, opts *Options, s *keyward.Store) error {
	wo := &opts.Watch
	if wo.Interval <= 0 {
		wo.Interval = DefaultWatchInterval
	}
	if err := parseReload(wo); err != nil {
		return err
	}
	w := &watcher{opts: opts, s: s}
	_, w.stampp, _ = s.Stamps(ctx, nil) // whether the provider has stamps at all
	quiet := *opts
	qio := *opts.IO
	qio.ErrOut = io.Discard
	quiet.IO = &qio
	w.quiet = &quiet

	listed, err := w.listing(ctx)
	if err != nil {
		return err
	}
	stampKeys := listed
	if listed == nil {
		stampKeys = opts.Only
	}
	snap, err := w.read(ctx, opts, stampKeys, listed)
	if err != nil {
		return err
	}
	// As run does: forwarding from just before the first child, so a
	// signal during the first read still ends keyward (by the interrupt
	// deadline, if a read ignores it), and one that came before is seen.
	sigs, stop := cmdutil.ForwardSignals(opts.Signals)
	defer stop()
	if ctx.Err() != nil {
		return errInterruptedBeforeStart()
	}
	ch, err := w.start(snap)
	if err != nil {
		return err
	}
	var (
		pending           *snapshot
		debounceC, splayC <-chan time.Time
		stopping          bool
	)
	intervalC := w.after("interval", wo.Interval)
	for {
		select {
		case sig := <-sigs:
			_ = ch.c.Process.Signal(sig)
			if sig != syscall.SIGHUP {
				stopping = true
			}
		case <-ch.done:
			w.event("exited")
			return w.result(ch)
		case <-intervalC:
			intervalC = w.after("interval", wo.Interval)
			if pending != nil || stopping {
				continue
			}
			w.event("poll")
			if next, changed := w.poll(ctx, snap); changed {
				pending = next
				debounceC = w.after("debounce", wo.Debounce)
			}
		case <-debounceC:
			debounceC = nil
			if wo.Debounce > 0 {
				w.event("poll")
				if next, changed := w.poll(ctx, pending); changed {
					pending = next // still changing: wait for quiet again
					debounceC = w.after("debounce", wo.Debounce)
					continue
				}
			}
			var d time.Duration
			if wo.Splay > 0 {
				d = rand.N(wo.Splay)
			}
			splayC = w.after("splay", d)
		case <-splayC:
			splayC = nil
			if stopping {
				continue
			}
			if wo.signal != 0 {
				detail := w.audit(ctx, "signal "+signalName(wo.signal), snap, pending)
				if opts.Files != "" {
					if _, err := w.childEnv(pending); err != nil {
						fmt.Fprintf(opts.IO.ErrOut, "keyward: warning: %v\n", err)
					}
				}
				fmt.Fprintf(opts.IO.ErrOut, "keyward: secrets changed (%s): sending %s to the child\n", detail, signalName(wo.signal))
				_ = ch.c.Process.Signal(wo.signal)
				w.event("signaled")
				snap, pending = pending, nil
				continue
			}
			next, err, exited := w.restart(ctx, ch, snap, pending, sigs)
			if exited {
				return err
			}
			if err != nil {
				return err
			}
			ch, snap, pending = next, pending, nil
		}
	}
}

func signalName(s syscall.Signal) string {
	for n, v := range signalNames {
		if v == s {
			return "SIG" + n
		}
	}
	return s.String()
}

// restart stops the child (SIGTERM, then SIGKILL after the stop timeout)
// and starts it again with the new environment. exited reports that a
// signal for keyward itself arrived meanwhile: keyward then exits with the
// old child's status instead of restarting.
func (w *watcher) restart(ctx context.Context, ch *child, old, cur *snapshot, sigs <-chan os.Signal) (*child, error, bool) {
	detail := w.audit(ctx, "restart", old, cur)
	fmt.Fprintf(w.opts.IO.ErrOut, "keyward: secrets changed (%s): restarting the child\n", detail)
	_ = ch.c.Process.Signal(syscall.SIGTERM)
	stopC := w.after("stop", w.opts.Watch.StopTimeout)
	userStop := false
wait:
	for {
		select {
		case <-ch.done:
			break wait
		case <-stopC:
			stopC = nil
			fmt.Fprintf(w.opts.IO.ErrOut, "keyward: the child did not exit within %s of SIGTERM: killing it\n", w.opts.Watch.StopTimeout)
			_ = ch.c.Process.Kill()
		case sig := <-sigs:
			_ = ch.c.Process.Signal(sig)
			if sig != syscall.SIGHUP {
				userStop = true
			}
		}
	}
	if userStop {
		return nil, w.result(ch), true
	}
	next, err := w.start(cur)
	if err != nil {
		return nil, err, true
	}
	w.event("reloaded")
	return next, nil, false
}
