//go:build unix

package tmpfile

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
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
