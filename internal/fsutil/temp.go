package fsutil

// Temporary files. The temporary files keyward writes plaintext into
// (export -o, template -o, init --from, export --format docker) carry a
// recognisable name, so that one left behind by a kill -9 is removed by the
// next keyward that starts in, or writes to, the same directory.
//
// A temporary file has to live in the directory of the file it replaces
// (rename(2) is atomic only within one file system), so it cannot be kept
// out of the work tree; instead its name is
//
//	.keyward-tmp-<pid>-<base>-<random>
//
// and SweepTemps removes such files once they are stale: their pid is no
// longer running, or they are older than TempMaxAge.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TempPrefix starts every keyward temporary file name.
const TempPrefix = ".keyward-tmp-"

// TempMaxAge is how old a temporary file may get while its process still
// runs (a write takes milliseconds; this also covers a reused pid).
const TempMaxAge = 10 * time.Minute

// tempName is a fresh temporary file name (a base name) for replacing the
// file named base: TempPrefix, this process's pid, base, random hex.
func tempName(base string) string {
	b := strings.Map(func(r rune) rune {
		if r == '*' || r == os.PathSeparator || r == '/' {
			return '_'
		}
		return r
	}, base)
	return TempPrefix + strconv.Itoa(os.Getpid()) + "-" + b + "-" + randomHex()
}

func randomHex() string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return hex.EncodeToString(rnd[:])
}

// IsTemp reports whether name (a base name) is a keyward temporary file.
func IsTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }

// tempOwner is the pid in a temporary file's name, or 0.
func tempOwner(name string) int {
	rest := strings.TrimPrefix(name, TempPrefix)
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

// SweepTemps removes the stale keyward temporary files in dir and returns
// the paths it removed. Only regular files of mode 0600 or stricter owned by
// this user are touched (never a symlink, a directory or another user's
// file), and only when the process named in the file is gone or the file is
// older than TempMaxAge. A file WriteFile did not make — a name without a
// pid, or readable by group or others as a git checkout makes it — is left
// alone, so a repository cannot use SweepTemps to delete its own files.
// Errors (an unreadable dir, a file that vanished) are not reported:
// sweeping is housekeeping.
func SweepTemps(dir string, now time.Time) []string {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var removed []string
	for _, n := range names {
		if !IsTemp(n) {
			continue
		}
		p := filepath.Join(dir, n)
		pid := tempOwner(n)
		if pid == 0 {
			continue // not a name WriteFile makes
		}
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o077 != 0 || !ownedByMe(st) {
			continue
		}
		stale := now.Sub(st.ModTime()) > TempMaxAge || (pid != os.Getpid() && !alive(pid))
		if !stale {
			continue
		}
		if err := os.Remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
			removed = append(removed, p)
		}
	}
	return removed
}
