package plugin

import (
	"context"
	"io"
	"net/url"

	"github.com/keyward/keyward/driver"
)

// Loopback serves d through the protocol in this process, over a pair of
// pipes, and returns the client side: a driver that behaves exactly as d
// would behind a plugin program, without starting one. The conformance
// suites use it to hold every provider to the same contract through the
// boundary. Closing the returned driver closes d and ends the conversation.
func Loopback(ctx context.Context, name string, d driver.Store) (driver.Store, error) {
	return loopbackServe(ctx, name, d, false)
}

// LoopbackShared is Loopback for a driver the caller keeps owning: closing
// the returned driver ends the conversation but leaves d open.
func LoopbackShared(ctx context.Context, name string, d driver.Store) (driver.Store, error) {
	return loopbackServe(ctx, name, d, true)
}

func loopbackServe(ctx context.Context, name string, d driver.Store, keepOpen bool) (driver.Store, error) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Serve(context.Background(), sr, sw, ServeOptions{Name: name, keepOpen: keepOpen, Open: func(context.Context, *url.URL) (driver.Store, error) {
			return d, nil
		}})
		sw.Close()
	}()
	c, err := NewClient(ctx, name, cr, cw)
	if err != nil {
		cw.Close()
		<-done
		return nil, err
	}
	r, err := c.Open(ctx, name+"://loopback")
	if err != nil {
		c.Close()
		<-done
		return nil, err
	}
	return &loopback{remote: r.(*remote), c: c, done: done}, nil
}

type loopback struct {
	*remote
	c    *Client
	done chan struct{}
}

func (l *loopback) Close() error {
	err := l.remote.Close()
	l.c.Close()
	<-l.done
	return err
}
