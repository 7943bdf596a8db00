//go:build !unix

package local

// The crash test needs SIGKILL; it runs on Unix only.
func crashChild() int { return 2 }

func mergeChild() int { return 2 }
