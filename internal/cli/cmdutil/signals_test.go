package cmdutil

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

func installedNow() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// TestSignalsDeliver: while nothing forwards, every signal cancels the
// command; while run forwards, each is queued for the child exactly once,
// and SIGINT and SIGTERM still cancel (Main's deadline is off while
// forwarding) but SIGHUP does not (run --watch goes on watching).
func TestSignalsDeliver(t *testing.T) {
	defer ForwardingSignals.Store(false)
	for _, tc := range []struct {
		sig        syscall.Signal
		forwarding bool
		cancels    bool
	}{
		{syscall.SIGHUP, false, true},
		{syscall.SIGINT, false, true},
		{syscall.SIGTERM, false, true},
		{syscall.SIGHUP, true, false},
		{syscall.SIGINT, true, true},
		{syscall.SIGTERM, true, true},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		s := NewSignals(cancel, installedNow())
		var fwd <-chan os.Signal
		stop := func() {}
		if tc.forwarding {
			fwd, stop = ForwardSignals(s)
			if !ForwardingSignals.Load() {
				t.Errorf("%v: ForwardSignals did not set ForwardingSignals", tc.sig)
			}
		}
		if got := s.Deliver(tc.sig); got != tc.cancels {
			t.Errorf("Deliver(%v) while forwarding=%v cancelled=%v, want %v", tc.sig, tc.forwarding, got, tc.cancels)
		}
		if (ctx.Err() != nil) != tc.cancels {
			t.Errorf("%v while forwarding=%v: context done=%v, want %v", tc.sig, tc.forwarding, ctx.Err() != nil, tc.cancels)
		}
		if tc.forwarding {
			if got := len(fwd); got != 1 {
				t.Errorf("%v: %d signals queued for the child, want exactly 1", tc.sig, got)
			} else if got := <-fwd; got != tc.sig {
				t.Errorf("queued %v, want %v", got, tc.sig)
			}
		}
		stop()
		if ForwardingSignals.Load() {
			t.Errorf("%v: ForwardingSignals still set after stop", tc.sig)
		}
		cancel()
	}
}

// TestSignalsBeforeForwarding: a signal Main handled before run registered
// its forwarding has cancelled the command, so run, which checks after
// registering, does not start the child; one handled after is the
// child's. Either way it is handled once — never dropped between the two.
func TestSignalsBeforeForwarding(t *testing.T) {
	defer ForwardingSignals.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := NewSignals(cancel, installedNow())
	s.Deliver(syscall.SIGINT)
	fwd, stop := ForwardSignals(s)
	defer stop()
	if ctx.Err() == nil {
		t.Fatal("a SIGINT before the forwarding did not cancel the command: run would start its child and the signal would be lost")
	}
	if len(fwd) != 0 {
		t.Fatal("a SIGINT handled before the forwarding was also queued for the child")
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	s2 := NewSignals(cancel2, installedNow())
	fwd2, stop2 := ForwardSignals(s2)
	defer stop2()
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGHUP, syscall.SIGTERM} {
		s2.Deliver(sig)
	}
	for _, want := range []syscall.Signal{syscall.SIGHUP, syscall.SIGHUP, syscall.SIGTERM} {
		if got := <-fwd2; got != want {
			t.Fatalf("the child got %v, want %v (in order)", got, want)
		}
	}
	if ctx2.Err() == nil {
		t.Fatal("SIGTERM while forwarding did not cancel the command")
	}
}

// TestForwardSignalsWaitsForHandlers: run does not start its child while
// Main's handlers are still being installed (a signal would then kill
// keyward and orphan the child).
func TestForwardSignalsWaitsForHandlers(t *testing.T) {
	defer ForwardingSignals.Store(false)
	installed := make(chan struct{})
	s := NewSignals(func() {}, installed)
	done := make(chan func())
	go func() {
		_, stop := ForwardSignals(s)
		done <- stop
	}()
	select {
	case <-done:
		t.Fatal("ForwardSignals returned before the handlers were installed")
	case <-time.After(50 * time.Millisecond):
	}
	close(installed)
	select {
	case stop := <-done:
		stop()
	case <-time.After(10 * time.Second):
		t.Fatal("ForwardSignals never returned once the handlers were installed")
	}
}
