//go:build !unix && !windows

package local

import "os"

// On systems with neither flock nor LockFileEx, writers in one process are still
// serialised; across processes keyward relies on the atomic rename and
// check-and-set. See docs/local-store.md.
func tryLockFile(f *os.File) (bool, error) { return true, nil }

func unlockFile(f *os.File) error { return nil }

func openLock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// fileID is empty here: the size and modification time identify a file.
func fileID(os.FileInfo) string { return "" }
