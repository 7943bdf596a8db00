//go:build unix

package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/keyward/keyward/driver"
)

// alive reports whether process pid exists (EPERM: it exists, as another
// user's).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func ownedByMe(st fs.FileInfo) bool {
	s, ok := st.Sys().(*syscall.Stat_t)
	return !ok || int(s.Uid) == os.Getuid()
}

// syncUnsupported reports whether a directory fsync failed only because the
// file system does not do it (EINVAL).
func syncUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, fs.ErrInvalid) || errors.Is(err, errors.ErrUnsupported)
}

// errnoCode is Code for the errnos io/fs has no sentinel for.
func errnoCode(err error) driver.Code {
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return driver.NotFound
	case errors.Is(err, syscall.EROFS):
		return driver.PermissionDenied
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.EINVAL):
		return driver.InvalidArgument
	}
	return driver.Unknown
}
