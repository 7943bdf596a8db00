// Package file reads secrets from a directory of files, one secret per
// file, named by the file: Docker and Compose secrets in /run/secrets, or a
// Kubernetes Secret mounted as a volume.
//
//	store, err := keyward.Open(ctx, "file:///run/secrets")
//	jwt, err := store.Get(ctx, "jwt_secret") // the bytes of /run/secrets/jwt_secret
//
// The provider is read-only: Put and Delete answer Unimplemented. Secret
// directories are mounted read-only by the platform that owns them (Docker,
// Kubernetes); a tool writing into them would be overwritten or refused.
// Use the local provider for a store keyward writes. No versions are kept;
// a value's Version.Created is the file's modification time.
//
// # URLs
//
//	file:///run/secrets             an absolute directory
//	file://./secrets                a directory relative to the current one
//	file:///run/secrets?trim=newline   remove one trailing "\n" or "\r\n"
//
// By default values are the file's exact bytes. Files in these directories
// are often binary (TLS keys, keystores, keytabs), and Kubernetes writes a
// Secret's data byte for byte, so stripping a final 0x0A could silently
// corrupt a value. Files written by hand with echo end in a newline; for
// them, add ?trim=newline (the env provider's KEY_FILE always trims, as
// Docker images do).
//
// # Symlinks and Kubernetes volumes
//
// A mounted Kubernetes Secret is a directory of symlinks: KEY → ..data/KEY,
// ..data → ..2024_01_01_00_00_00.123456789, which is how the kubelet swaps
// all keys at once. The provider follows symlinks, but only while they stay
// inside the directory (it reads through os.Root): a symlink whose target
// resolves outside the directory, or an absolute symlink, is refused with
// PermissionDenied, so a planted link cannot make keyward read
// /etc/shadow or another mount.
//
// Names starting with "." are never secrets (that is where Kubernetes keeps
// its ..data links); List skips them, directories, and anything that is not
// a regular file, and Get refuses them.
//
// # Errors
//
// A missing file is NotFound. A key with a "/" or one starting with "." is
// InvalidArgument. A directory, FIFO, device or socket is InvalidArgument:
// it is never opened for reading in a way that could block. A file over the
// size limit (1 MiB by default) is InvalidArgument. An escaping symlink or an
// unreadable file is PermissionDenied. Errors never contain a value.
//
// # Constructors
//
// As in every provider package: OpenURL opens a file://DIR URL and is the
// opener registered on keyward.DefaultURLMux (keyward.Open uses it);
// NewDriver(dir, opts) returns the driver over the directory and
// OpenStore(dir, opts, storeOpts) the keyward.Store over it.
//
// # As
//
// file exposes no driver-specific types.
package file

import (
	"context"
	"errors"
	"github.com/keyward/keyward/internal/fsutil"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Scheme is the URL scheme file registers.
const Scheme = "file"

// DefaultMaxSize is the largest secret file read by default.
const DefaultMaxSize = 1 << 20

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for a file:// URL, which names the directory by
// its host and path together (file://./secrets is "./secrets"); it is the
// opener registered on keyward.DefaultURLMux.
func OpenURL(_ context.Context, u *url.URL) (driver.Store, error) {
	dir := keyward.URLPath(u)
	if dir == "" {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "file:// needs a directory, as in file:///run/secrets or file://./secrets")
	}
	o := &Options{}
	for k, v := range u.Query() {
		switch k {
		case "trim":
			switch v[0] {
			case "newline":
				o.TrimNewline = true
			case "none", "":
			default:
				return nil, keyward.Errorf(keyward.InvalidArgument, "open", "file:// trim= is not newline or none")
			}
		default:
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "unknown query parameter %q for file:// (known: trim)", k)
		}
	}
	return NewDriver(dir, o)
}

// Options configures the driver.
type Options struct {
	// TrimNewline removes one trailing "\n" or "\r\n" from every value.
	TrimNewline bool
	// MaxSize bounds a secret file; zero means DefaultMaxSize.
	MaxSize int64
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(dir string, opts *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(dir, opts)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

// NewDriver returns a driver over the directory dir, which must exist.
func NewDriver(dir string, opts *Options) (driver.Store, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, keyward.Errorf(keyward.NotFound, "open", "directory %s does not exist", dir)
		}
		return nil, keyward.Errorf(fsutil.Code(err), "open", "directory %s cannot be read: %v", dir, fsutil.StripPath(err))
	}
	if !fi.IsDir() {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "%s is not a directory (file:// names a directory of secret files)", dir)
	}
	d := &fileDriver{dir: dir, max: DefaultMaxSize}
	if opts != nil {
		d.trim = opts.TrimNewline
		if opts.MaxSize > 0 {
			d.max = opts.MaxSize
		}
	}
	return d, nil
}

type fileDriver struct {
	dir  string
	trim bool
	max  int64
}

var _ driver.Lister = (*fileDriver)(nil)

func checkKey(key string) error {
	switch {
	case key == "":
		return fsutil.Errorf(driver.InvalidArgument, "empty key")
	case strings.ContainsAny(key, "/\\\x00"):
		return fsutil.Errorf(driver.InvalidArgument, "key %q is not a file name (it has a / or \\)", key)
	case strings.HasPrefix(key, "."):
		return fsutil.Errorf(driver.InvalidArgument, "key %q starts with '.', and dot-files are never secrets here", key)
	}
	return nil
}

// root opens the directory as an os.Root, which refuses any path or
// symlink that would lead outside it.
func (d *fileDriver) root() (*os.Root, error) {
	r, err := os.OpenRoot(d.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fsutil.Errorf(driver.NotFound, "directory %s does not exist", d.dir)
		}
		return nil, fsutil.PathErr("directory "+d.dir+" cannot be opened", err)
	}
	return r, nil
}

// escapes reports whether name is a symlink whose target the root refused.
func escapes(r *os.Root, name string, err error) bool {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return false
	}
	if strings.Contains(err.Error(), "path escapes") {
		return true
	}
	li, lerr := r.Lstat(name)
	return lerr == nil && li.Mode()&fs.ModeSymlink != 0
}

func (d *fileDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if version != "" {
		return nil, fsutil.Errorf(driver.Unimplemented, "a directory of files keeps no versions")
	}
	r, err := d.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	where := d.dir + string(os.PathSeparator) + key
	// Stat first (through the root) so that a FIFO or device is refused
	// before any open; then open without blocking and check the opened
	// file again, in case it was swapped in between.
	fi, err := r.Stat(key)
	if err != nil {
		return nil, d.statErr(r, key, where, err)
	}
	if what := fsutil.NotRegular(fi.Mode()); what != "" {
		return nil, fsutil.Errorf(driver.InvalidArgument, "%s is %s, not a secret file", where, what)
	}
	f, err := r.OpenFile(key, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, d.statErr(r, key, where, err)
	}
	defer f.Close()
	data, err := fsutil.ReadOpened(f, where, d.max)
	if err != nil {
		var fe *fsutil.Error
		switch {
		case errors.As(err, &fe) && fe.Kind != "":
			return nil, fsutil.Errorf(driver.InvalidArgument, "%s is %s, not a secret file", where, fe.Kind)
		case errors.As(err, &fe):
			return nil, fsutil.Errorf(driver.InvalidArgument, "%s is larger than the %s limit", where, fsutil.FormatLimit(d.max))
		}
		return nil, fsutil.PathErr(where+" cannot be read", err)
	}
	if fi, err = f.Stat(); err != nil {
		return nil, fsutil.PathErr(where+" cannot be read", err)
	}
	if d.trim {
		data = fsutil.TrimNewline(data)
	}
	return &driver.Value{Data: data, Version: driver.Version{Created: fi.ModTime().UTC()}}, nil
}

func (d *fileDriver) statErr(r *os.Root, key, where string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fsutil.Errorf(driver.NotFound, "%s does not exist", where)
	case errors.Is(err, fs.ErrPermission):
		return &fsutil.CodedError{Code: driver.PermissionDenied, Msg: where + " cannot be read", Err: fsutil.StripPath(err)}
	case errors.Is(err, syscall.ELOOP):
		return fsutil.Errorf(driver.InvalidArgument, "%s is a symlink loop", where)
	case escapes(r, key, err):
		return fsutil.Errorf(driver.PermissionDenied, "%s is a symlink that leads outside %s; refused", where, d.dir)
	}
	return fsutil.PathErr(where+" cannot be read", err)
}

// List returns the regular files in the directory (following symlinks that
// stay inside it), skipping dot-files, directories and special files.
func (d *fileDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := d.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	dir, err := r.Open(".")
	if err != nil {
		return nil, fsutil.PathErr("directory "+d.dir+" cannot be listed", err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fsutil.PathErr("directory "+d.dir+" cannot be listed", err)
	}
	var out []driver.KeyInfo
	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue
		}
		fi, err := r.Stat(name) // follows symlinks, refusing escapes
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, driver.KeyInfo{Key: name, Updated: fi.ModTime().UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (d *fileDriver) ErrorCode(err error) driver.Code { return fsutil.ErrorCode(err) }

func (d *fileDriver) Close() error { return nil }

// InProcess reports that reads are served inside the process
// (driver.InProcess): a Store runs batch lookups one after another.
func (d *fileDriver) InProcess() bool { return true }
