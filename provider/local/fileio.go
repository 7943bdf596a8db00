package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/driver"
)

// crashHook, when set (tests only), is called at each step of a write;
// the crash test's child process kills itself there.
var crashHook func(step string)

func step(name string) {
	if crashHook != nil {
		crashHook(name)
	}
}

// The steps of a write, in order. A writer killed before "renamed" leaves
// the old file; at or after it, the new one.
var writeSteps = []string{"locked", "read", "temp-created", "temp-half-written", "temp-written", "temp-synced", "renamed", "dir-synced"}

// LockPath is the advisory lock file beside a store file.
func LockPath(path string) string { return path + ".lock" }

func tempPrefix(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
}

// inproc serialises writers in this process before they take the file lock,
// so goroutines wait on a channel instead of polling flock.
var (
	inprocMu sync.Mutex
	inproc   = map[string]chan struct{}{}
)

func inprocLock(ctx context.Context, abs string) (func(), error) {
	inprocMu.Lock()
	ch := inproc[abs]
	if ch == nil {
		ch = make(chan struct{}, 1)
		inproc[abs] = ch
	}
	inprocMu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lock takes the writer lock for the store at path: first in-process, then
// an advisory lock on PATH.lock that other processes honour. The lock file
// is never removed (removing it would race with a waiting writer).
func lock(ctx context.Context, path string) (unlock func(), err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	release, err := inprocLock(ctx, abs)
	if err != nil {
		return nil, err
	}
	f, err := openLock(LockPath(abs))
	if err != nil {
		release()
		return nil, wrapErr(errorCode(err), err, "", "cannot open lock file %s: %v", LockPath(path), unwrapPathErr(err))
	}
	delay := time.Millisecond
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			f.Close()
			release()
			return nil, wrapErr(driver.Unavailable, err, "", "cannot lock %s: %v", LockPath(path), err)
		}
		if ok {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			release()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 25*time.Millisecond)
	}
	return func() {
		_ = unlockFile(f)
		_ = f.Close()
		release()
	}, nil
}

// writeAtomic replaces path with data: a new file in the same directory
// (0600, O_EXCL) is written, fsynced and renamed over path, then the
// directory is fsynced. The caller holds the lock.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	tmp := tempPrefix(path) + hex.EncodeToString(suffix[:])
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return wrapErr(errorCode(err), err, "", "cannot create a temporary file in %s: %v", dir, unwrapPathErr(err))
	}
	step("temp-created")
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return wrapErr(errorCode(err), err, "", "cannot write %s: %v (the store is unchanged)", path, unwrapPathErr(err))
	}
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		return fail(err)
	}
	step("temp-half-written")
	if _, err := f.Write(data[half:]); err != nil {
		return fail(err)
	}
	step("temp-written")
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	step("temp-synced")
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return wrapErr(errorCode(err), err, "", "cannot write %s: %v (the store is unchanged)", path, unwrapPathErr(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return wrapErr(errorCode(err), err, "", "cannot replace %s: %v (the store is unchanged)", path, unwrapPathErr(err))
	}
	step("renamed")
	if err := syncDir(dir); err != nil {
		return err
	}
	step("dir-synced")
	return nil
}

// removeStaleTemps deletes temporary files left by writers that died. The
// caller holds the lock, so no live writer owns one.
func removeStaleTemps(path string) {
	matches, _ := filepath.Glob(escapeGlob(tempPrefix(path)) + "*")
	for _, m := range matches {
		if strings.HasPrefix(m, tempPrefix(path)) {
			_ = os.Remove(m)
		}
	}
}

func escapeGlob(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return wrapErr(errorCode(err), err, "", "cannot sync directory %s: %v", dir, unwrapPathErr(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) && !isSyncUnsupported(err) {
		return wrapErr(errorCode(err), err, "", "cannot sync directory %s: %v", dir, unwrapPathErr(err))
	}
	return nil
}
