package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// WriteOptions configures WriteFile and WriteFileIn. The zero value (or
// nil) writes a file of mode 0600 through a sweepable temporary file.
type WriteOptions struct {
	// Perm is the mode of the written file; 0 means 0600. The temporary
	// file is created with the owner bits of Perm only (never readable by
	// others while it fills) and given Perm before it is renamed.
	Perm fs.FileMode
	// TempPrefix, if set, names the temporary file TempPrefix + random hex
	// instead of TempPrefix's sweepable .keyward-tmp-<pid>-… name, and
	// WriteFile then does not sweep the directory: for a caller that removes
	// its own stale temporary files while it holds a lock (the local store).
	TempPrefix string
	// Step, if set, is called after each step of the write, in this order:
	// "temp-created", "temp-half-written", "temp-written", "temp-synced",
	// "renamed", "dir-synced". A writer killed before "renamed" leaves the
	// old file; at or after it, the new one. Crash tests use it.
	Step func(step string)
}

// WriteError is a failed WriteFile or WriteFileIn. Unless Op is
// "sync-dir", the file at Path is as it was and no temporary file is left.
type WriteError struct {
	Path string
	// Op is the step that failed: "create" (the temporary file, or opening
	// the directory), "write" (writing, chmod, fsync or close of the
	// temporary file), "rename" (replacing Path), or "sync-dir" (the new
	// file is in place, but the directory's fsync failed, so it may not
	// survive a power loss).
	Op string
	// Err is the cause, without the path (see StripPath).
	Err error
}

func (e *WriteError) Error() string {
	if e.Op == "sync-dir" {
		return "wrote " + e.Path + " but could not sync its directory: " + e.Err.Error()
	}
	return "cannot write " + e.Path + ": " + e.Err.Error()
}

func (e *WriteError) Unwrap() error { return e.Err }

// inject, in tests only, makes the named step ("create", "write", "sync",
// "rename") fail with the error it returns.
var inject func(op string) error

func injected(op string) error {
	if inject != nil {
		return inject(op)
	}
	return nil
}

// WriteFile replaces the file at path with data, atomically: a temporary
// file with a random name in the same directory (O_EXCL, owner-only) is
// written, given its mode, fsynced and closed, renamed over path, and the
// directory is fsynced. On any failure before the rename the temporary file
// is removed and path is untouched; the error is a *WriteError (classify it
// with Code). Unless opts.TempPrefix is set, the directory's stale temporary
// files (SweepTemps) are removed first, and the temporary file is one
// SweepTemps recognises should this process be killed mid-write.
//
// path itself is replaced, never followed: a symlink at path is replaced by
// the new file.
func WriteFile(path string, data []byte, opts *WriteOptions) error {
	if opts == nil {
		opts = &WriteOptions{}
	}
	dir := filepath.Dir(path)
	if opts.TempPrefix == "" {
		SweepTemps(dir, time.Now())
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			err = syscall.ENOTDIR // os.OpenRoot says so only in words
		}
		return &WriteError{Path: path, Op: "create", Err: StripPath(err)}
	}
	defer root.Close()
	return writeIn(root, filepath.Base(path), path, data, opts)
}

// WriteFileIn is WriteFile for the file name (a base name) inside root, a
// directory the caller opened and checked (export --format docker). It
// does not sweep; errors name root.Name()/name.
func WriteFileIn(root *os.Root, name string, data []byte, opts *WriteOptions) error {
	if opts == nil {
		opts = &WriteOptions{}
	}
	return writeIn(root, name, filepath.Join(root.Name(), name), data, opts)
}

func writeIn(root *os.Root, name, path string, data []byte, opts *WriteOptions) (err error) {
	step := opts.Step
	if step == nil {
		step = func(string) {}
	}
	perm := opts.Perm
	if perm == 0 {
		perm = 0o600
	}
	fail := func(op string, err error) error {
		return &WriteError{Path: path, Op: op, Err: StripPath(err)}
	}
	// Go's rename refuses a directory target with EEXIST; say what it is,
	// and before any plaintext is written.
	if fi, err := root.Lstat(name); err == nil && fi.IsDir() {
		return fail("rename", syscall.EISDIR)
	}
	var f *os.File
	var tmp string
	for range 3 { // a name collision (EEXIST) is retried with new random bits
		if opts.TempPrefix != "" {
			tmp = opts.TempPrefix + randomHex()
		} else {
			tmp = tempName(name)
		}
		if err = injected("create"); err == nil {
			f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm&0o700)
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fail("create", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = root.Remove(tmp)
		}
	}()
	step("temp-created")
	half := len(data) / 2
	if _, err = f.Write(data[:half]); err != nil {
		return fail("write", err)
	}
	step("temp-half-written")
	if err = injected("write"); err == nil {
		_, err = f.Write(data[half:])
	}
	if err != nil {
		return fail("write", err)
	}
	step("temp-written")
	if err = f.Chmod(perm); err != nil { // exact, whatever the umask
		return fail("write", err)
	}
	if err = injected("sync"); err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fail("write", err)
	}
	step("temp-synced")
	if err = f.Close(); err != nil {
		return fail("write", err)
	}
	if err = injected("rename"); err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		return fail("rename", err)
	}
	step("renamed")
	if err := syncDir(root); err != nil {
		return &WriteError{Path: path, Op: "sync-dir", Err: StripPath(err)}
	}
	step("dir-synced")
	return nil
}

// SyncDir fsyncs the directory dir, so that a file just created or renamed
// in it survives a power loss; a file system that cannot (EINVAL) is not an
// error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return syncClose(d)
}

// syncDir is SyncDir for the directory root is.
func syncDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	return syncClose(d)
}

func syncClose(d *os.File) error {
	defer d.Close()
	if err := d.Sync(); err != nil && !syncUnsupported(err) {
		return err
	}
	return nil
}
