package run

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
)

// Watch canaries: the child logs which one it got by label, never the value.
var watchValues = map[string]string{
	"KWCANARY-watch-w1-0123456789": "w1", "KWCANARY-watch-w2-0123456789": "w2",
	"KWCANARY-watch-x1-0123456789": "x1", "KWCANARY-watch-x2-0123456789": "x2",
	"KWCANARY-watch-w3-0123456789": "w3",
}

// current is the label of $NAME, or of the file $NAME_FILE names.
func current(name string) string {
	if p := os.Getenv(name + "_FILE"); p != "" {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			return "absent"
		}
		if err != nil {
			return "unreadable"
		}
		return label(string(b))
	}
	return label(os.Getenv(name))
}

func label(v string) string {
	if l, ok := watchValues[v]; ok {
		return l
	}
	if v == "" {
		return "unset"
	}
	return "other"
}

// The test binary doubles as the watched child when KW_WATCH_LOG is set
// (checked in init, before TestMain): it appends "start W=… X=…" to the
// log, then "hup" on SIGHUP and "term" on SIGTERM (exiting 0, unless
// KW_WATCH_IGNORE_TERM is set); KW_WATCH_EXIT=N exits N at once.
func init() {
	logPath := os.Getenv("KW_WATCH_LOG")
	if logPath == "" {
		return
	}
	appendLog := func(s string) {
		if s == "" {
			return
		}
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			os.Exit(98)
		}
		fmt.Fprintln(f, s)
		f.Close()
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM)
	state := func() string {
		st := fmt.Sprintf("W=%s X=%s", current("W"), current("X"))
		if os.Getenv("W_OLD") != "" || os.Getenv("W_OLD_FILE") != "" {
			st += " W_OLD=" + current("W_OLD")
		}
		return st
	}
	appendLog("start " + state())
	if n := os.Getenv("KW_WATCH_EXIT"); n != "" {
		code, _ := strconv.Atoi(n)
		os.Exit(code)
	}
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			appendLog("hup " + state())
		case syscall.SIGTERM:
			appendLog("term")
			if os.Getenv("KW_WATCH_IGNORE_TERM") == "" {
				os.Exit(0)
			}
		}
	}
}

type watchHarness struct {
	t      *testing.T
	b      *mem.Backend
	s      *keyward.Store
	log    string
	ticks  map[string]chan time.Time
	events chan string
	done   chan error
	errOut *syncBuffer

	clock *rotation.FakeClock

	mu     sync.Mutex
	audits []*keyward.Event
}

type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

func (h *watchHarness) put(k, label string) {
	h.t.Helper()
	for v, l := range watchValues {
		if l == label {
			if _, err := h.s.Put(context.Background(), k, keyward.NewSecretString(v), nil); err != nil {
				h.t.Fatal(err)
			}
			return
		}
	}
	h.t.Fatalf("no canary %s", label)
}

// startWatch runs keyward run --watch over a mem store holding W=w1, X=x1,
// with the timers under the test's control ("stop" stays real unless
// fakeStop).
func startWatch(t *testing.T, w WatchOptions, fakeStop bool, extraEnv ...string) *watchHarness {
	t.Helper()
	return startWatchOpts(t, w, fakeStop, "", extraEnv...)
}

func startWatchFiles(t *testing.T, w WatchOptions, dir string) *watchHarness {
	t.Helper()
	return startWatchOpts(t, w, false, dir)
}

func startWatchOpts(t *testing.T, w WatchOptions, fakeStop bool, files string, extraEnv ...string) *watchHarness {
	t.Helper()
	h := &watchHarness{t: t, b: mem.NewBackend(), log: filepath.Join(t.TempDir(), "child.log"),
		ticks: map[string]chan time.Time{"interval": make(chan time.Time), "debounce": make(chan time.Time),
			"splay": make(chan time.Time), "stop": make(chan time.Time)},
		events: make(chan string, 1000), done: make(chan error, 1), errOut: &syncBuffer{}}
	h.clock = rotation.NewFakeClock(time.Now())
	w.now = h.clock.Now
	h.s = h.b.OpenStore(&keyward.StoreOptions{URL: "mem://watch", Retries: -1, TTL: -1, Clock: h.clock.Now,
		Audit: func(_ context.Context, e *keyward.Event) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			cp := *e
			h.audits = append(h.audits, &cp)
			return nil
		}})
	h.put("W", "w1")
	h.put("X", "x1")
	w.Enabled = true
	w.events = h.events
	w.after = func(what string, d time.Duration) <-chan time.Time {
		if what == "stop" && !fakeStop {
			return time.After(d)
		}
		return h.ticks[what]
	}
	ios, _, _, _ := iostreams.Test()
	ios.ErrOut = h.errOut
	exe, _ := os.Executable()
	o := &Options{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return h.s, nil },
		Environ: func() []string { return append([]string{"KW_WATCH_LOG=" + h.log}, extraEnv...) },
		Command: []string{exe}, Watch: w, Redact: true, Files: files}
	go func() { h.done <- run(context.Background(), o) }()
	return h
}

// next returns the watcher's next event (the guard only catches a hung
// watcher; nothing here depends on how long anything takes).
func (h *watchHarness) next() string {
	h.t.Helper()
	select {
	case e := <-h.events:
		return e
	case err := <-h.done:
		h.t.Fatalf("watch ended early: %v (stderr: %s)", err, h.errOut)
	case <-time.After(2 * time.Minute):
		h.t.Fatal("watcher stuck")
	}
	return ""
}

// expect reads events until one starts with each prefix in turn.
func (h *watchHarness) expect(prefixes ...string) string {
	h.t.Helper()
	var last string
	for _, p := range prefixes {
		for {
			last = h.next()
			if strings.HasPrefix(last, p) {
				break
			}
		}
	}
	return last
}

func (h *watchHarness) tick(what string) {
	h.t.Helper()
	select {
	case h.ticks[what] <- time.Now():
	case err := <-h.done:
		h.t.Fatalf("watch ended early: %v (stderr: %s)", err, h.errOut)
	case <-time.After(2 * time.Minute):
		h.t.Fatalf("watcher not waiting for %s", what)
	}
}

func (h *watchHarness) childLog() []string {
	b, _ := os.ReadFile(h.log)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// waitLog waits until the child's log has n lines (the child writes them
// asynchronously to the watcher's events).
func (h *watchHarness) waitLog(n int) []string {
	h.t.Helper()
	for i := 0; i < 12000; i++ {
		if l := h.childLog(); len(l) >= n && l[0] != "" {
			return l
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("child log: %q, want %d lines", h.childLog(), n)
	return nil
}

// stop sends SIGTERM to keyward and returns its result.
func (h *watchHarness) stop() error {
	h.t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		h.t.Fatal(err)
	}
	select {
	case err := <-h.done:
		return err
	case <-time.After(2 * time.Minute):
		h.t.Fatal("keyward did not exit after SIGTERM")
	}
	return nil
}

func (h *watchHarness) reloads() []*keyward.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*keyward.Event
	for _, e := range h.audits {
		if e.Action == "run.reload" {
			out = append(out, e)
		}
	}
	return out
}

func checkNoCanary(t *testing.T, what, s string) {
	t.Helper()
	for v := range watchValues {
		if strings.Contains(s, v) {
			t.Errorf("%s contains a secret value", what)
		}
	}
}

// Two keys written one after the other (a rotation's change set) while the
// watcher debounces: exactly one restart, with both new values; the audit
// trail has one reload record naming both keys and their versions.
func TestWatchOneRestartPerChangeSet(t *testing.T) {
	h := startWatch(t, WatchOptions{Debounce: time.Second, StopTimeout: time.Minute}, false)
	pid := h.expect("started")
	h.waitLog(1)
	h.put("W", "w2")
	h.tick("interval")
	h.expect("poll", "changed")
	h.put("X", "x2") // the second write lands during the debounce
	h.tick("debounce")
	h.expect("poll", "changed")
	h.tick("debounce")
	h.expect("poll", "unchanged")
	newPid := h.expect("started")
	if newPid == pid {
		t.Fatal("the child was not restarted")
	}
	h.expect("reloaded")
	got := h.waitLog(3)
	want := []string{"start W=w1 X=x1", "term", "start W=w2 X=x2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("child log %q, want %q", got, want)
	}
	// Nothing changed since: no further reload.
	h.tick("interval")
	h.expect("poll", "unchanged")
	err := h.stop()
	if cmdutil.ExitCode(err) != 0 {
		t.Fatalf("exit %d after the child exited 0 on SIGTERM", cmdutil.ExitCode(err))
	}
	if l := h.childLog(); len(l) != 4 || l[3] != "term" {
		t.Fatalf("SIGTERM not forwarded: %q", l)
	}
	r := h.reloads()
	if len(r) != 1 {
		t.Fatalf("%d reload records, want 1", len(r))
	}
	if !strings.Contains(r[0].Detail, "W version") || !strings.Contains(r[0].Detail, "X version") || !strings.HasPrefix(r[0].Detail, "restart: ") {
		t.Errorf("reload record detail %q does not name both keys and versions", r[0].Detail)
	}
	checkNoCanary(t, "reload record", r[0].Detail)
	checkNoCanary(t, "stderr", h.errOut.String())
	if !strings.Contains(h.errOut.String(), "restarting the child") {
		t.Errorf("stderr does not announce the restart: %q", h.errOut)
	}
	// The child is gone (reaped), not orphaned.
	n, _ := strconv.Atoi(strings.TrimPrefix(newPid, "started "))
	if err := syscall.Kill(n, 0); err == nil {
		t.Errorf("child %d still exists after keyward exited", n)
	}
}

// --reload signal:HUP signals the running child instead of restarting it.
func TestWatchSignalReload(t *testing.T) {
	h := startWatch(t, WatchOptions{Reload: "signal:HUP", Debounce: time.Second}, false)
	h.expect("started")
	h.waitLog(1)
	h.put("W", "w2")
	h.tick("interval")
	h.expect("poll", "changed")
	h.tick("debounce")
	h.expect("poll", "unchanged", "signaled")
	got := h.waitLog(2)
	if strings.Join(got, "|") != "start W=w1 X=x1|hup W=w1 X=x1" {
		t.Fatalf("child log %q: want one start and a SIGHUP", got)
	}
	if r := h.reloads(); len(r) != 1 || !strings.HasPrefix(r[0].Detail, "signal SIGHUP: W version") || r[0].Key != "W" {
		t.Fatalf("reload records %+v", r)
	}
	h.stop()
}

// --files with --reload signal:HUP: the secrets are files (W_FILE), the
// ring's old value included (w_old) while in grace; every reload rewrites
// them before the signal, and w_old goes once the grace is revoked.
func TestWatchFilesSignal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	h := startWatchFiles(t, WatchOptions{Reload: "signal:HUP", Debounce: 0}, dir)
	h.expect("started")
	h.waitLog(1)
	rotate := func(v string, revoke bool) {
		t.Helper()
		if _, err := rotation.Rotate(context.Background(), h.s, "W", &rotation.Options{Grace: time.Hour, RevokePrevious: revoke, Clock: h.clock.Now,
			NewValue: func(context.Context) (keyward.Secret, error) { return keyward.NewSecretString(v), nil }}); err != nil {
			t.Fatal(err)
		}
	}
	rotate("KWCANARY-watch-w2-0123456789", false)
	h.tick("interval")
	h.expect("poll", "changed", "signaled")
	got := h.waitLog(2)
	if got[1] != "hup W=w2 X=x1 W_OLD=w1" {
		t.Fatalf("child log %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "w_old")); err != nil || label(string(b)) != "w1" {
		t.Fatalf("w_old during the grace: %v, holds %s", err, label(string(b)))
	}
	rotate("KWCANARY-watch-w3-0123456789", true)
	h.tick("interval")
	h.expect("poll", "changed", "signaled")
	if got := h.waitLog(3); got[2] != "hup W=w3 X=x1 W_OLD=absent" {
		t.Fatalf("child log %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "w_old")); !os.IsNotExist(err) {
		t.Fatalf("w_old still there after --revoke-previous: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "w")); err != nil || fi.Mode().Perm() != 0o400 {
		t.Fatalf("w: %v %v", fi, err)
	}
	h.stop()
}

// The end of a grace changes what the child gets without any write: the
// watcher reads again once the earliest grace has ended (whatever the
// change stamps say) and restarts the child without W_OLD.
func TestWatchGraceEnd(t *testing.T) {
	h := startWatch(t, WatchOptions{Debounce: 0, StopTimeout: time.Minute}, false)
	h.expect("started")
	h.waitLog(1)
	if _, err := rotation.Rotate(context.Background(), h.s, "W", &rotation.Options{Grace: time.Hour, Clock: h.clock.Now,
		NewValue: func(context.Context) (keyward.Secret, error) {
			return keyward.NewSecretString("KWCANARY-watch-w2-0123456789"), nil
		}}); err != nil {
		t.Fatal(err)
	}
	h.tick("interval")
	h.expect("poll", "changed", "started", "reloaded")
	h.waitLog(3) // the new child is up (a SIGTERM before that would kill it silently)
	h.tick("interval")
	h.expect("poll", "unchanged")
	h.clock.Advance(time.Hour + time.Second)
	h.tick("interval")
	h.expect("poll", "changed", "started", "reloaded")
	got := h.waitLog(5)
	want := "start W=w1 X=x1|term|start W=w2 X=x1 W_OLD=w1|term|start W=w2 X=x1"
	if strings.Join(got, "|") != want {
		t.Fatalf("child log %q, want %q", got, want)
	}
	if r := h.reloads(); len(r) != 2 || !strings.Contains(r[1].Detail, "W ring 2 → 1 values") {
		t.Fatalf("reload records: %d, last %q", len(r), r[len(r)-1].Detail)
	}
	h.stop()
}

// A provider outage keeps the child on its last values and says so once;
// recovery is announced; no reload happens.
func TestWatchStaleIfError(t *testing.T) {
	h := startWatch(t, WatchOptions{Debounce: time.Second}, false)
	h.expect("started")
	h.b.SetFailure(func(string) error { return keyward.ErrUnavailable })
	h.tick("interval")
	h.expect("poll", "stale")
	h.tick("interval")
	h.expect("poll", "stale")
	if c := strings.Count(h.errOut.String(), "cannot read the store"); c != 1 {
		t.Fatalf("outage reported %d times, want once: %q", c, h.errOut)
	}
	if !strings.Contains(h.errOut.String(), "the child keeps running on the values read at") {
		t.Fatalf("stderr: %q", h.errOut)
	}
	h.b.SetFailure(nil)
	h.tick("interval")
	h.expect("poll", "recovered", "unchanged")
	if got := h.waitLog(1); len(got) != 1 {
		t.Fatalf("child log %q: the child must not be restarted", got)
	}
	h.stop()
	if len(h.reloads()) != 0 {
		t.Fatal("a reload was recorded during an outage")
	}
}

// keyward exits with the child's code when the child exits on its own.
func TestWatchChildExitCode(t *testing.T) {
	h := startWatch(t, WatchOptions{}, false, "KW_WATCH_EXIT=7")
	h.expect("started")
	h.expect("exited")
	if err := <-h.done; cmdutil.ExitCode(err) != 7 {
		t.Fatalf("exit %d, want the child's 7", cmdutil.ExitCode(err))
	}
}

// While a watched child runs, keyward forwards signals and waits for it, as
// run does: Main's interrupt deadline (exit 130 after InterruptGrace,
// leaving the child running) must not apply; after the child exits it does
// again.
func TestWatchForwardsSignalsWhileTheChildRuns(t *testing.T) {
	h := startWatch(t, WatchOptions{}, false)
	h.expect("started")
	h.waitLog(1) // the child runs until it is sent SIGTERM
	if !cmdutil.ForwardingSignals.Load() {
		t.Error("run --watch started its child without cmdutil.ForwardingSignals: an interrupt would exit 130 and orphan it")
	}
	if err := h.stop(); err != nil {
		t.Fatalf("watch: %v", err)
	}
	if cmdutil.ForwardingSignals.Load() {
		t.Error("cmdutil.ForwardingSignals still set after the watched child exited")
	}
}

// A child that ignores SIGTERM is killed once the stop timeout passes, then
// started again.
func TestWatchStopTimeoutKills(t *testing.T) {
	h := startWatch(t, WatchOptions{Debounce: 0, StopTimeout: time.Hour}, true, "KW_WATCH_IGNORE_TERM=1")
	h.expect("started")
	h.waitLog(1)
	h.put("W", "w2")
	h.tick("interval")
	h.expect("poll", "changed")
	h.waitLog(2) // "term", ignored
	h.tick("stop")
	started := h.expect("started")
	h.expect("reloaded")
	got := h.waitLog(3)
	if strings.Join(got, "|") != "start W=w1 X=x1|term|start W=w2 X=x1" {
		t.Fatalf("child log %q", got)
	}
	if !strings.Contains(h.errOut.String(), "did not exit within 1h0m0s of SIGTERM: killing it") {
		t.Errorf("stderr: %q", h.errOut)
	}
	// This child ignores SIGTERM: kill it; keyward reports 128+9.
	pid, _ := strconv.Atoi(strings.TrimPrefix(started, "started "))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-h.done; cmdutil.ExitCode(err) != 128+9 {
		t.Fatalf("exit %d, want 137", cmdutil.ExitCode(err))
	}
}

func TestWatchFlags(t *testing.T) {
	for _, tc := range []struct {
		args, wantErr string
	}{
		{"--watch --reload signal:HUP", ""},
		{"--watch --reload signal:SIGUSR1", ""},
		{"--watch --reload signal:BOGUS", "unknown signal"},
		{"--watch --reload reboot", "restart or signal:NAME"},
		{"--interval 5s", "only applies with --watch"},
		{"--watch --interval 0s", "--interval must be positive"},
		{"--watch --splay -1s", "cannot be negative"},
	} {
		var got *Options
		f := &cmdutil.Factory{IO: func() *iostreams.IOStreams { s, _, _, _ := iostreams.Test(); return s }()}
		cmd := NewCmd(f, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(append(strings.Fields(tc.args), "--", "true"))
		cmd.SetOut(new(strings.Builder))
		cmd.SetErr(new(strings.Builder))
		err := cmd.Execute()
		if tc.wantErr == "" {
			if err != nil || got == nil || !got.Watch.Enabled || got.Watch.Interval != DefaultWatchInterval {
				t.Errorf("%s: err %v, opts %+v", tc.args, err, got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

// Each full read of run --watch is one "get" audit record naming every key
// it read, as a plain run's delivery is (not one record per key).
func TestWatchReadIsOneAuditRecord(t *testing.T) {
	h := startWatch(t, WatchOptions{}, false)
	h.expect("started")
	h.waitLog(1)
	if err := h.stop(); err != nil {
		t.Fatalf("watch: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var gets []*keyward.Event
	for _, e := range h.audits {
		if e.Action == "get" {
			gets = append(gets, e)
		}
	}
	if len(gets) != 1 {
		t.Fatalf("the first read wrote %d get records, want 1", len(gets))
	}
	var keys []string
	for _, k := range gets[0].Keys {
		keys = append(keys, k.Key)
	}
	if strings.Join(keys, ",") != "W,X" || gets[0].Key != "" {
		t.Fatalf("the get record names %q (key %q), want W,X", keys, gets[0].Key)
	}
}
