package cmdutil

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Signals routes the signals cli.Main catches for a command that starts a
// child (keyward run). One goroutine receives every signal and hands it to
// Deliver. Under one lock, Deliver queues the signal for the child while a
// forwarding is registered (Forward), and cancels the command for SIGINT
// and SIGTERM, and for SIGHUP only while nothing forwards. So a signal
// that arrives just as run registers its forwarding is handled exactly
// once, one way or the other: it is queued for the child, or it cancels
// the command before run checks for that and starts the child.
// (A second os/signal registration of run's own would see only the
// signals delivered after it, while Main's goroutine might still be about
// to act on one delivered just before: run would start its child and that
// signal would be lost.)
type Signals struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	fwd    chan os.Signal
	// installed is closed once the process catches the signals.
	installed <-chan struct{}
}

// NewSignals returns a router that cancels with cancel; installed is
// closed once the signal handlers are in place.
func NewSignals(cancel context.CancelFunc, installed <-chan struct{}) *Signals {
	return &Signals{cancel: cancel, installed: installed}
}

// Deliver routes one caught signal and reports whether it cancelled the
// command.
func (s *Signals) Deliver(sig os.Signal) (cancelled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fwd != nil {
		select {
		case s.fwd <- sig:
		default: // the child has 8 queued already; one more adds nothing
		}
	}
	if sig != syscall.SIGHUP || s.fwd == nil {
		// A SIGHUP while forwarding is the child's alone: run passes it
		// on and goes on (run --watch keeps watching).
		s.cancel()
		return true
	}
	return false
}

// forward registers ch for the signals from now on, once the handlers are
// in place (so none has its default effect while a child runs).
func (s *Signals) forward(ch chan os.Signal) (stop func()) {
	<-s.installed
	s.mu.Lock()
	s.fwd = ch
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.fwd = nil
		s.mu.Unlock()
	}
}

// ForwardSignals returns the channel that receives SIGINT, SIGTERM and
// SIGHUP for a child, from now on, and tells Main that keyward now waits
// for the child however long it takes (ForwardingSignals: Main's interrupt
// deadline, which would exit 130 and orphan the child, does not apply).
// With a router (cli.Main's, for run) the signals come through it; with
// nil (a test calling run directly) ForwardSignals catches them itself.
// Call it before the child exists, then check the command's context
// before starting the child: a signal that came first has cancelled it.
// stop undoes both.
func ForwardSignals(s *Signals) (sigs <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 8)
	var undo func()
	if s != nil {
		undo = s.forward(ch)
	} else {
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		undo = func() { signal.Stop(ch) }
	}
	ForwardingSignals.Store(true)
	return ch, func() {
		undo()
		ForwardingSignals.Store(false)
	}
}
