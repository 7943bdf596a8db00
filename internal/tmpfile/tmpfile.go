// Package tmpfile makes the temporary files keyward writes plaintext into
// (export -o, template -o, init --from) recognisable, so that one left
// behind by a kill -9 is removed by the next keyward that starts in, or
// writes to, the same directory.
//
// A temporary file has to live in the directory of the file it replaces
// (rename(2) is atomic only within one file system), so it cannot be kept
// out of the work tree; instead its name is
//
//	.keyward-tmp-<pid>-<base>-<random>
//
// and Sweep removes such files once they are stale: their pid is no longer
// running, or they are older than MaxAge.
package tmpfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Prefix starts every keyward temporary file name.
const Prefix = ".keyward-tmp-"

// MaxAge is how old a temporary file may get while its process still runs
// (a write takes milliseconds; this also covers a reused pid).
const MaxAge = 10 * time.Minute

// Create makes a new temporary file (0600, O_EXCL) in dir for replacing the
// file named base.
func Create(dir, base string) (*os.File, error) {
	b := strings.Map(func(r rune) rune {
		if r == '*' || r == os.PathSeparator || r == '/' {
			return '_'
		}
		return r
	}, base)
	return os.CreateTemp(dir, Prefix+strconv.Itoa(os.Getpid())+"-"+b+"-*")
}

// Is reports whether name (a base name) is a keyward temporary file.
func Is(name string) bool { return strings.HasPrefix(name, Prefix) }

// owner is the pid in a temporary file's name, or 0.
func owner(name string) int {
	rest := strings.TrimPrefix(name, Prefix)
	p, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Sweep removes the stale keyward temporary files in dir and returns the
// paths it removed. Only regular files of mode 0600 owned by this user are
// touched (never a symlink, a directory or another user's file), and only when the
// process named in the file is gone or the file is older than MaxAge. A
// file Create did not make — a name without a pid, or readable by group or
// others as a git checkout makes it — is left alone, so a repository cannot
// use Sweep to delete its own files.
// Errors (an unreadable dir, a file that vanished) are not reported: Sweep
// is housekeeping.
func Sweep(dir string, now time.Time) []string {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var removed []string
	for _, n := range names {
		if !Is(n) {
			continue
		}
		p := filepath.Join(dir, n)
		pid := owner(n)
		if pid == 0 {
			continue // not a name Create makes
		}
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o077 != 0 || !ownedByMe(st) {
			continue
		}
		stale := now.Sub(st.ModTime()) > MaxAge || (pid != os.Getpid() && !alive(pid))
		if !stale {
			continue
		}
		if err := os.Remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
			removed = append(removed, p)
		}
	}
	return removed
}
