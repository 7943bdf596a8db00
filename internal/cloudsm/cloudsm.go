// Package cloudsm is what the cloud secret-manager providers share, so
// that no provider imports another: the guide's key → secret-name mapping
// and the URL query of gcpsm:// and azurekv:// (names=, endpoint=, the
// endpoint variable), the loopback rule for plaintext endpoints, the
// marker that classifies a failed call whose context ended, and
// Retry-After parsing (vault's too).
//
// It is a leaf library: it imports, of this module, only the root package
// (for keyward.Errorf) and driver.
package cloudsm

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// GuideName maps a key to a secret name as the guide's get_secret does:
// lower case, "_" → "-" (JWT_SECRET_KEY → jwt-secret-key).
func GuideName(key string) string {
	return strings.ReplaceAll(strings.ToLower(key), "_", "-")
}

// KeyName is List's reverse of GuideName for a name GuideName can produce
// from an environment-variable name (lower-case letters, digits and "-"):
// jwt-secret-key → JWT_SECRET_KEY, which GuideName maps back to the same
// name. Any other name is returned unchanged.
func KeyName(name string) string {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return name
		}
	}
	return strings.ReplaceAll(strings.ToUpper(name), "-", "_")
}

// URLForm is the form gcpsm:// and azurekv:// URLs share: a location
// (a project, a vault host; from the URL or, for SCHEME://, from the
// guide's variable), names= and endpoint= (with an endpoint variable).
type URLForm struct {
	// Scheme names the provider in errors.
	Scheme string
	// EndpointEnv names the variable that sets the endpoint when the URL
	// has no endpoint= (emulators, tests).
	EndpointEnv string
	// Locate returns the location u names; op names the operation in its
	// errors ("open", "derive the policy").
	Locate func(u *url.URL, getenv func(string) string, op string) (string, error)
	// New makes the driver for a location and a query (the provider's
	// NewDriver).
	New func(location string, q Query) (driver.Store, error)
}

// Open is the provider's URL opener: it reads u's location and query
// (variables from getenv) and makes the driver with New.
func (f *URLForm) Open(u *url.URL, getenv func(string) string) (driver.Store, error) {
	loc, err := f.Locate(u, getenv, "open")
	if err != nil {
		return nil, err
	}
	q, err := ParseQuery(f.Scheme, u, f.EndpointEnv, getenv)
	if err != nil {
		return nil, err
	}
	return f.New(loc, q)
}

// FromEnv is the location SCHEME:// takes from the guide's variable env
// (trimmed); what names it in the error when env is unset ("project",
// "vault").
func FromEnv(scheme, what, env string, getenv func(string) string, op string) (string, error) {
	v := strings.TrimSpace(getenv(env))
	if v == "" {
		return "", keyward.Errorf(keyward.InvalidArgument, op, "%s:// names no %s and %s is not set", scheme, what, env)
	}
	return v, nil
}

// Query is what a gcpsm:// or azurekv:// URL's query says.
type Query struct {
	// Endpoint is endpoint=, else the endpoint variable; "" for the
	// service's own endpoint.
	Endpoint string
	// ExactNames is names=exact: keys are secret names unchanged.
	// names=guide (the default) is GuideName.
	ExactNames bool
}

// ParseQuery reads u's query: names=guide|exact and endpoint=. Any other
// parameter is InvalidArgument, as is a names= that is neither. Without
// endpoint= the endpoint is getenv(endpointEnv), trimmed. scheme names the
// provider in errors.
func ParseQuery(scheme string, u *url.URL, endpointEnv string, getenv func(string) string) (Query, error) {
	var q Query
	vals := u.Query()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same URL always gives the same error
	for _, k := range keys {
		switch k {
		case "endpoint":
			q.Endpoint = vals.Get(k)
		case "names":
			switch vals.Get(k) {
			case "guide":
				q.ExactNames = false
			case "exact":
				q.ExactNames = true
			default:
				return Query{}, keyward.Errorf(keyward.InvalidArgument, "open", "%s: names= must be guide or exact", scheme)
			}
		default:
			return Query{}, keyward.Errorf(keyward.InvalidArgument, "open", "%s: unknown query parameter %q", scheme, k)
		}
	}
	if q.Endpoint == "" {
		q.Endpoint = strings.TrimSpace(getenv(endpointEnv))
	}
	return q, nil
}

// Loopback reports whether host (no port) is localhost or a loopback IP:
// the only hosts a plaintext endpoint may name, since no credential is
// sent to them.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ContextError returns err marked as the end of ctx when ctx has ended
// (driver.ContextErr, by the clock too), so that it classifies as Canceled
// or DeadlineExceeded rather than as an outage, and nil while ctx is live.
// The message stays err's.
func ContextError(ctx context.Context, err error) error {
	cerr := driver.ContextErr(ctx)
	if cerr == nil {
		return nil
	}
	return &ctxError{ctx: cerr, err: err}
}

type ctxError struct{ ctx, err error }

func (e *ctxError) Error() string   { return e.err.Error() }
func (e *ctxError) Unwrap() []error { return []error{e.ctx, e.err} }

// RetryAfter parses a Retry-After header: seconds or an HTTP date. It is 0
// when absent, malformed or in the past.
func RetryAfter(h string) time.Duration { return RetryAfterAt(h, time.Now()) }

// RetryAfterAt is RetryAfter with an HTTP date read against now.
func RetryAfterAt(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
