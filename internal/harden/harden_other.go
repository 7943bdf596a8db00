//go:build !unix

package harden

func disableCoreDumps() error { return nil }
