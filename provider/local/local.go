// Package local is keyward's embedded default store: one age-encrypted file
// that keeps every version of every secret, safe to commit to git and to
// share with a team. Most users never open it by hand: `keyward init`
// creates an identity and keyward.age, and the CLI uses that file unless
// told otherwise. In Go:
//
//	store, err := keyward.Open(ctx, "local://keyward.age")
//	jwt, err := store.Get(ctx, "JWT_SECRET_KEY")
//
// The file is encrypted with [filippo.io/age] to one or more X25519
// recipients, so every member of a team can read and write the same file
// with their own identity; [AddRecipient] adds a member. Writes are atomic
// (a temporary file, fsync, rename, directory fsync) and serialised by an
// advisory lock on PATH.lock, so concurrent writers — goroutines or
// processes — never lose an update and a crash leaves the old or the new
// file, never a mix. The on-disk format is versioned ("keyward-store v1"),
// described in docs/local-store.md and pinned by test vectors in
// testdata/vectors.
//
// # URLs
//
// local://PATH names the store file PATH (host and path together):
//
//	local://keyward.age                  keyward.age in the current directory (the CLI default)
//	local://./secrets/production.age     a relative path
//	local:///etc/keyward/prod.age        an absolute path
//	local://keyward.age?identity=FILE    read the identity from FILE
//
// A store URL without "://" is a local path, so "secrets/dev.age" works too.
//
// # Identity
//
// The identity (the private key) comes from, in order: the URL's identity=
// parameter; $KEYWARD_AGE_IDENTITY, holding the AGE-SECRET-KEY-1… line
// itself; the file named by $KEYWARD_AGE_IDENTITY_FILE; the per-user file
// $XDG_CONFIG_HOME/keyward/identity.txt (else ~/.config/keyward/identity.txt).
// An identity file readable by group or others is refused.
//
// # Abilities
//
// Get, GetMany (the file is decrypted once), List, Put (with check-and-set:
// IfVersion "0" means create-only), Delete and History. Versions are "1",
// "2", … with their creation times; Put stores PutOptions.Meta with the version.
//
// # Errors
//
//   - NotFound: the key or version does not exist, or the store file does
//     not exist yet (hint: keyward init). The first Put creates the file,
//     encrypted to the identity's recipient.
//   - PermissionDenied: no identity was found (the message names where
//     keyward looked), the identity file is readable by others (hint: chmod
//     600 FILE), or the store is not encrypted to your identity.
//   - FailedPrecondition: the file is truncated, bit-flipped or tampered with
//     (the message names the file), a check-and-set conflict, or a format
//     version this keyward cannot read.
//   - InvalidArgument: the file is not a keyward store, or a bad key name.
//
// Errors from this package carry a next step for people; [Hint] returns it.
// No error ever contains a secret value or key material.
//
// # As
//
// local exposes no driver-specific types through As.
package local

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Scheme is the URL scheme local registers.
const Scheme = "local"

func init() {
	keyward.DefaultURLMux().Register(Scheme, &URLOpener{})
}

// URLOpener opens local:// URLs.
type URLOpener struct {
	// Getenv replaces os.Getenv for finding the identity (tests).
	Getenv func(string) string
}

// OpenStoreURL implements keyward.URLOpener.
func (o *URLOpener) OpenStoreURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	path, idFile, err := PathFromURL(u)
	if err != nil {
		return nil, err
	}
	return NewDriver(path, &Options{IdentityFile: idFile, Getenv: o.Getenv})
}

// PathFromURL returns the store file and the identity= parameter of a
// local:// URL.
func PathFromURL(u *url.URL) (path, identityFile string, err error) {
	if u.Scheme != Scheme {
		return "", "", newErr(driver.InvalidArgument, "", "%s:// is not a local store URL", u.Scheme)
	}
	if u.User != nil || u.Port() != "" || u.Fragment != "" {
		return "", "", newErr(driver.InvalidArgument, "", "a local store URL is local://PATH; it takes no user, port or fragment")
	}
	path = keyward.URLPath(u)
	if path == "" {
		return "", "", newErr(driver.InvalidArgument, "write local://keyward.age, local://./dir/file.age or local:///abs/file.age",
			"local store URL names no file")
	}
	q := u.Query()
	for k := range q {
		if k != "identity" {
			return "", "", newErr(driver.InvalidArgument, "", "local store URL: unknown query parameter %q (known: identity)", k)
		}
	}
	return filepath.FromSlash(path), q.Get("identity"), nil
}

// Options configure a local driver. A nil *Options means the defaults.
type Options struct {
	// Identity, if set, is used instead of finding one.
	Identity *Identity
	// IdentityFile, if set, is read instead of the environment's identity.
	IdentityFile string
	// Getenv replaces os.Getenv for finding the identity.
	Getenv func(string) string
	// Now replaces time.Now for version creation times.
	Now func() time.Time
}

// OpenStore opens the store file at path as a keyward.Store.
func OpenStore(path string, opts *Options, storeOpts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(path, opts)
	if err != nil {
		return nil, err
	}
	var so keyward.StoreOptions
	if storeOpts != nil {
		so = *storeOpts
	}
	if so.URL == "" {
		so.URL = "local://" + filepath.ToSlash(path)
	}
	return keyward.NewStore(d, &so), nil
}

// NewDriver returns a driver over the store file at path. The identity is
// found lazily, on the first operation (and again after a failure).
func NewDriver(path string, opts *Options) (driver.Store, error) {
	if path == "" {
		return nil, newErr(driver.InvalidArgument, "", "empty store path")
	}
	d := &localDriver{path: path}
	if opts != nil {
		d.opts = *opts
	}
	if d.opts.Getenv == nil {
		d.opts.Getenv = os.Getenv
	}
	if d.opts.Now == nil {
		d.opts.Now = time.Now
	}
	return d, nil
}

type localDriver struct {
	path string
	opts Options
}

var (
	_ driver.Lister      = (*localDriver)(nil)
	_ driver.Writer      = (*localDriver)(nil)
	_ driver.Deleter     = (*localDriver)(nil)
	_ driver.Versioner   = (*localDriver)(nil)
	_ driver.BatchGetter = (*localDriver)(nil)
)

func (d *localDriver) identity() (*Identity, error) {
	if d.opts.Identity != nil {
		return d.opts.Identity, nil
	}
	return loadIdentity(d.opts.Getenv, d.opts.IdentityFile)
}

// read decrypts the current file. A missing file is NotFound.
func (d *localDriver) read(ctx context.Context) (*payload, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The file first: a store that does not exist is NotFound (exit 3)
	// whether or not the reader has an identity yet.
	data, err := readStoreFile(d.path)
	if err != nil {
		return nil, err
	}
	id, err := d.identity()
	if err != nil {
		return nil, err
	}
	return decode(d.path, data, id)
}

func readStoreFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, wrapErr(driver.NotFound, err, "run 'keyward init' to create it, or pick another store with --store",
				"store file %s does not exist", path)
		}
		return nil, wrapErr(errorCode(err), err, "", "cannot read store file %s: %v", path, unwrapPathErr(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, wrapErr(errorCode(err), err, "", "cannot read store file %s: %v", path, unwrapPathErr(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, newErr(driver.InvalidArgument, "", "store file %s is not a regular file", path)
	}
	if fi.Size() > MaxFileSize {
		return nil, newErr(driver.InvalidArgument, "", "store file %s is larger than %d bytes", path, MaxFileSize)
	}
	buf := make([]byte, 0, fi.Size()+1)
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, wrapErr(errorCode(err), err, "", "cannot read store file %s: %v", path, unwrapPathErr(err))
		}
		if len(buf) > MaxFileSize {
			return nil, newErr(driver.InvalidArgument, "", "store file %s is larger than %d bytes", path, MaxFileSize)
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
		}
	}
	return buf, nil
}

// update runs fn on the current payload under the writer lock and writes
// the result atomically. When the file does not exist, fn sees a new
// payload encrypted to the identity's recipients.
func (d *localDriver) update(ctx context.Context, create bool, fn func(p *payload) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, err := d.identity()
	if err != nil {
		return err
	}
	return updateFile(ctx, d.path, id, create, fn)
}

// updateFile is update for a given identity. create says whether a missing
// file may be created.
func updateFile(ctx context.Context, path string, id *Identity, create bool, fn func(p *payload) error) error {
	if create {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return wrapErr(errorCode(err), err, "", "cannot create the directory of %s: %v", path, unwrapPathErr(err))
		}
	}
	path = resolveSymlink(path)
	unlock, err := lock(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	step("locked")
	removeStaleTemps(path)
	var p *payload
	data, err := readStoreFile(path)
	switch {
	case err == nil:
		if p, err = decode(path, data, id); err != nil {
			return err
		}
	case errorCode(err) == driver.NotFound && create:
		p = newPayload(id.Recipients)
	default:
		return err
	}
	step("read")
	if err := fn(p); err != nil {
		return err
	}
	out, err := encode(p)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return writeAtomic(path, out)
}

// resolveSymlink follows a symlinked store file so the rename replaces its
// target, not the link.
func resolveSymlink(path string) string {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if r, err := filepath.EvalSymlinks(path); err == nil {
			return r
		}
	}
	return path
}

func toValue(v *versionEntry) *driver.Value {
	return &driver.Value{Data: slices.Clone(v.Value), Version: toVersion(v)}
}

func toVersion(v *versionEntry) driver.Version {
	out := driver.Version{ID: v.ID, Created: v.Created}
	if len(v.Meta) > 0 {
		out.Meta = make(map[string]string, len(v.Meta))
		for k, val := range v.Meta {
			out.Meta[k] = val
		}
	}
	return out
}

var (
	errNoKey     = errors.New("no such secret")
	errNoVersion = errors.New("no such version")
)

func (d *localDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	p, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	e := p.Secrets[key]
	if e == nil || len(e.Versions) == 0 {
		return nil, errNoKey
	}
	if version == "" || version == "current" || version == "latest" {
		return toValue(&e.Versions[len(e.Versions)-1]), nil
	}
	for i := range e.Versions {
		if e.Versions[i].ID == version {
			return toValue(&e.Versions[i]), nil
		}
	}
	return nil, errNoVersion
}

func (d *localDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	p, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*driver.Value, len(keys))
	for _, k := range keys {
		if v := p.current(k); v != nil {
			out[k] = toValue(v)
		}
	}
	return out, nil
}

func (d *localDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	p, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]driver.KeyInfo, 0, len(p.Secrets))
	for k := range p.Secrets {
		v := p.current(k)
		out = append(out, driver.KeyInfo{Key: k, Version: v.ID, Updated: v.Created})
	}
	slices.SortFunc(out, func(a, b driver.KeyInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (d *localDriver) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	p, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	e := p.Secrets[key]
	if e == nil || len(e.Versions) == 0 {
		return nil, errNoKey
	}
	out := make([]driver.Version, len(e.Versions))
	for i := range e.Versions {
		out[i] = toVersion(&e.Versions[i])
	}
	return out, nil
}

var errConflict = errors.New("check-and-set conflict: the current version is not the expected one")

func (d *localDriver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if err := validateKey(key); err != nil {
		return driver.Version{}, err
	}
	var ver driver.Version
	err := d.update(ctx, true, func(p *payload) error {
		e := p.Secrets[key]
		cur := "0"
		last := 0
		var prevCreated time.Time
		if e != nil && len(e.Versions) > 0 {
			lv := e.Versions[len(e.Versions)-1]
			cur = lv.ID
			last, _ = strconv.Atoi(lv.ID)
			prevCreated = lv.Created
		}
		if opts != nil && opts.IfVersion != "" && opts.IfVersion != cur {
			return errConflict
		}
		if e == nil {
			e = &secretEntry{}
			p.Secrets[key] = e
		}
		created := d.opts.Now().UTC()
		if created.Before(prevCreated) {
			created = prevCreated // keep versions in order under clock steps
		}
		v := versionEntry{ID: strconv.Itoa(last + 1), Created: created, Value: slices.Clone(data)}
		if opts != nil && len(opts.Meta) > 0 {
			v.Meta = make(map[string]string, len(opts.Meta))
			for k, val := range opts.Meta {
				v.Meta[k] = val
			}
		}
		e.Versions = append(e.Versions, v)
		ver = toVersion(&v)
		return nil
	})
	if err != nil {
		return driver.Version{}, err
	}
	return ver, nil
}

func (d *localDriver) Delete(ctx context.Context, key string) error {
	return d.update(ctx, false, func(p *payload) error {
		if _, ok := p.Secrets[key]; !ok {
			return errNoKey
		}
		delete(p.Secrets, key)
		return nil
	})
}

func (d *localDriver) ErrorCode(err error) driver.Code {
	switch {
	case errors.Is(err, errNoKey), errors.Is(err, errNoVersion):
		return driver.NotFound
	case errors.Is(err, errConflict):
		return driver.FailedPrecondition
	}
	return errorCode(err)
}

func (d *localDriver) Close() error { return nil }
