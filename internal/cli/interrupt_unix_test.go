//go:build unix

package cli

import (
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// TestInterruptContext: in both modes, once the handlers are installed a
// SIGINT or SIGTERM cancels the context instead of killing keyward; the
// read-only verbs use the background mode, every other verb the
// synchronous one.
func TestInterruptContext(t *testing.T) {
	for _, tc := range []struct {
		name       string
		background []os.Signal
		sig        syscall.Signal
	}{
		{"synchronous/SIGINT", nil, syscall.SIGINT},
		{"synchronous/SIGTERM", nil, syscall.SIGTERM},
		{"background/SIGINT", backgroundSignals["get"], syscall.SIGINT},
		{"background/SIGTERM", backgroundSignals["list"], syscall.SIGTERM},
		{"background run/SIGHUP", backgroundSignals["run"], syscall.SIGHUP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, stop, installed, router := interruptContext(tc.background, tc.background != nil)
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
			if (router != nil) != (tc.background != nil) {
				t.Fatalf("router = %v, want one exactly in the background mode", router)
			}
			if router == nil {
				return
			}
			// The goroutine goes on after cancelling: a child started
			// since gets the next signal (run forwards every one).
			fwd, unforward := cmdutil.ForwardSignals(router)
			defer unforward()
			if err := syscall.Kill(syscall.Getpid(), tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-fwd:
				if got != tc.sig {
					t.Fatalf("forwarded %v, want %v", got, tc.sig)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("a second %v never reached the forwarding channel", tc.sig)
			}
		})
	}
	for _, v := range []string{"run", "get", "list", "ls"} {
		if len(backgroundSignals[v]) < 2 {
			t.Errorf("%s should install its handlers in the background", v)
		}
	}
	for _, v := range []string{"set", "init", "rotate", "delete", "copy", "export", "sync", "hook", "audit", "template", ""} {
		if backgroundSignals[v] != nil {
			t.Errorf("%s writes: its handlers must be in place before it starts", v)
		}
	}
	if slices.Contains(backgroundSignals["get"], os.Signal(syscall.SIGHUP)) {
		t.Error("get must keep SIGHUP's default effect")
	}
}
