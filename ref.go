package keyward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// A reference names a secret inside a value, so that files and environment
// variables can point at secrets instead of holding them:
//
//	ref+vault://vault.example.com/dharmamind/production#/JWT_SECRET_KEY
//	ref+awssm://dharmamind/production?region=us-east-1#/jwt_secret_key
//	ref+local://keyward.age#/DATABASE_URL
//	ref+awssm://dharmamind/production#/stripe/secret_key   (walks into a JSON value)
//	keyward://production/JWT_SECRET_KEY                    (an environment of keyward.yaml)
//
// The syntax is the one helmfile/vals made common: "ref+" then a store URL,
// then a JSON pointer (RFC 6901) after "#". The pointer's first segment is the
// key in that store; further segments walk into the value parsed as JSON.
type Ref struct {
	// StoreURL is the store to open ("" for keyward:// references).
	StoreURL string
	// Env is the keyward.yaml environment of a keyward://ENV/KEY reference.
	Env string
	// Key is the secret's name in the store.
	Key string
	// Path holds the pointer segments after the key (unescaped).
	Path []string
}

// RefPrefix starts a vals-style reference.
const RefPrefix = "ref+"

// EnvRefPrefix starts a keyward://ENV/KEY reference.
const EnvRefPrefix = "keyward://"

// IsRef reports whether s looks like a reference (and should be resolved
// rather than used as a value).
func IsRef(s string) bool {
	return strings.HasPrefix(s, RefPrefix) || strings.HasPrefix(s, EnvRefPrefix)
}

// ParseRef parses a reference. Errors say what is wrong without repeating
// the reference (it may carry a query with credentials).
func ParseRef(s string) (*Ref, error) {
	switch {
	case strings.HasPrefix(s, EnvRefPrefix):
		rest := strings.TrimPrefix(s, EnvRefPrefix)
		env, key, ok := strings.Cut(rest, "/")
		if !ok || env == "" || key == "" {
			return nil, Errorf(InvalidArgument, "parse reference", "keyward:// reference must be keyward://ENV/KEY")
		}
		r := &Ref{Env: env}
		segs := strings.Split(key, "#")
		if len(segs) > 2 {
			return nil, Errorf(InvalidArgument, "parse reference", "reference has more than one '#'")
		}
		r.Key = segs[0]
		if r.Key == "" {
			return nil, Errorf(InvalidArgument, "parse reference", "keyward:// reference must be keyward://ENV/KEY")
		}
		if strings.ContainsAny(r.Key, "/?") {
			return nil, Errorf(InvalidArgument, "parse reference", "keyward:// key must not contain '/' or '?'")
		}
		if len(segs) == 2 {
			p, err := parsePointer(segs[1])
			if err != nil {
				return nil, err
			}
			r.Path = p
		}
		return r, nil
	case strings.HasPrefix(s, RefPrefix):
		rest := strings.TrimPrefix(s, RefPrefix)
		u, frag, ok := strings.Cut(rest, "#")
		if !ok {
			return nil, Errorf(InvalidArgument, "parse reference", "reference needs a #/KEY after the store URL")
		}
		if strings.Contains(frag, "#") {
			return nil, Errorf(InvalidArgument, "parse reference", "reference has more than one '#'")
		}
		scheme, _, ok := strings.Cut(u, "://")
		if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#: ") {
			return nil, Errorf(InvalidArgument, "parse reference", "reference must be ref+SCHEME://…#/KEY")
		}
		if _, err := ParseStoreURL(u); err != nil {
			return nil, err
		}
		p, err := parsePointer(frag)
		if err != nil {
			return nil, err
		}
		if len(p) == 0 || p[0] == "" {
			return nil, Errorf(InvalidArgument, "parse reference", "reference needs a key: #/KEY")
		}
		return &Ref{StoreURL: u, Key: p[0], Path: p[1:]}, nil
	}
	return nil, Errorf(InvalidArgument, "parse reference", "not a reference (want ref+SCHEME://…#/KEY or keyward://ENV/KEY)")
}

func parsePointer(frag string) ([]string, error) {
	if frag == "" {
		return nil, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, Errorf(InvalidArgument, "parse reference", "the part after '#' must be a JSON pointer starting with '/'")
	}
	segs := strings.Split(frag[1:], "/")
	for i, s := range segs {
		// RFC 6901: ~1 is '/', ~0 is '~'; any other '~' is an error.
		for j := 0; j < len(s); j++ {
			if s[j] == '~' && (j+1 >= len(s) || (s[j+1] != '0' && s[j+1] != '1')) {
				return nil, Errorf(InvalidArgument, "parse reference", "bad '~' escape in JSON pointer segment %d", i+1)
			}
		}
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// String renders the reference back in its canonical form.
func (r *Ref) String() string {
	var b strings.Builder
	if r.Env != "" {
		b.WriteString(EnvRefPrefix + r.Env + "/" + r.Key)
		if len(r.Path) > 0 {
			b.WriteByte('#')
		}
	} else {
		b.WriteString(RefPrefix + r.StoreURL + "#/" + escapePointer(r.Key))
	}
	for _, p := range r.Path {
		b.WriteString("/" + escapePointer(p))
	}
	return b.String()
}

// Resolver resolves references, opening each store once.
type Resolver struct {
	// Open opens a store URL; nil means DefaultURLMux().OpenStore.
	Open func(ctx context.Context, url string) (*Store, error)
	// OpenEnv opens a keyward.yaml environment (for keyward:// references);
	// nil makes such references an error.
	OpenEnv func(ctx context.Context, env string) (*Store, error)
	// Check, if set, vets every reference Resolve is given before its store
	// is opened (keyward's CLI refuses references from stored values and
	// templates that name stores the user did not allow; see TrustPolicy).
	// ResolveTrusted skips it, for references the user wrote themselves.
	Check func(ref *Ref) error

	mu     sync.Mutex
	stores map[string]*Store
}

// Resolve returns the secret a reference names, after Check approves it.
func (r *Resolver) Resolve(ctx context.Context, s string) (Secret, error) {
	return r.resolve(ctx, s, true)
}

// ResolveTrusted is Resolve without Check: for a reference the user wrote
// (a flag, their own environment), never one read from a store or a file.
func (r *Resolver) ResolveTrusted(ctx context.Context, s string) (Secret, error) {
	return r.resolve(ctx, s, false)
}

func (r *Resolver) resolve(ctx context.Context, s string, check bool) (Secret, error) {
	ref, err := ParseRef(s)
	if err != nil {
		return Secret{}, err
	}
	if check && r.Check != nil {
		if err := r.Check(ref); err != nil {
			return Secret{}, err
		}
	}
	st, err := r.store(ctx, ref)
	if err != nil {
		return Secret{}, err
	}
	v, err := st.Get(ctx, ref.Key)
	if err != nil {
		return Secret{}, err
	}
	if len(ref.Path) == 0 {
		return v, nil
	}
	return walkJSON(v.Reveal(), ref.Key, ref.Path)
}

func (r *Resolver) store(ctx context.Context, ref *Ref) (*Store, error) {
	id := ref.StoreURL
	if ref.Env != "" {
		id = "env:" + ref.Env
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.stores[id]; st != nil {
		return st, nil
	}
	var st *Store
	var err error
	switch {
	case ref.Env != "" && r.OpenEnv == nil:
		return nil, Errorf(InvalidArgument, "resolve reference", "keyward://%s/… needs a keyward.yaml with environments", ref.Env)
	case ref.Env != "":
		st, err = r.OpenEnv(ctx, ref.Env)
	case r.Open != nil:
		st, err = r.Open(ctx, ref.StoreURL)
	default:
		st, err = DefaultURLMux().OpenStore(ctx, ref.StoreURL, nil)
	}
	if err != nil {
		return nil, err
	}
	if r.stores == nil {
		r.stores = map[string]*Store{}
	}
	r.stores[id] = st
	return st, nil
}

// Close closes the stores the resolver opened.
func (r *Resolver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, st := range r.stores {
		errs = append(errs, st.Close())
	}
	r.stores = nil
	return errors.Join(errs...)
}

// walkJSON follows path into the JSON document data. Errors name the key
// and the pointer, never the document.
func walkJSON(data []byte, key string, path []string) (Secret, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return Secret{}, Errorf(InvalidArgument, "resolve reference", "the value of %q is not JSON, so #/%s/… cannot walk into it", key, escapePointer(key))
	}
	cur := doc
	for i, seg := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return Secret{}, Errorf(NotFound, "resolve reference", "no member %q at segment %d inside %q", seg, i+2, key)
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(c) {
				return Secret{}, Errorf(NotFound, "resolve reference", "no element %q at segment %d inside %q", seg, i+2, key)
			}
			cur = c[n]
		default:
			return Secret{}, Errorf(NotFound, "resolve reference", "segment %d inside %q walks into a scalar", i+2, key)
		}
	}
	switch c := cur.(type) {
	case string:
		return NewSecretString(c), nil
	case json.Number:
		return NewSecretString(c.String()), nil
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return Secret{}, fmt.Errorf("keyward: failed to resolve reference: %w", err)
	}
	return NewSecret(b), nil
}
