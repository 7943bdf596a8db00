package cloudsm

import "sync"

// Client is a provider's SDK client, made on first use (opening a store
// makes no network call and looks up no credential) and refused once the
// store is closed. The zero value is ready.
type Client[C any] struct {
	mu     sync.Mutex
	c      *C
	closed bool
}

// Get returns the client, calling make the first time (and again after
// make failed). After Close it returns closedErr.
func (l *Client[C]) Get(make func() (*C, error), closedErr error) (*C, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, closedErr
	}
	if l.c != nil {
		return l.c, nil
	}
	c, err := make()
	if err != nil {
		return nil, err
	}
	l.c = c
	return c, nil
}

// Close marks the client closed, once: the first call runs release (if
// not nil) with the client made, or nil if none was, and returns its
// error; later calls return nil.
func (l *Client[C]) Close(release func(*C) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	c := l.c
	l.c = nil
	if release == nil {
		return nil
	}
	return release(c)
}

// As implements driver.As for a driver whose one driver-specific type is
// its client: target must be a **C, which is set to the client get returns
// (made on first use).
func As[C any](target any, get func() (*C, error)) bool {
	p, ok := target.(**C)
	if !ok {
		return false
	}
	c, err := get()
	if err != nil {
		return false
	}
	*p = c
	return true
}
