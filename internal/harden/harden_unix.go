//go:build unix && !linux

package harden

import "golang.org/x/sys/unix"

func disableCoreDumps() error {
	return unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0})
}
