// Package env reads secrets from the process environment, with Docker's
// KEY_FILE convention: when KEY is unset and KEY_FILE names a file (a Docker
// or Compose secret at /run/secrets/NAME, say), the secret is that file's
// contents with one trailing newline removed.
//
//	store, err := keyward.Open(ctx, "env://")
//	jwt, err := store.Get(ctx, "JWT_SECRET_KEY") // $JWT_SECRET_KEY, or the file $JWT_SECRET_KEY_FILE names
//
// The provider is read-only: Put and Delete answer Unimplemented. It keeps
// no versions.
//
// # URLs
//
// env:// reads the environment as it is. env://?prefix=APP_ reads APP_KEY
// for KEY (and APP_KEY_FILE), and lists only variables that start with
// APP_, without the prefix. The guide's SECRET_PROVIDER=env selects env://.
//
// # Which keys are secrets
//
// The process environment is not a set of secrets: HOME, PATH or
// SSL_CERT_FILE must never be injected, redacted or read as KEY_FILE
// indirections. So env:// without a prefix lists only the keys that are
// declared — env://?keys=A,B, Options.Keys, or the secrets of keyward.yaml
// the CLI passes with keyward.WithDeclaredKeys — and the keys asked for by
// name with Get, that are set. Get reads any key it is asked for, with the
// KEY_FILE convention. With a prefix, the prefix declares the set: every
// APP_* variable is listed.
//
// # The KEY_FILE convention
//
//   - KEY wins when it is set, even to the empty string.
//   - Otherwise a non-empty KEY_FILE is read: it must be a regular file (or a
//     symlink to one) of at most 1 MiB (Options.MaxFileSize). FIFOs, devices,
//     sockets and directories are refused, so a misconfigured path can never
//     block the reader or stream a device.
//   - One trailing "\n" or "\r\n" is removed, because such files are usually
//     written by echo or an editor. Other bytes are returned exactly.
//   - List reports KEY once for KEY_FILE (never KEY_FILE itself, and never
//     KEY twice when both are set). So a variable such as CONFIG_FILE that
//     is a plain path is listed as CONFIG; Get("CONFIG_FILE") still returns
//     the path itself.
//
// # Errors
//
// A key that is neither set nor has a KEY_FILE is NotFound. A KEY_FILE that
// names a missing file is NotFound, and the message names the variable and
// the path; an unreadable file is PermissionDenied; a directory, FIFO,
// device or over-large file is InvalidArgument. Asking for a version is
// Unimplemented. Errors never contain a value.
//
// # Constructors
//
// As in every provider package: OpenURL opens an env:// URL and is the
// opener registered on keyward.DefaultURLMux (keyward.Open uses it);
// NewDriver(opts) returns the driver over the environment and
// OpenStore(opts, storeOpts) the keyward.Store over it (New remains,
// deprecated).
//
// # As
//
// env exposes no driver-specific types.
package env

import (
	"context"
	"errors"
	"fmt"
	"github.com/keyward/keyward/internal/fsutil"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Scheme is the URL scheme env registers.
const Scheme = "env"

// DefaultMaxFileSize is the largest KEY_FILE the provider reads.
const DefaultMaxFileSize = 1 << 20

// fileSuffix is the suffix of the variable that names a secret's file.
const fileSuffix = "_FILE"

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for an env:// URL (see # URLs); it is the opener
// registered on keyward.DefaultURLMux.
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	if u.Host != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" {
		return nil, fmt.Errorf("env:// takes no host or path (use env:// or env://?prefix=APP_)")
	}
	o := &Options{}
	if keys, ok := keyward.DeclaredKeys(ctx); ok {
		o.Keys = keys
	}
	for k, v := range u.Query() {
		switch k {
		case "prefix":
			o.Prefix = v[0]
		case "keys":
			for _, key := range strings.Split(strings.Join(v, ","), ",") {
				if key = strings.TrimSpace(key); key != "" {
					o.Keys = append(o.Keys, key)
				}
			}
		default:
			return nil, fmt.Errorf("unknown query parameter %q for env:// (known: prefix, keys)", k)
		}
	}
	return NewDriver(o)
}

// Options configures the driver. The zero value reads the real process
// environment.
type Options struct {
	// Prefix is prepended to every key on reads and stripped in List.
	Prefix string
	// LookupEnv replaces os.LookupEnv (tests inject a private environment
	// so they need not change the process's).
	LookupEnv func(string) (string, bool)
	// Environ replaces os.Environ for List.
	Environ func() []string
	// MaxFileSize bounds a KEY_FILE; zero means DefaultMaxFileSize.
	MaxFileSize int64
	// Keys are the declared secrets. Without a Prefix, List reports only
	// these and the keys asked for with Get, when they are set.
	Keys []string
}

// NewDriver returns a driver over the environment (the error is always
// nil).
func NewDriver(opts *Options) (driver.Store, error) {
	d := &envDriver{lookup: os.LookupEnv, environ: os.Environ, max: DefaultMaxFileSize, keys: map[string]bool{}}
	if opts != nil {
		d.prefix = opts.Prefix
		if opts.LookupEnv != nil {
			d.lookup = opts.LookupEnv
		}
		if opts.Environ != nil {
			d.environ = opts.Environ
		}
		if opts.MaxFileSize > 0 {
			d.max = opts.MaxFileSize
		}
		for _, k := range opts.Keys {
			d.keys[k] = true
		}
	}
	return d, nil
}

// New is NewDriver without the error.
//
// Deprecated: use NewDriver, the constructor every provider package has.
func New(opts *Options) driver.Store {
	d, _ := NewDriver(opts)
	return d
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(opts *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(opts)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

type envDriver struct {
	prefix  string
	lookup  func(string) (string, bool)
	environ func() []string
	max     int64

	mu   sync.Mutex
	keys map[string]bool // declared, or asked for with Get
}

func (d *envDriver) want(key string) {
	d.mu.Lock()
	d.keys[key] = true
	d.mu.Unlock()
}

var (
	_ driver.Lister      = (*envDriver)(nil)
	_ driver.BatchGetter = (*envDriver)(nil)
)

func (d *envDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if key == "" || strings.ContainsAny(key, "=\x00") {
		return nil, fsutil.Errorf(driver.InvalidArgument, "%q is not a valid environment variable name", key)
	}
	if version != "" {
		return nil, fsutil.Errorf(driver.Unimplemented, "the environment keeps no versions")
	}
	d.want(key)
	name := d.prefix + key
	if v, ok := d.lookup(name); ok {
		return &driver.Value{Data: []byte(v)}, nil
	}
	fileVar := name + fileSuffix
	path, ok := d.lookup(fileVar)
	if !ok || path == "" {
		return nil, &fsutil.CodedError{Code: driver.NotFound, Msg: fmt.Sprintf("%s is not set (nor is %s)", name, fileVar), Absent: true}
	}
	data, err := readSecretFile(path, d.max)
	if err != nil {
		var ce *fsutil.CodedError
		if errors.As(err, &ce) {
			ce.Msg = fileVar + " names " + path + ", which " + ce.Msg
			return nil, ce
		}
		return nil, err
	}
	return &driver.Value{Data: data}, nil
}

// readSecretFile reads a regular file of at most max bytes and removes one
// trailing newline. It opens without blocking and checks the opened file,
// so a FIFO swapped in after a check cannot hang the reader.
func readSecretFile(path string, max int64) ([]byte, error) {
	data, err := fsutil.ReadFile(path, max)
	if err != nil {
		var fe *fsutil.Error
		if errors.As(err, &fe) {
			if fe.Kind != "" {
				return nil, fsutil.Errorf(driver.InvalidArgument, "is %s, not a regular file", fe.Kind)
			}
			return nil, fsutil.Errorf(driver.InvalidArgument, "is larger than the %s limit", fsutil.FormatLimit(max))
		}
		return nil, fileErr(err)
	}
	return fsutil.TrimNewline(data), nil
}

func fileErr(err error) error {
	code, cause := fsutil.Code(err), fsutil.StripPath(err) // the path is added by the caller
	if errors.Is(err, fs.ErrNotExist) {
		return &fsutil.CodedError{Code: code, Msg: "does not exist"}
	}
	return &fsutil.CodedError{Code: code, Msg: "cannot be read", Err: cause}
}

func (d *envDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	out := make(map[string]*driver.Value, len(keys))
	for _, k := range keys {
		v, err := d.Get(ctx, k, "")
		if err != nil {
			if fsutil.IsAbsent(err) {
				continue // absent keys are not an error; a missing KEY_FILE target is
			}
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// List returns the variable names (without the prefix), with KEY_FILE
// reported as KEY. Without a prefix, only declared or requested keys.
func (d *envDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.prefix == "" {
		d.mu.Lock()
		keys := make([]string, 0, len(d.keys))
		for k := range d.keys {
			keys = append(keys, k)
		}
		d.mu.Unlock()
		sort.Strings(keys)
		out := []driver.KeyInfo{}
		for _, k := range keys {
			if _, ok := d.lookup(k); ok {
				out = append(out, driver.KeyInfo{Key: k})
			} else if p, ok := d.lookup(k + fileSuffix); ok && p != "" {
				out = append(out, driver.KeyInfo{Key: k})
			}
		}
		return out, nil
	}
	seen := map[string]bool{}
	for _, kv := range d.environ() {
		name, val, _ := strings.Cut(kv, "=")
		if name == "" || !strings.HasPrefix(name, d.prefix) {
			continue
		}
		key := strings.TrimPrefix(name, d.prefix)
		if base, ok := strings.CutSuffix(key, fileSuffix); ok && base != "" && val != "" {
			key = base
		}
		if key != "" {
			seen[key] = true
		}
	}
	out := make([]driver.KeyInfo, 0, len(seen))
	for k := range seen {
		out = append(out, driver.KeyInfo{Key: k})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (d *envDriver) ErrorCode(err error) driver.Code { return fsutil.ErrorCode(err) }

func (d *envDriver) Close() error { return nil }

// InProcess reports that reads are served inside the process
// (driver.InProcess): a Store runs batch lookups one after another.
func (d *envDriver) InProcess() bool { return true }
