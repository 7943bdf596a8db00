// Package local is keyward's embedded default store: one encrypted file
// that keeps the recent versions of every secret, safe to commit to git and to
// share with a team. Most users never open it by hand: `keyward init`
// creates an identity and keyward.age, and the CLI uses that file unless
// told otherwise. In Go:
//
//	store, err := keyward.Open(ctx, "local://keyward.age")
//	jwt, err := store.Get(ctx, "JWT_SECRET_KEY")
//
// Each secret version is one line of the file, sealed with
// XChaCha20-Poly1305 under a random file key; the file key is encrypted
// with [filippo.io/age] to every recipient (X25519, post-quantum, SSH or
// age-plugin keys), so every member of a team can read and write the same
// file with their own identity; [AddRecipient] adds a member and
// [RemoveRecipient] or [SetRecipients] re-key. Key names are keyed
// identifiers, a MAC covers the header and another the set of records.
// Reading one key decrypts one record. Writes are atomic (a temporary
// file, fsync, rename, directory fsync) and serialised by an advisory lock
// on PATH.lock, so concurrent writers — goroutines or processes — never
// lose an update and a crash leaves the old or the new file, never a mix.
// A write keeps the last 10 versions of a key (Options.KeepVersions,
// ?history=N) plus those in a rotation grace. The on-disk format is
// versioned ("keyward-store v2"; v1 files are still read and converted by
// the first write), described in docs/local-store.md and pinned by test
// vectors in testdata/vectors. [Merge] is the git merge driver.
//
// # URLs
//
// local://PATH names the store file PATH (host and path together):
//
//	local://keyward.age                  keyward.age in the current directory (the CLI default)
//	local://./secrets/production.age     a relative path
//	local:///etc/keyward/prod.age        an absolute path
//	local://keyward.age?identity=FILE    read the identity from FILE
//	local://keyward.age?history=25       keep 25 versions per key ("all": never prune)
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
// Get, GetMany (the file is read once), List, Put (with check-and-set:
// IfVersion "0" means create-only), PutMany (one atomic write), Delete and
// History. Versions are "1",
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
// # Constructors
//
// As in every provider package: OpenURL opens a local://PATH URL and is the
// opener registered on keyward.DefaultURLMux (keyward.Open uses it);
// NewDriver(path, opts) returns the driver over the store file and
// OpenStore(path, opts, storeOpts) the keyward.Store over it (its URL set
// to local://PATH).
//
// # As
//
// local exposes no driver-specific types through As.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/fsutil"
)

// Scheme is the URL scheme local registers.
const Scheme = "local"

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for a local:// URL (see PathFromURL and
// ?history=); it is the opener registered on keyward.DefaultURLMux.
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	path, idFile, err := PathFromURL(u)
	if err != nil {
		return nil, err
	}
	keep, err := historyFromURL(u)
	if err != nil {
		return nil, err
	}
	return NewDriver(path, &Options{IdentityFile: idFile, KeepVersions: keep})
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
		if k != "identity" && k != "history" {
			return "", "", newErr(driver.InvalidArgument, "", "local store URL: unknown query parameter %q (known: identity, history)", k)
		}
	}
	return filepath.FromSlash(path), q.Get("identity"), nil
}

// historyFromURL reads ?history=N (versions kept per key; "all" or 0
// keeps every version) as an Options.KeepVersions value.
func historyFromURL(u *url.URL) (int, error) {
	h := u.Query().Get("history")
	switch h {
	case "":
		return 0, nil
	case "all", "0":
		return -1, nil
	}
	n, err := strconv.Atoi(h)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, newErr(driver.InvalidArgument, "history=N keeps the last N versions of each key (N ≥ 1), history=all keeps every version",
			"local store URL: history must be a positive number or \"all\"")
	}
	return n, nil
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
	// KeepVersions is how many versions per key a write keeps (older ones
	// are pruned, except versions still in a rotation grace period): 0
	// means DefaultKeepVersions (10), a negative number keeps every version.
	KeepVersions int
	// Notice receives the one-line notice a write prints when it converts
	// a v1 file to v2; nil prints it on stderr.
	Notice func(string)
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
	path  string
	opts  Options
	cache keyCache

	// last is the last snapshot read and the file state it was read at:
	// a List followed by a GetMany (what keyward run does) reads and
	// authenticates the file once. Writes replace the file by rename, so
	// a changed file has a new inode, size or modification time.
	mu       sync.Mutex
	last     *snapshot
	lastStat fileState
}

var (
	_ driver.Lister      = (*localDriver)(nil)
	_ driver.Writer      = (*localDriver)(nil)
	_ driver.Deleter     = (*localDriver)(nil)
	_ driver.Versioner   = (*localDriver)(nil)
	_ driver.BatchGetter = (*localDriver)(nil)
	_ driver.BatchWriter = (*localDriver)(nil)
)

func (d *localDriver) identity() (*Identity, error) {
	if d.opts.Identity != nil {
		return d.opts.Identity, nil
	}
	return loadIdentity(d.opts.Getenv, d.opts.IdentityFile)
}

// read loads the current file: a v1 file is decrypted whole, a v2 file is
// authenticated and its records are decrypted only when asked. A missing
// file is NotFound.
func (d *localDriver) read(ctx context.Context) (*snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, statErr := statFile(d.path)
	d.mu.Lock()
	if statErr == nil && d.last != nil && d.lastStat == st {
		s := d.last
		d.mu.Unlock()
		return s, nil
	}
	d.mu.Unlock()
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
	s, err := loadSnapshot(d.path, data, id, &d.cache)
	if err != nil {
		return nil, err
	}
	if statErr == nil && s.f != nil && st.sys != "" {
		if st2, err := statFile(d.path); err == nil && st2 == st {
			d.mu.Lock()
			old := d.last
			d.last, d.lastStat = s, st
			d.mu.Unlock()
			if old != nil {
				old.dropListed() // a listing of the file as it was
			}
		}
	}
	return s, nil
}

// fileState identifies one version of a file on disk.
type fileState struct {
	size  int64
	mtime int64
	sys   string
}

func statFile(path string) (fileState, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{}, err
	}
	return fileState{size: fi.Size(), mtime: fi.ModTime().UnixNano(), sys: fileID(fi)}, nil
}

func readStoreFile(path string) ([]byte, error) {
	fileReads.Add(1)
	data, err := fsutil.ReadFile(path, int64(maxFileSize)) // no FIFO, device or over-large file
	if err == nil {
		return data, nil
	}
	var fe *fsutil.Error
	isFS := errors.As(err, &fe)
	switch {
	case isFS && fe.Kind != "":
		return nil, newErr(driver.InvalidArgument, "", "store file %s is %s, not a regular file; keyward refuses to read it", path, fe.Kind)
	case isFS:
		return nil, newErr(driver.InvalidArgument, "", "store file %s is larger than the %d-byte limit", path, maxFileSize)
	case errors.Is(err, fs.ErrNotExist):
		return nil, wrapErr(driver.NotFound, err, "run 'keyward init' to create it, or pick another store with --store",
			"store file %s does not exist", path)
	}
	return nil, wrapErr(errorCode(err), err, "", "cannot read store file %s: %v", path, unwrapPathErr(err))
}

// writeParams are what a write needs besides the change itself.
type writeParams struct {
	id     *Identity
	cache  *keyCache
	keep   int // versions per key; 0 means DefaultKeepVersions, <0 all
	now    func() time.Time
	notice func(string)
}

func (d *localDriver) params() (*writeParams, error) {
	id, err := d.identity()
	if err != nil {
		return nil, err
	}
	return &writeParams{id: id, cache: &d.cache, keep: d.opts.KeepVersions, now: d.opts.Now, notice: d.opts.Notice}, nil
}

// update runs fn on the current store under the writer lock and writes
// the result atomically. When the file does not exist, fn sees a new
// store encrypted to the identity's recipients.
func (d *localDriver) update(ctx context.Context, create bool, fn func(t *txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	wp, err := d.params()
	if err != nil {
		return err
	}
	return updateFile(ctx, d.path, wp, create, fn)
}

// refuseSymlinks refuses to write through a symlink at the store or lock
// path: a committed symlink could point the write anywhere the user can
// write.
func refuseSymlinks(path string) error {
	for _, p := range []string{path, LockPath(path)} {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return newErr(driver.FailedPrecondition, "replace the symlink with the file itself (a committed symlink could point a write anywhere)",
				"%s is a symlink; keyward refuses to write through it", p)
		} else if err == nil && p == LockPath(path) && !fi.Mode().IsRegular() {
			return newErr(driver.FailedPrecondition, "remove "+p+"; keyward recreates it",
				"lock file %s is not a regular file", p)
		}
	}
	return nil
}

// updateFile is update for given parameters. create says whether a
// missing file may be created.
func updateFile(ctx context.Context, path string, wp *writeParams, create bool, fn func(t *txn) error) error {
	if create {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return wrapErr(errorCode(err), err, "", "cannot create the directory of %s: %v", path, unwrapPathErr(err))
		}
	}
	if err := refuseSymlinks(path); err != nil {
		return err
	}
	unlock, err := lock(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	step("locked")
	removeStaleTemps(path)
	var t *txn
	data, err := readStoreFile(path)
	switch {
	case err == nil:
		s, err := loadSnapshot(path, data, wp.id, wp.cache)
		if err != nil {
			return err
		}
		if t, err = newTxn(s); err != nil {
			return err
		}
	case errorCode(err) == driver.NotFound && create:
		if len(wp.id.Recipients) == 0 {
			return newErr(driver.FailedPrecondition, "create the store with 'keyward init --add-recipient RECIPIENT'",
				"cannot create %s: the identity's recipient is not known", path)
		}
		if t, err = emptyTxn(path, wp.id.Recipients); err != nil {
			return err
		}
		t.converted = false
	default:
		return err
	}
	wasV1 := t.converted
	if wp.keep != 0 {
		t.keep = wp.keep
	}
	if wp.now != nil {
		t.now = wp.now
	}
	step("read")
	if err := fn(t); err != nil {
		return err
	}
	out := t.encode()
	if len(out) > maxFileSize {
		return newErr(driver.FailedPrecondition, "delete unused secrets or lower the history limit (?history=N); the store is unchanged",
			"the write would make %s %d bytes, over the %d-byte read limit: refused, nothing was written", path, len(out), maxFileSize)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeAtomic(path, out); err != nil {
		return err
	}
	wp.cache.put(t.wrapped, t.k)
	if wasV1 {
		msg := fmt.Sprintf("converted %s to store format v2 (per-secret encryption; keyward releases before v2 cannot read it)", path)
		if wp.notice != nil {
			wp.notice(msg)
		} else {
			fmt.Fprintf(os.Stderr, "keyward: %s\n", msg)
		}
	}
	return nil
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
	s, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	var v *versionEntry
	if version == "" || version == "current" || version == "latest" {
		v, err = s.current(key)
	} else {
		v, err = s.version(key, version)
		if err == nil && v == nil {
			if cur, err := s.current(key); err != nil {
				return nil, err
			} else if cur != nil {
				return nil, errNoVersion
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errNoKey
	}
	return toValue(v), nil
}

func (d *localDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	s, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	defer s.dropListed() // the batch a listing prepared for is done
	out := make(map[string]*driver.Value, len(keys))
	for _, k := range keys {
		v, err := s.current(k)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[k] = toValue(v)
		}
	}
	return out, nil
}

func (d *localDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	s, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	return s.list()
}

func (d *localDriver) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	s, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	vs, marker, err := s.versions(key)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, errNoKey
	}
	out := make([]driver.Version, len(vs))
	for i := range vs {
		out[i] = toVersion(&vs[i])
	}
	if marker != nil {
		if out[0].Meta == nil {
			out[0].Meta = map[string]string{}
		}
		out[0].Meta[MetaPruned] = strconv.Itoa(marker.PrunedCount)
		out[0].Meta[MetaPrunedThrough] = strconv.Itoa(marker.PrunedThrough)
		out[0].Meta[MetaPrunedAt] = marker.PrunedAt.UTC().Format(time.RFC3339)
	}
	return out, nil
}

var errConflict = errors.New("check-and-set conflict: the current version is not the expected one")

func (d *localDriver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if err := validateKey(key); err != nil {
		return driver.Version{}, err
	}
	var ver driver.Version
	err := d.update(ctx, true, func(t *txn) error {
		var err error
		ver, err = t.put(key, data, opts)
		return err
	})
	if err != nil {
		return driver.Version{}, err
	}
	return ver, nil
}

// PutMany writes every item in one atomic file write: all land or none.
func (d *localDriver) PutMany(ctx context.Context, items []driver.PutItem) ([]driver.Version, error) {
	for _, it := range items {
		if err := validateKey(it.Key); err != nil {
			return nil, err
		}
	}
	var out []driver.Version
	err := d.update(ctx, true, func(t *txn) error {
		out = make([]driver.Version, 0, len(items))
		for _, it := range items {
			v, err := t.put(it.Key, it.Data, it.Opts)
			if errors.Is(err, errConflict) {
				return fmt.Errorf("%w (key %q; nothing was written)", errConflict, it.Key)
			}
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (d *localDriver) Delete(ctx context.Context, key string) error {
	return d.update(ctx, false, func(t *txn) error {
		if !t.delete(key) {
			return errNoKey
		}
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

// Close wipes what a listing opened that no read took (GetMany wipes it
// too, when it has read what it needed).
func (d *localDriver) Close() error {
	d.mu.Lock()
	last := d.last
	d.mu.Unlock()
	if last != nil {
		last.dropListed()
	}
	return nil
}

// InProcess reports that reads are served inside the process
// (driver.InProcess): a Store runs batch lookups one after another.
func (d *localDriver) InProcess() bool { return true }
