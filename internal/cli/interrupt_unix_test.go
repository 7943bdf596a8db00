//go:build unix

package cli

import (
	"syscall"
	"testing"
	"time"
)

// TestInterruptContext: in both modes, once the handlers are installed a
// SIGINT or SIGTERM cancels the context instead of killing keyward; the
// read-only verbs use the background mode, every other verb the
// synchronous one.
func TestInterruptContext(t *testing.T) {
	for _, tc := range []struct {
		name       string
		background bool
		sig        syscall.Signal
	}{
		{"synchronous/SIGINT", false, syscall.SIGINT},
		{"synchronous/SIGTERM", false, syscall.SIGTERM},
		{"background/SIGINT", true, syscall.SIGINT},
		{"background/SIGTERM", true, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, stop, installed := interruptContext(tc.background)
			defer stop()
			select {
			case <-installed:
			case <-time.After(10 * time.Second):
				t.Fatal("the signal handlers were never installed")
			}
			if ctx.Err() != nil {
				t.Fatal("the context is done before any signal")
			}
			if err := syscall.Kill(syscall.Getpid(), tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("%v did not cancel the context", tc.sig)
			}
		})
	}
	for _, v := range []string{"run", "get", "list", "ls"} {
		if !readOnlyVerbs[v] {
			t.Errorf("%s should install its handlers in the background", v)
		}
	}
	for _, v := range []string{"set", "init", "rotate", "delete", "copy", "export", "sync", "hook", "audit", "template", ""} {
		if readOnlyVerbs[v] {
			t.Errorf("%s writes: its handlers must be in place before it starts", v)
		}
	}
}
