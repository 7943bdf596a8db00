// Package jwtkeys signs and verifies HS256 JWTs with a rotating key, so a
// service survives `keyward rotate` with no code change and no downtime.
//
// Most users want [New] and its two methods: [Keys.Keyfunc] for
// jwt.Parse (it accepts a token signed with any key of the key ring: the
// current key and every previous key still in its grace period) and
// [Keys.Sign] (it signs with the current key and sets the "kid" header to
// the key's ring ID):
//
//	keys := jwtkeys.New(store, "JWT_SECRET_KEY", nil)
//	tok, err := keys.Sign(jwt.MapClaims{"sub": "user-1"})
//	parsed, err := jwt.Parse(tok, keys.Keyfunc, jwt.WithValidMethods([]string{"HS256"}))
//
// The ring is read from the store (keyward.Store.KeyRing) and cached for
// Options.TTL. A token whose kid is not in the cached ring makes it refresh
// at once (a peer may already sign with a newer key), at most once per
// Options.MinRefresh. A kid that is still unknown after that, or a key whose
// grace has ended (checked at every verification, not only at refresh), is
// refused. A token without a kid is tried against every key of the ring.
package jwtkeys

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"

	"github.com/keyward/keyward"
)

// Defaults for Options fields left at zero.
const (
	DefaultTTL        = time.Minute
	DefaultMinRefresh = time.Second
)

// Options tunes Keys. A nil *Options means all defaults.
type Options struct {
	// TTL is how long a fetched ring is used before it is read again.
	TTL time.Duration
	// MinRefresh is the least time between two refreshes forced by unknown
	// kids (a flood of made-up kids cannot hammer the store). Negative
	// means no limit.
	MinRefresh time.Duration
	// Clock replaces time.Now (grace expiry and TTL).
	Clock func() time.Time
	// Timeout bounds a ring refresh started by Keyfunc or Sign (they have
	// no context). Zero means 10 seconds.
	Timeout time.Duration
}

// ErrUnknownKey is wrapped by Keyfunc's error for a kid that is not in the
// key ring (never was, or retired) and for a key whose grace has ended.
var ErrUnknownKey = errors.New("jwtkeys: the token's key is not in the key ring")

// Keys is a rotating HS256 key set over one store key. It is safe for
// concurrent use.
type Keys struct {
	store *keyward.Store
	key   string
	o     Options

	mu        sync.Mutex
	ring      *keyward.KeyRing
	fetched   time.Time
	lastForce time.Time
	sf        singleflight.Group
}

// New returns Keys over key in store.
func New(store *keyward.Store, key string, opts *Options) *Keys {
	k := &Keys{store: store, key: key}
	if opts != nil {
		k.o = *opts
	}
	if k.o.TTL <= 0 {
		k.o.TTL = DefaultTTL
	}
	if k.o.MinRefresh == 0 {
		k.o.MinRefresh = DefaultMinRefresh
	}
	if k.o.Clock == nil {
		k.o.Clock = time.Now
	}
	if k.o.Timeout <= 0 {
		k.o.Timeout = 10 * time.Second
	}
	return k
}

// Refresh reads the key ring from the store now.
func (k *Keys) Refresh(ctx context.Context) error {
	ch := k.sf.DoChan("ring", func() (any, error) {
		r, err := k.store.KeyRing(ctx, k.key)
		if err != nil {
			return nil, err
		}
		k.mu.Lock()
		k.ring, k.fetched = r, k.o.Clock()
		k.mu.Unlock()
		return nil, nil
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ring returns the cached ring, refreshing it when it is older than TTL.
func (k *Keys) Ring(ctx context.Context) (*keyward.KeyRing, error) {
	k.mu.Lock()
	r, fresh := k.ring, k.ring != nil && k.o.Clock().Sub(k.fetched) < k.o.TTL
	k.mu.Unlock()
	if fresh {
		return r, nil
	}
	if err := k.Refresh(ctx); err != nil {
		if r != nil {
			return r, nil // keep verifying with what we have; the store's own stale-if-error applies too
		}
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ring, nil
}

func (k *Keys) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), k.o.Timeout)
}

// Sign signs claims with HS256 and the current key, setting kid.
func (k *Keys) Sign(claims jwt.Claims) (string, error) {
	ctx, cancel := k.ctx()
	defer cancel()
	r, err := k.Ring(ctx)
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = r.Current.ID
	return t.SignedString(r.Current.Secret.Reveal())
}

// valid reports whether rk may verify a token at now.
func valid(rk keyward.RingKey, now time.Time) bool {
	return rk.Expires.IsZero() || now.Before(rk.Expires)
}

// Keyfunc is a jwt.Keyfunc: it returns the ring key named by the token's
// kid (refreshing the ring once for an unknown kid), or every key of the
// ring for a token without a kid. Only HMAC algorithms are accepted; use
// jwt.WithValidMethods([]string{"HS256"}) to pin the algorithm too.
func (k *Keys) Keyfunc(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
		return nil, errors.New("jwtkeys: unexpected signing method " + t.Method.Alg())
	}
	ctx, cancel := k.ctx()
	defer cancel()
	r, err := k.Ring(ctx)
	if err != nil {
		return nil, err
	}
	now := k.o.Clock()
	kid, hasKid := t.Header["kid"].(string)
	if !hasKid {
		set := jwt.VerificationKeySet{}
		for _, rk := range r.Keys() {
			if valid(rk, now) {
				set.Keys = append(set.Keys, rk.Secret.Reveal())
			}
		}
		return set, nil
	}
	if rk, ok := r.Lookup(kid); ok {
		if !valid(rk, now) {
			return nil, ErrUnknownKey
		}
		return rk.Secret.Reveal(), nil
	}
	// Unknown kid: a peer may sign with a key newer than our ring.
	k.mu.Lock()
	allowed := k.o.MinRefresh < 0 || now.Sub(k.lastForce) >= k.o.MinRefresh
	if allowed {
		k.lastForce = now
	}
	k.mu.Unlock()
	if !allowed {
		return nil, ErrUnknownKey
	}
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	k.mu.Lock()
	r = k.ring
	k.mu.Unlock()
	if rk, ok := r.Lookup(kid); ok && valid(rk, now) {
		return rk.Secret.Reveal(), nil
	}
	return nil, ErrUnknownKey
}

// Parse parses and verifies an HS256 token with the ring.
func (k *Keys) Parse(token string, opts ...jwt.ParserOption) (*jwt.Token, error) {
	opts = append([]jwt.ParserOption{jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()})}, opts...)
	return jwt.Parse(token, k.Keyfunc, opts...)
}
