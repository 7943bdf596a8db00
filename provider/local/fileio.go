package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/fsutil"
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

// writeAtomic replaces path with data (fsutil.WriteFile, mode 0600, under
// the temporary name removeStaleTemps knows). The caller holds the lock.
func writeAtomic(path string, data []byte) error {
	err := fsutil.WriteFile(path, data, &fsutil.WriteOptions{TempPrefix: filepath.Base(tempPrefix(path)), Step: step})
	var we *fsutil.WriteError
	if !errors.As(err, &we) {
		return err
	}
	code, cause := fsutil.Code(err), fsutil.StripPath(err)
	switch we.Op {
	case "create":
		return wrapErr(code, err, "", "cannot create a temporary file in %s: %v", filepath.Dir(path), cause)
	case "rename":
		return wrapErr(code, err, "", "cannot replace %s: %v (the store is unchanged)", path, cause)
	case "sync-dir":
		return wrapErr(code, err, "", "cannot sync directory %s: %v", filepath.Dir(path), cause)
	}
	return wrapErr(code, err, "", "cannot write %s: %v (the store is unchanged)", path, cause)
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
	if err := fsutil.SyncDir(dir); err != nil {
		return wrapErr(errorCode(err), err, "", "cannot sync directory %s: %v", dir, unwrapPathErr(err))
	}
	return nil
}
