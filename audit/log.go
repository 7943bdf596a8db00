package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward"
)

// Options configures a Logger.
type Options struct {
	// Path is the log file. Empty means no file (only Sinks).
	Path string
	// NoFsync skips the fsync after each append. The default (fsync every
	// record) survives a power cut; NoFsync is several times faster.
	NoFsync bool
	// SyncOnClose writes each record at once but fsyncs only in Close: one
	// fsync per CLI command instead of one per record (a `keyward export`
	// over 50 secrets writes 52 records; `keyward run` writes 3: its
	// delivery is one record with Keys). Records of a command cut off by a power
	// failure may be lost; crashes of the process lose nothing.
	SyncOnClose bool
	// Sinks receive every record after it is appended to the file.
	Sinks []Sink
	// Key is the audit HMAC key; nil means records carry no value HMACs.
	Key []byte
	// Actor overrides CurrentActor(os.Getenv).
	Actor *Actor
	// Clock replaces time.Now (tests).
	Clock func() time.Time
}

// Sink receives finished records (stderr, a slog handler, …).
type Sink interface {
	Write(ctx context.Context, r *Record) error
}

// Logger appends records. It is safe for concurrent use, also across
// processes sharing one file.
type Logger struct {
	opts  Options
	actor Actor
	mu    sync.Mutex
	f     *os.File
	// last remembers the tail this Logger wrote and the file size after it,
	// so an append that finds the size unchanged need not re-read the tail.
	last     tailInfo
	lastSize int64
	// dirty: records appended since the last fsync began (SyncOnClose).
	dirty bool
	// bgDone marks a background fsync started after a delivery record;
	// bgErr is its result, collected by SyncPending or Close.
	bgDone chan struct{} // closed (and cleared) when the fsync ends; guarded by mu
	bgErr  error
}

// Open opens (creating 0600, and its directory 0700) the log at o.Path.
func Open(o Options) (*Logger, error) {
	l := &Logger{opts: o}
	if o.Actor != nil {
		l.actor = *o.Actor
	} else {
		l.actor = CurrentActor(os.Getenv)
	}
	if o.Path != "" {
		if err := os.MkdirAll(filepath.Dir(o.Path), 0o700); err != nil {
			return nil, fmt.Errorf("failed to create the audit log directory: %w", err)
		}
		f, err := os.OpenFile(o.Path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("failed to open the audit log: %w", err)
		}
		l.f = f
	}
	return l, nil
}

// Close closes the file; with SyncOnClose it first fsyncs the records not
// yet synced.
func (l *Logger) Close() error { return l.close(true) }

// CloseUnsynced closes the file without an fsync of the records appended
// since the last one (SyncPending): the CLI's closing cli.<verb> outcome
// record when audit is not required (docs/audit.md). It still waits for a
// background fsync.
func (l *Logger) CloseUnsynced() error { return l.close(false) }

func (l *Logger) close(sync bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waitBackground()
	if l.f == nil {
		return nil
	}
	err := l.bgErr
	l.bgErr = nil
	if sync && l.unsynced() {
		err = errors.Join(err, l.f.Sync())
	}
	err = errors.Join(err, l.f.Close())
	l.f = nil
	return err
}

// SyncPending makes every record appended so far durable (SyncOnClose): it
// waits for a background fsync and fsyncs what was appended after it began.
func (l *Logger) SyncPending() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waitBackground()
	err := l.bgErr
	l.bgErr = nil
	if l.unsynced() {
		l.dirty = false
		if serr := l.f.Sync(); serr != nil {
			err = errors.Join(err, fmt.Errorf("failed to sync the audit log: %w", serr))
		}
	}
	return err
}

// unsynced reports records appended since the last fsync began that the
// Logger still owes one (SyncOnClose without NoFsync); l.mu is held.
func (l *Logger) unsynced() bool {
	return l.f != nil && l.opts.SyncOnClose && !l.opts.NoFsync && l.dirty
}

// syncInBackground starts an fsync of what was appended so far, off the
// caller's path (SyncOnClose): keyward run's delivery record becomes
// durable while the child starts, not when it exits. SyncPending and Close
// wait for it.
func (l *Logger) syncInBackground() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waitBackground() // at most one at a time
	if !l.unsynced() {
		return
	}
	l.dirty = false
	f, done := l.f, make(chan struct{})
	l.bgDone = done
	go func() {
		err := f.Sync()
		l.mu.Lock()
		defer l.mu.Unlock()
		if err != nil {
			l.bgErr = errors.Join(l.bgErr, fmt.Errorf("failed to sync the audit log: %w", err))
		}
		l.bgDone = nil
		close(done)
	}()
}

// waitBackground waits until no background fsync is in flight. l.mu is
// held on entry and on return (it is released while waiting), so no fsync
// can start between the wait and what the caller does next.
func (l *Logger) waitBackground() {
	for l.bgDone != nil {
		done := l.bgDone
		l.mu.Unlock()
		<-done
		l.mu.Lock()
	}
}

// ValueHMAC returns the hex HMAC-SHA256 of value under the audit key, or ""
// without a key.
func (l *Logger) ValueHMAC(value []byte) string {
	return ValueHMAC(l.opts.Key, value)
}

// ValueHMAC returns the hex HMAC-SHA256 of value under key ("" for a nil key).
func ValueHMAC(key, value []byte) string {
	if len(key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write(value)
	return hex.EncodeToString(m.Sum(nil))
}

// Hook adapts the Logger to keyward.StoreOptions.Audit.
func (l *Logger) Hook(ctx context.Context, e *keyward.Event) error {
	r := &Record{Action: e.Action, Env: e.Environment, Store: e.Store, Key: e.Key, Version: e.Version,
		Cached: e.Cached, Stale: e.Stale, Time: e.Time, Detail: e.Detail}
	if e.Code == keyward.OK {
		r.Outcome = "ok"
	} else {
		r.Outcome = "error"
		r.Code = e.Code.String()
		if e.Code == keyward.PermissionDenied {
			r.Outcome = "denied"
		}
	}
	if !e.Value.IsZero() {
		r.ValueHMAC = l.ValueHMAC(e.Value.Reveal())
	}
	if len(e.Keys) == 0 {
		return l.Append(ctx, r)
	}
	// A batched read: one record naming every key, or, for a store so
	// large that its names would not fit in one record (MaxRecordBytes),
	// as few records as fit.
	var errs []error
	keys := make([]KeyRecord, 0, len(e.Keys))
	size := 0
	flush := func() {
		rec := *r
		rec.Keys = keys
		errs = append(errs, l.Append(ctx, &rec))
		keys, size = nil, 0 // rec holds the flushed slice
	}
	for _, k := range e.Keys {
		kr := KeyRecord{Key: k.Key, Version: k.Version, Cached: k.Cached, Stale: k.Stale}
		if !k.Value.IsZero() {
			kr.ValueHMAC = l.ValueHMAC(k.Value.Reveal())
		}
		// JSON of one entry: the fields, their names and quotes, escapes.
		n := 2*(len(kr.Key)+len(kr.Version)) + len(kr.ValueHMAC) + 80
		if len(keys) > 0 && size+n > keysBudget {
			flush()
		}
		keys = append(keys, kr)
		size += n
	}
	flush()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// A delivery (keyward run) hands the values on next: fsync the record
	// now, in parallel with that, rather than when the command ends.
	l.syncInBackground()
	return nil
}

// keysBudget bounds the Keys of one record (estimated JSON bytes), leaving
// room in MaxRecordBytes for the actor and the other fields.
const keysBudget = MaxRecordBytes / 2

// Append completes r (version, actor, time, chain fields) and writes it.
func (l *Logger) Append(ctx context.Context, r *Record) error {
	r.V = FormatVersion
	if len(r.Keys) > 0 {
		r.V = FormatVersionKeys
	}
	if r.Time.IsZero() {
		if l.opts.Clock != nil {
			r.Time = l.opts.Clock()
		} else {
			r.Time = time.Now()
		}
	}
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	if r.Actor == (Actor{}) {
		r.Actor = l.actor
	}
	if r.Outcome == "" {
		r.Outcome = "ok"
	}
	if err := bound(r); err != nil {
		return err
	}
	var errs []error
	if l.opts.Path != "" {
		if err := l.appendFile(r); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range l.opts.Sinks {
		if err := s.Write(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *Logger) appendFile(r *Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("audit log is closed")
	}
	fd := int(l.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("failed to lock the audit log: %w", err)
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	st, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("failed to stat the audit log: %w", err)
	}
	tail := l.last
	if l.lastSize == 0 || st.Size() != l.lastSize {
		if tail, err = readTail(l.f, st.Size()); err != nil {
			return err
		}
	}
	r.Seq = tail.seq + 1
	r.Prev = tail.hash
	sealed, err := seal(r)
	if err != nil {
		return err
	}
	line := sealed
	if tail.partial {
		// A writer died mid-line; end that line so ours stays whole.
		// Verify reports the partial line.
		line = append([]byte{'\n'}, line...)
	}
	line = append(line, '\n')
	if _, err := l.f.Write(line); err != nil {
		l.lastSize = 0
		return fmt.Errorf("failed to write the audit log: %w", err)
	}
	l.last = tailInfo{seq: r.Seq, hash: lineHash(sealed)}
	l.lastSize = st.Size() + int64(len(line))
	l.dirty = true
	if !l.opts.NoFsync && !l.opts.SyncOnClose {
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("failed to sync the audit log: %w", err)
		}
	}
	return nil
}

// MaxRecordBytes bounds one written record line (64 KiB). A record whose
// fields would make it longer has its longest fields cut, each ending in
// TruncatedMarker, before it is sealed; no longer line is ever written.
// (Readers accept lines up to 1 MiB and step over longer ones.)
const MaxRecordBytes = 64 << 10

// TruncatedMarker ends a field that bound cut to keep a record within
// MaxRecordBytes.
const TruncatedMarker = "...[truncated]"

// sealOverhead is room for seq, prev and hash, filled in when sealing.
const sealOverhead = 256

// bound cuts r's string fields, longest first allowance halving, until the
// record fits in MaxRecordBytes.
func bound(r *Record) error {
	for limit := 8 << 10; ; limit /= 2 {
		b, err := marshal(r)
		if err != nil {
			return err
		}
		if len(b)+sealOverhead <= MaxRecordBytes {
			return nil
		}
		if limit < 16 {
			return fmt.Errorf("audit record is longer than %d bytes even with every field cut", MaxRecordBytes)
		}
		for _, f := range stringFields(r) {
			*f = truncate(*f, limit)
		}
	}
}

// stringFields lists every free-text field of r.
func stringFields(r *Record) []*string {
	fs := []*string{&r.Action, &r.Env, &r.Store, &r.Key, &r.Version, &r.Outcome, &r.Code, &r.ValueHMAC, &r.Detail,
		&r.Actor.User, &r.Actor.UID, &r.Actor.Host, &r.Actor.Process}
	if len(r.Keys) > 0 {
		ks := append([]KeyRecord(nil), r.Keys...) // never edit the caller's slice
		r.Keys = ks
		for i := range ks {
			fs = append(fs, &ks[i].Key, &ks[i].Version)
		}
	}
	if c := r.Actor.CI; c != nil {
		cc := *c // never edit the Logger's shared actor
		r.Actor.CI = &cc
		fs = append(fs, &cc.System, &cc.Actor, &cc.Repo, &cc.Run, &cc.Job)
	}
	if k := r.Actor.K8s; k != nil {
		kk := *k
		r.Actor.K8s = &kk
		fs = append(fs, &kk.Namespace, &kk.ServiceAccount, &kk.Pod)
	}
	return fs
}

// truncate cuts s to at most limit bytes (on a rune boundary), ending in
// TruncatedMarker, when it is longer.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := limit - len(TruncatedMarker)
	if n < 0 {
		n = 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + TruncatedMarker
}

// seal sets r.Hash and returns the record's line (no newline).
func seal(r *Record) ([]byte, error) {
	r.Hash = ""
	body, err := marshal(r)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	r.Hash = hex.EncodeToString(sum[:])
	return marshal(r)
}

// marshal is r's JSON line (appendRecord: byte-for-byte what encoding/json
// writes with HTML escaping off).
func marshal(r *Record) ([]byte, error) {
	return appendRecord(make([]byte, 0, 512), r)
}

func lineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

type tailInfo struct {
	seq     uint64
	hash    string
	partial bool
}

// readTail finds the last line of f: its hash and the last parsable seq.
func readTail(f *os.File, size int64) (tailInfo, error) {
	if size == 0 {
		return tailInfo{}, nil
	}
	const chunk = 4 << 10
	var buf []byte
	off := size
	for {
		n := int64(chunk)
		if off < n {
			n = off
		}
		off -= n
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
			return tailInfo{}, fmt.Errorf("failed to read the audit log: %w", err)
		}
		buf = append(b, buf...)
		if len(buf) > maxLine+chunk {
			// The last line is longer than any record keyward writes or
			// reads: Verify reports it. Start the chain again after it
			// rather than reading it all into memory.
			return tailInfo{hash: lineHash(buf), partial: buf[len(buf)-1] != '\n'}, nil
		}
		body := buf
		partial := body[len(body)-1] != '\n'
		if !partial {
			body = body[:len(body)-1]
		}
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 || off == 0 {
			last := body[i+1:]
			t := tailInfo{hash: lineHash(last), partial: partial}
			var rec Record
			if seq, ok := leadingSeq(last); ok {
				t.seq = seq
			} else if json.Unmarshal(last, &rec) == nil {
				t.seq = rec.Seq
			} else if off == 0 || i >= 0 {
				// Find the last parsable record for the sequence number.
				lines := bytes.Split(body[:max(i, 0)], []byte{'\n'})
				for j := len(lines) - 1; j >= 0; j-- {
					if json.Unmarshal(lines[j], &rec) == nil {
						t.seq = rec.Seq + uint64(len(lines)-j)
						break
					}
				}
			}
			return t, nil
		}
		if off == 0 {
			return tailInfo{}, nil
		}
	}
}

// leadingSeq reads the seq of a line as keyward writes it, {"v":N,"seq":M,…},
// when it is valid JSON: the chain head without decoding the whole record
// by reflection on every command. Anything else is for json.Unmarshal.
func leadingSeq(line []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"v":`))
	if !ok {
		return 0, false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"seq":`))
	if i == 0 || !ok {
		return 0, false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n >= len(rest) || rest[n] != ',' || !json.Valid(line) {
		return 0, false
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return 0, false
	}
	return seq, true
}

// WriterSink writes each record as a JSON line to w (stderr, stdout).
type WriterSink struct {
	mu sync.Mutex
	W  io.Writer
}

// Write implements Sink.
func (s *WriterSink) Write(_ context.Context, r *Record) error {
	b, err := marshal(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.W.Write(append(b, '\n'))
	return err
}

// SlogSink sends each record to a slog.Handler, for services that already
// ship structured logs. Records arrive at level Info with message "keyward audit".
type SlogSink struct{ Handler slog.Handler }

// Write implements Sink.
func (s SlogSink) Write(ctx context.Context, r *Record) error {
	if !s.Handler.Enabled(ctx, slog.LevelInfo) {
		return nil
	}
	rec := slog.NewRecord(r.Time, slog.LevelInfo, "keyward audit", 0)
	rec.AddAttrs(
		slog.Uint64("seq", r.Seq), slog.String("action", r.Action), slog.String("outcome", r.Outcome),
		slog.String("actor", r.Actor.String()), slog.String("env", r.Env), slog.String("store", r.Store),
		slog.String("key", r.Key), slog.String("version", r.Version),
	)
	if r.Code != "" {
		rec.AddAttrs(slog.String("code", r.Code))
	}
	if r.Stale {
		rec.AddAttrs(slog.Bool("stale", true))
	}
	if r.ValueHMAC != "" {
		rec.AddAttrs(slog.String("value_hmac", r.ValueHMAC))
	}
	return s.Handler.Handle(ctx, rec)
}
