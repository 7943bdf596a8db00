// Package mem is the in-memory reference provider. It implements every
// optional ability (list, write with check-and-set, delete, versions, batch
// reads) and is what tests and examples use when no backend is wanted.
//
// # URLs
//
// mem://NAME opens the in-process store called NAME, created empty on first
// use and shared by every Open of the same name in this process; mem:// is a
// fresh store each time.
//
// # Constructors
//
// A mem store is its Backend, so where other provider packages have
// NewDriver and OpenStore, mem has NewBackend, then Backend.Driver and
// Backend.OpenStore. OpenURL opens a mem:// URL and is the opener
// registered on keyward.DefaultURLMux, as in every provider package.
//
// # As
//
// mem exposes no driver-specific types.
package mem

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Scheme is the URL scheme mem registers.
const Scheme = "mem"

var (
	errNotFound = errors.New("no such secret")
	errNoVer    = errors.New("no such version")
	errConflict = errors.New("check-and-set conflict: the current version is not the expected one")
	errClosed   = errors.New("store is closed")

	named   = map[string]*Backend{}
	namedMu sync.Mutex
)

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for a mem:// URL (see # URLs): over the named
// Backend of this process, or a new one for mem://. It is the opener
// registered on keyward.DefaultURLMux.
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	if u.Host == "" && (u.Path == "" || u.Path == "/") {
		return NewBackend().Driver(), nil
	}
	namedMu.Lock()
	defer namedMu.Unlock()
	name := u.Host + u.Path
	b := named[name]
	if b == nil {
		b = NewBackend()
		named[name] = b
	}
	return b.Driver(), nil
}

type version struct {
	data []byte
	v    driver.Version
}

// Backend holds the secrets. Several drivers may share one Backend.
type Backend struct {
	mu      sync.RWMutex
	secrets map[string][]version
	// Calls counts driver Get calls (tests of caching use it).
	Calls atomicCounter
	// FailNext, when set, is returned (once per call) by Get instead of a value.
	fail func(key string) error
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }

// Load returns the count.
func (c *atomicCounter) Load() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// NewBackend returns an empty backend.
func NewBackend() *Backend { return &Backend{secrets: map[string][]version{}} }

// SetFailure makes Get call f first and return its error if non-nil (fault
// injection for tests). Pass nil to stop.
func (b *Backend) SetFailure(f func(key string) error) {
	b.mu.Lock()
	b.fail = f
	b.mu.Unlock()
}

// Driver returns a driver over b.
func (b *Backend) Driver() driver.Store { return &memDriver{b: b} }

// OpenStore returns a keyward.Store over b.
func (b *Backend) OpenStore(opts *keyward.StoreOptions) *keyward.Store {
	return keyward.NewStore(b.Driver(), opts)
}

type memDriver struct {
	b *Backend
}

var (
	_ driver.Lister      = (*memDriver)(nil)
	_ driver.Writer      = (*memDriver)(nil)
	_ driver.Deleter     = (*memDriver)(nil)
	_ driver.Versioner   = (*memDriver)(nil)
	_ driver.BatchGetter = (*memDriver)(nil)
)

func (d *memDriver) Get(ctx context.Context, key, ver string) (*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.b.Calls.add()
	d.b.mu.RLock()
	defer d.b.mu.RUnlock()
	if d.b.fail != nil {
		if err := d.b.fail(key); err != nil {
			return nil, err
		}
	}
	vs := d.b.secrets[key]
	if len(vs) == 0 {
		return nil, errNotFound
	}
	if ver == "" {
		v := vs[len(vs)-1]
		return &driver.Value{Data: clone(v.data), Version: v.v}, nil
	}
	for _, v := range vs {
		if v.v.ID == ver {
			return &driver.Value{Data: clone(v.data), Version: v.v}, nil
		}
	}
	return nil, errNoVer
}

func (d *memDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	out := make(map[string]*driver.Value, len(keys))
	for _, k := range keys {
		v, err := d.Get(ctx, k, "")
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (d *memDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.b.mu.RLock()
	defer d.b.mu.RUnlock()
	out := make([]driver.KeyInfo, 0, len(d.b.secrets))
	for k, vs := range d.b.secrets {
		last := vs[len(vs)-1].v
		out = append(out, driver.KeyInfo{Key: k, Version: last.ID, Updated: last.Created})
	}
	return out, nil
}

func (d *memDriver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if err := ctx.Err(); err != nil {
		return driver.Version{}, err
	}
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	vs := d.b.secrets[key]
	if opts != nil && opts.IfVersion != "" {
		cur := "0"
		if len(vs) > 0 {
			cur = vs[len(vs)-1].v.ID
		}
		if cur != opts.IfVersion {
			return driver.Version{}, errConflict
		}
	}
	v := driver.Version{ID: strconv.Itoa(len(vs) + 1), Created: time.Now().UTC()}
	if opts != nil && len(opts.Meta) > 0 {
		v.Meta = make(map[string]string, len(opts.Meta))
		for k, val := range opts.Meta {
			v.Meta[k] = val
		}
	}
	d.b.secrets[key] = append(vs, version{data: clone(data), v: v})
	return v, nil
}

func (d *memDriver) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	if _, ok := d.b.secrets[key]; !ok {
		return errNotFound
	}
	delete(d.b.secrets, key)
	return nil
}

func (d *memDriver) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.b.mu.RLock()
	defer d.b.mu.RUnlock()
	vs := d.b.secrets[key]
	if len(vs) == 0 {
		return nil, errNotFound
	}
	out := make([]driver.Version, len(vs))
	for i, v := range vs {
		out[i] = v.v
	}
	return out, nil
}

func (d *memDriver) ErrorCode(err error) driver.Code {
	switch {
	case errors.Is(err, errNotFound), errors.Is(err, errNoVer):
		return driver.NotFound
	case errors.Is(err, errConflict):
		return driver.FailedPrecondition
	case errors.Is(err, errClosed):
		return driver.FailedPrecondition
	case errors.Is(err, keyward.ErrUnavailable):
		return driver.Unavailable
	}
	return keyward.ErrorCode(err)
}

func (d *memDriver) Close() error { return nil }

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// InProcess reports that reads are served inside the process
// (driver.InProcess): a Store runs batch lookups one after another.
func (d *memDriver) InProcess() bool { return true }
