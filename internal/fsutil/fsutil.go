// Package fsutil holds small file-system helpers the read-only providers share.
package fsutil

import "io/fs"

// NotRegular names what kind of non-regular file m describes ("a FIFO",
// "a directory", …), or returns "" for a regular file. Providers that read
// secrets from files refuse anything else: a FIFO would block, a device
// could be endless.
func NotRegular(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	}
	return "a special file"
}
