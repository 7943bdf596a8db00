// Package dotenv reads secrets from a .env file, with the quoting, escaping,
// export, comment, multi-line and ${VAR} rules of Docker Compose.
//
//	store, err := keyward.Open(ctx, "dotenv://.env")
//	dsn, err := store.Get(ctx, "DATABASE_URL")
//
// The provider is read-only (Put and Delete answer Unimplemented; edit the
// file, or use the local provider for a store keyward writes). It keeps no
// versions. The file is read again on every fetch, so edits show up as soon
// as the Store's cache expires.
//
// # URLs
//
//	dotenv://.env                 .env in the current directory
//	dotenv://./config/app.env     a path relative to the current directory
//	dotenv:///abs/path/app.env    an absolute path
//	dotenv://.env?interpolate=false   leave $VAR and ${VAR} as written
//
// # The file format
//
// See internal/dotenv and docs/providers/dotenv.md: KEY=VALUE and
// export KEY=VALUE; # comments (and " #" after an unquoted value);
// single quotes are literal; double quotes take \n \t \\ \" \$ escapes and
// may span lines; unquoted values are trimmed. ${VAR}, ${VAR:-default} and
// friends are expanded in unquoted and double-quoted values, from the
// process environment first and then from keys defined earlier in the file,
// exactly as Docker Compose does. A repeated key keeps its last value.
//
// # Errors
//
// A malformed file is InvalidArgument, and the message names
// file:line:column and what is wrong (unterminated quote, NUL byte, invalid
// UTF-8, an over-long line, a line that is not KEY=VALUE), never the text
// of the line. A missing file is NotFound when the store is opened or read;
// an unreadable one is PermissionDenied. A missing key is NotFound. Asking
// for a version is Unimplemented.
//
// # Constructors
//
// As in every provider package: OpenURL opens a dotenv://PATH URL and is
// the opener registered on keyward.DefaultURLMux (keyward.Open uses it);
// NewDriver(path, opts) returns the driver over the .env file and
// OpenStore(path, opts, storeOpts) the keyward.Store over it.
//
// # As
//
// dotenv exposes no driver-specific types.
package dotenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	dotenvfmt "github.com/keyward/keyward/internal/dotenv"
	"github.com/keyward/keyward/internal/fsutil"
)

// Scheme is the URL scheme dotenv registers.
const Scheme = "dotenv"

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for a dotenv:// URL, which names the file by its
// host and path together (dotenv://.env is ".env", dotenv:///etc/app.env
// is "/etc/app.env"); it is the opener registered on keyward.DefaultURLMux.
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	path := keyward.URLPath(u)
	if path == "" {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "dotenv:// needs a file, as in dotenv://.env or dotenv:///abs/path/app.env")
	}
	o := &Options{Warn: keyward.Warnings(ctx)}
	for k, v := range u.Query() {
		switch k {
		case "interpolate":
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return nil, keyward.Errorf(keyward.InvalidArgument, "open", "dotenv:// interpolate= is not true or false")
			}
			o.NoInterpolate = !b
		default:
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "unknown query parameter %q for dotenv:// (known: interpolate)", k)
		}
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, keyward.Errorf(keyward.NotFound, "open", "%s does not exist", path)
		}
		return nil, keyward.Errorf(fsutil.Code(err), "open", "%s cannot be read: %v", path, fsutil.StripPath(err))
	}
	return NewDriver(path, o)
}

// Options configures the driver.
type Options struct {
	// NoInterpolate leaves $VAR and ${VAR} in values as written.
	NoInterpolate bool
	// LookupEnv resolves ${VAR} and bare KEY lines before the file's own
	// keys, as Docker Compose does. nil means os.LookupEnv; tests inject a
	// private environment.
	LookupEnv func(string) (string, bool)
	// Warn, if set, receives one message per reference to an undefined
	// variable ("app.env:3:12: variable X is not set: …"), once per
	// driver, never with a value. Docker Compose warns the same way.
	Warn func(msg string)
}

// NewDriver returns a driver over the .env file at path, read on every
// operation (the error is always nil: a missing file is NotFound then).
func NewDriver(path string, opts *Options) (driver.Store, error) {
	d := &dotenvDriver{path: path, lookup: os.LookupEnv}
	if opts != nil {
		d.noInterp = opts.NoInterpolate
		d.warn = opts.Warn
		if opts.LookupEnv != nil {
			d.lookup = opts.LookupEnv
		}
	}
	return d, nil
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(path string, opts *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(path, opts)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

type dotenvDriver struct {
	path     string
	noInterp bool
	lookup   func(string) (string, bool)

	warn   func(string)
	mu     sync.Mutex
	warned map[string]bool
}

// onWarn reports each distinct warning once.
func (d *dotenvDriver) onWarn(w dotenvfmt.Warning) {
	msg := w.String()
	d.mu.Lock()
	if d.warned == nil {
		d.warned = map[string]bool{}
	}
	seen := d.warned[msg]
	d.warned[msg] = true
	d.mu.Unlock()
	if !seen {
		d.warn(msg)
	}
}

var (
	_ driver.Lister      = (*dotenvDriver)(nil)
	_ driver.BatchGetter = (*dotenvDriver)(nil)
)

// load reads and parses the file.
func (d *dotenvDriver) load(ctx context.Context) (map[string]string, os.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	f, fi, err := fsutil.Open(d.path) // refuses FIFOs, devices, directories
	if err != nil {
		var fe *fsutil.Error
		switch {
		case errors.As(err, &fe):
			return nil, nil, &fsutil.CodedError{Code: driver.InvalidArgument, Msg: d.path + " is not a regular file (it is " + fe.Kind + ")"}
		case errors.Is(err, fs.ErrNotExist):
			return nil, nil, &fsutil.CodedError{Code: driver.NotFound, Msg: d.path + " does not exist"}
		}
		return nil, nil, fsutil.PathErr(d.path+" cannot be read", err)
	}
	defer f.Close()
	data, err := fsutil.ReadOpened(f, d.path, fsutil.MaxDotenvFile)
	if err != nil {
		var fe *fsutil.Error
		if errors.As(err, &fe) {
			return nil, nil, &fsutil.CodedError{Code: driver.InvalidArgument, Msg: fe.Error()}
		}
		return nil, nil, fsutil.PathErr(d.path+" cannot be read", err)
	}
	po := &dotenvfmt.Options{Name: d.path, Lookup: d.lookup, NoInterpolate: d.noInterp}
	if d.warn != nil {
		po.Warn = d.onWarn
	}
	m, err := dotenvfmt.ParseMap(data, po)
	if err != nil {
		return nil, nil, &fsutil.CodedError{Code: driver.InvalidArgument, Msg: "malformed .env file", Err: err}
	}
	return m, fi, nil
}

func (d *dotenvDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	if version != "" {
		return nil, &fsutil.CodedError{Code: driver.Unimplemented, Msg: "a .env file keeps no versions"}
	}
	m, fi, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	v, ok := m[key]
	if !ok {
		return nil, &fsutil.CodedError{Code: driver.NotFound, Msg: fmt.Sprintf("%s has no key %s", d.path, key)}
	}
	return &driver.Value{Data: []byte(v), Version: driver.Version{Created: fi.ModTime().UTC()}}, nil
}

func (d *dotenvDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	m, fi, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*driver.Value, len(keys))
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = &driver.Value{Data: []byte(v), Version: driver.Version{Created: fi.ModTime().UTC()}}
		}
	}
	return out, nil
}

func (d *dotenvDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	m, fi, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]driver.KeyInfo, 0, len(m))
	for k := range m {
		out = append(out, driver.KeyInfo{Key: k, Updated: fi.ModTime().UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (d *dotenvDriver) ErrorCode(err error) driver.Code { return fsutil.ErrorCode(err) }

func (d *dotenvDriver) Close() error { return nil }

// InProcess reports that reads are served inside the process
// (driver.InProcess): a Store runs batch lookups one after another.
func (d *dotenvDriver) InProcess() bool { return true }
