package keyward

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/driver"
)

// URLOpener opens a driver for a store URL. Each provider registers one
// under its scheme in its init function.
type URLOpener interface {
	OpenStoreURL(ctx context.Context, u *url.URL) (driver.Store, error)
}

// OpenerFunc adapts a function to URLOpener.
type OpenerFunc func(ctx context.Context, u *url.URL) (driver.Store, error)

// OpenStoreURL calls f.
func (f OpenerFunc) OpenStoreURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	return f(ctx, u)
}

// URLMux maps URL schemes to openers. The zero value is ready to use.
type URLMux struct {
	mu      sync.RWMutex
	schemes map[string]URLOpener
}

var defaultMux = new(URLMux)

// DefaultURLMux is the mux the providers register with and Open uses.
func DefaultURLMux() *URLMux { return defaultMux }

// Register adds a scheme. It panics if the scheme is empty, malformed or
// already registered.
func (m *URLMux) Register(scheme string, opener URLOpener) { m.put(scheme, opener, false) }

// Cleanuper is the part of testing.TB that RegisterForTest needs.
type Cleanuper interface{ Cleanup(func()) }

// RegisterForTest installs opener for scheme (replacing any) until the test ends.
func (m *URLMux) RegisterForTest(t Cleanuper, scheme string, opener URLOpener) {
	m.mu.Lock()
	if m.schemes == nil {
		m.schemes = make(map[string]URLOpener)
	}
	old, had := m.schemes[scheme]
	m.schemes[scheme] = opener
	m.mu.Unlock()
	t.Cleanup(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if had {
			m.schemes[scheme] = old
		} else {
			delete(m.schemes, scheme)
		}
	})
}

// Set registers opener for scheme, replacing any opener already there
// (the CLI uses it to route a linked-in provider through its plugin
// program when asked to).
func (m *URLMux) Set(scheme string, opener URLOpener) { m.put(scheme, opener, true) }

// put is Register (replace false: a second registration panics) and Set.
func (m *URLMux) put(scheme string, opener URLOpener, replace bool) {
	if scheme == "" || strings.ContainsAny(scheme, ":/ ") || opener == nil {
		panic(fmt.Sprintf("keyward: invalid scheme registration %q", scheme))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.schemes == nil {
		m.schemes = make(map[string]URLOpener)
	}
	if _, dup := m.schemes[scheme]; dup && !replace {
		panic(fmt.Sprintf("keyward: scheme %q registered twice", scheme))
	}
	m.schemes[scheme] = opener
}

// Opener returns the opener registered for scheme, or nil.
func (m *URLMux) Opener(scheme string) URLOpener {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.schemes[scheme]
}

// Schemes lists the registered schemes, sorted.
func (m *URLMux) Schemes() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for s := range m.schemes {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ValidScheme reports whether scheme is registered.
func (m *URLMux) ValidScheme(scheme string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.schemes[scheme]
	return ok
}

// Store-level query parameters, consumed by the mux and removed before the
// provider sees the URL.
var storeParams = []string{"cache_ttl", "max_stale", "timeout", "retries"}

// OpenStore opens the store named by rawURL. A string without "://" is a
// path to a local store file. opts may be nil; query parameters cache_ttl,
// max_stale, timeout and retries override it.
func (m *URLMux) OpenStore(ctx context.Context, rawURL string, opts *StoreOptions) (*Store, error) {
	u, err := ParseStoreURL(rawURL)
	if err != nil {
		return nil, err
	}
	var o StoreOptions
	if opts != nil {
		o = *opts
	}
	q := u.Query()
	for _, p := range storeParams {
		if !q.Has(p) {
			continue
		}
		v := q.Get(p)
		q.Del(p)
		if p == "retries" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, Errorf(InvalidArgument, "open", "%s: query parameter retries= is not a number", urlNoQuery(u))
			}
			o.Retries = n
			if n == 0 {
				o.Retries = -1
			}
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, Errorf(InvalidArgument, "open", "%s: query parameter %s= is not a duration (such as 30s or 5m)", urlNoQuery(u), p)
		}
		switch p {
		case "cache_ttl":
			o.TTL = d
			if d == 0 {
				o.TTL = -1
			}
		case "max_stale":
			o.MaxStale = d
			if d == 0 {
				o.MaxStale = -1
			}
		case "timeout":
			o.Timeout = d
		}
	}
	u.RawQuery = q.Encode()
	m.mu.RLock()
	opener, ok := m.schemes[u.Scheme]
	m.mu.RUnlock()
	if !ok {
		return nil, &Error{Code: InvalidArgument, Op: "open",
			err: fmt.Errorf("unknown store scheme %q (known: %s)", u.Scheme, strings.Join(m.Schemes(), ", "))}
	}
	if o.URL == "" {
		o.URL = RedactURL(u)
	}
	d, err := opener.OpenStoreURL(ctx, u)
	if err != nil {
		var ke *Error
		if errors.As(err, &ke) {
			return nil, err
		}
		return nil, &Error{Code: openCode(err), Op: "open", Store: o.URL, err: err}
	}
	return NewStore(d, &o), nil
}

func openCode(err error) Code {
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	var s *codeSentinel
	if errors.As(err, &s) {
		return s.code
	}
	// An opener's error may carry its own code (the plugin client's do).
	var coded interface{ DriverCode() Code }
	if errors.As(err, &coded) {
		return coded.DriverCode()
	}
	return InvalidArgument
}

// Open opens a store by URL with the default mux and options.
//
//	store, err := keyward.Open(ctx, "local://./secrets/production.age")
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return defaultMux.OpenStore(ctx, rawURL, nil)
}

// ParseStoreURL parses a store URL. A string without "://" is taken as a
// path to a local store file ("local://" + path).
func ParseStoreURL(rawURL string) (*url.URL, error) {
	if rawURL == "" {
		return nil, Errorf(InvalidArgument, "open", "empty store URL")
	}
	if !strings.Contains(rawURL, "://") {
		rawURL = "local://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, and its causes quote the part
		// they stumbled on (a port, a host, an escape: it may be user
		// info or a query value), so only the kind of problem is kept.
		return nil, Errorf(InvalidArgument, "open", "malformed store URL: %s", urlProblem(err))
	}
	if u.Scheme == "" {
		return nil, Errorf(InvalidArgument, "open", "store URL has no scheme")
	}
	return u, nil
}

// urlNoQuery renders u without user info or query (for errors about a
// query value).
func urlNoQuery(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery = "", false
	return RedactURL(&c)
}

// urlProblem names what url.Parse rejected without quoting any of the URL.
func urlProblem(err error) string {
	msg := err.Error()
	for _, p := range []struct{ in, out string }{
		{"invalid port", "invalid port after the host"},
		{"invalid URL escape", "invalid %-escape"},
		{"invalid character", "invalid character in the host name"},
		{"invalid userinfo", "invalid user info"},
		{"missing ']'", "missing ']' in the host"},
		{"invalid control character", "control character in the URL"},
		{"missing protocol scheme", "missing scheme"},
		{"first path segment in URL cannot contain colon", "colon in the first path segment"},
		{"invalid IP-literal", "invalid IP literal in the host"},
	} {
		if strings.Contains(msg, p.in) {
			return p.out
		}
	}
	return "it cannot be parsed"
}

// URLPath is the file or directory a path-naming store URL gives (local://,
// dotenv://, file://): host and path together, so local://keyward.age is
// "keyward.age", dotenv://./config/app.env is "./config/app.env" and
// file:///run/secrets is "/run/secrets"; an opaque URL (dotenv:.env) gives
// its opaque part.
func URLPath(u *url.URL) string {
	if u.Opaque != "" {
		return u.Opaque
	}
	return u.Host + u.Path
}

// nestedURL renders a URL found in a query value without its user info,
// query or fragment ("redacted" when it does not parse).
func nestedURL(v string) string {
	n, err := url.Parse(v)
	if err != nil {
		return "redacted"
	}
	n.User, n.RawQuery, n.Fragment, n.RawFragment, n.ForceQuery = nil, "", "", "", false
	if n.Opaque != "" || (n.Host == "" && strings.Contains(v, "@")) {
		return "redacted"
	}
	return n.String()
}

var credentialParams = []string{"token", "secret", "password", "passwd", "key", "credential", "signature", "sig"}

// RedactURL renders u without user info and with the values of
// credential-like query parameters replaced by "redacted".
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		for name, vs := range q {
			ln := strings.ToLower(name)
			redacted := false
			for _, p := range credentialParams {
				if strings.Contains(ln, p) {
					q.Set(name, "redacted")
					redacted = true
					break
				}
			}
			if redacted {
				continue
			}
			// A nested URL (endpoint=…) keeps only scheme, host and path.
			for i, v := range vs {
				if strings.Contains(v, "://") || strings.Contains(v, "@") {
					vs[i] = nestedURL(v)
				}
			}
		}
		c.RawQuery = q.Encode()
	}
	if c.Host == "" && c.Path == "" && c.Opaque == "" {
		// url.URL renders "env://" as "env:"; keep the form users typed.
		s := c.Scheme + "://"
		if c.RawQuery != "" {
			s += "?" + c.RawQuery
		}
		return s
	}
	return c.String()
}
