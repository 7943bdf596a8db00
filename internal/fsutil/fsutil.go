// Package fsutil holds the file-system helpers keyward uses for every file
// it reads on behalf of a repository or a user.
//
// Every file in a checkout is untrusted input: keyward.yaml, templates,
// rule files, baselines and .env files can be a FIFO that blocks forever,
// a device that never ends (/dev/zero), or a gigabyte of sparse zeros.
// [ReadFile] is the one way keyward reads such a file: it opens without
// blocking, checks the opened file (so nothing can be swapped in between a
// check and the open), refuses anything but a regular file, and reads at
// most the limit its caller passes — one of the Max* constants below, each
// documented in docs/security-bounds.md. [ReadAll] bounds a stream (stdin,
// a pipe the user named) the same way, and [ReadAllContext] also gives up
// as soon as the context is cancelled (SIGINT, SIGTERM), even while a read
// blocks.
//
// Refusals are *[Error] values; their keyward code is InvalidArgument, and
// their message names the file and the limit, never any content.
//
// The package is also the one way keyward replaces a file ([WriteFile],
// [WriteFileIn]: temporary file, fsync, rename, fsync of the directory,
// with stale temporary files swept by [SweepTemps]), the one mapping from a
// file-system error to a keyward code ([Code], documented in docs/cli.md,
// "Unified filesystem error codes"), and the one way to drop the path an
// *fs.PathError repeats ([StripPath]).
package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/keyward/keyward"
)

// MiB is one mebibyte.
const MiB = 1 << 20

// The documented read limit for each kind of file. A file at the limit is
// read; one byte more is refused with an *Error.
const (
	// MaxProjectFile bounds keyward.yaml (and its schema-validation read).
	MaxProjectFile = 1 * MiB
	// MaxTemplateFile bounds a `keyward template` input.
	MaxTemplateFile = 8 * MiB
	// MaxRulesFile bounds a `scan --rules` gitleaks TOML file.
	MaxRulesFile = 4 * MiB
	// MaxBaselineFile bounds a `scan --baseline` report.
	MaxBaselineFile = 64 * MiB
	// MaxDotenvFile bounds a .env file (dotenv:// stores, init --from).
	MaxDotenvFile = 16 * MiB
	// MaxIdentityFile bounds an age identity file, the audit key and
	// other small credential files the user points at.
	MaxIdentityFile = 1 * MiB
	// MaxConfigFile bounds the user's own keyward config files.
	MaxConfigFile = 1 * MiB
	// MaxSecretFile bounds one secret read from a file (file:// stores,
	// env:// KEY_FILE, set --from-file, stdin).
	MaxSecretFile = 1 * MiB
	// MaxStoreFile bounds a local store file (keyward.age).
	MaxStoreFile = 64 * MiB
	// MaxScanFile is the default bound on one file `keyward scan` reads.
	MaxScanFile = 32 * MiB
	// MaxSmallFile bounds the small text files keyward edits in place
	// (.gitignore, git hook scripts).
	MaxSmallFile = 1 * MiB
)

// Error is a refused read: a file that is not a regular file, or one
// larger than its limit. Its keyward code is InvalidArgument.
type Error struct {
	Path string
	// Kind is what the file is ("a FIFO", "a directory", …) when it is not
	// a regular file; empty when it is too large.
	Kind string
	// Limit is the limit that was exceeded (set when Kind is empty).
	Limit int64
}

func (e *Error) Error() string {
	if e.Kind != "" {
		return fmt.Sprintf("%s is %s, not a regular file", e.Path, e.Kind)
	}
	return fmt.Sprintf("%s is larger than the %s limit", e.Path, FormatLimit(e.Limit))
}

// Unwrap makes keyward.ErrorCode report InvalidArgument, and
// errors.Is(err, keyward.ErrInvalidArgument) hold.
func (e *Error) Unwrap() error { return keyward.ErrInvalidArgument }

// FormatLimit renders a byte limit for people, to follow "the" and precede
// "limit": "16 MiB", "64 KiB", "1000-byte".
func FormatLimit(n int64) string {
	switch {
	case n >= MiB && n%MiB == 0:
		return fmt.Sprintf("%d MiB", n/MiB)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}

// NotRegular names what kind of non-regular file m describes ("a FIFO",
// "a directory", …), or returns "" for a regular file. Providers that read
// secrets from files refuse anything else: a FIFO would block, a device
// could be endless.
func NotRegular(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	}
	return "a special file"
}

// Open opens path for reading and returns it with its FileInfo, refusing
// anything but a regular file. A non-regular file is refused before it is
// opened (opening a device can have side effects); the open itself never
// blocks (O_NONBLOCK, so a FIFO without a writer cannot hang it) and the
// check is repeated on the opened file, so a FIFO swapped in between is
// caught too. Errors from the open itself are the usual *fs.PathError
// (test them with errors.Is(err, fs.ErrNotExist) and so on).
func Open(path string) (*os.File, fs.FileInfo, error) {
	if fi, err := os.Stat(path); err == nil {
		if kind := NotRegular(fi.Mode()); kind != "" {
			return nil, nil, &Error{Path: path, Kind: kind}
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if kind := NotRegular(fi.Mode()); kind != "" {
		f.Close()
		return nil, nil, &Error{Path: path, Kind: kind}
	}
	return f, fi, nil
}

// ReadFile reads the regular file at path, refusing a non-regular file and
// one larger than limit bytes (checked before reading, from the opened
// file's size, and again while reading, in case it grows).
func ReadFile(path string, limit int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpened(f, fi, path, limit)
}

// ReadOpened is ReadFile for a file the caller opened itself (through an
// os.Root, say), preferably with O_NONBLOCK: it checks the opened file is
// regular and at most limit bytes, and reads it. name is used in errors.
func ReadOpened(f *os.File, name string, limit int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if kind := NotRegular(fi.Mode()); kind != "" {
		return nil, &Error{Path: name, Kind: kind}
	}
	return readOpened(f, fi, name, limit)
}

// readOpened reads the regular file f, whose FileInfo (from the opened
// file) is fi, refusing more than limit bytes.
func readOpened(f *os.File, fi fs.FileInfo, name string, limit int64) ([]byte, error) {
	if fi.Size() > limit {
		return nil, &Error{Path: name, Limit: limit}
	}
	b, err := readAll(f, fi.Size(), limit)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, &Error{Path: name, Limit: limit}
		}
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

// ReadAll reads r to its end, refusing more than limit bytes; name (a file
// name, "standard input") is used in the error.
func ReadAll(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := readAll(r, 0, limit)
	if errors.Is(err, errTooLarge) {
		return nil, &Error{Path: name, Limit: limit}
	}
	return b, err
}

// ReadAllContext is ReadAll that returns ctx.Err() as soon as ctx is done,
// even while a read blocks (a pipe whose writer never writes, a slow
// FIFO the user named). The blocked read is left behind in its goroutine;
// the caller is expected to be on its way out.
func ReadAllContext(ctx context.Context, r io.Reader, name string, limit int64) ([]byte, error) {
	return untilDone(ctx, func() ([]byte, error) { return ReadAll(r, name, limit) })
}

// untilDone runs read in a goroutine and returns its result, or ctx.Err()
// as soon as ctx is done (the read is then left behind).
func untilDone(ctx context.Context, read func() ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := read()
		done <- result{b, err}
	}()
	select {
	case res := <-done:
		return res.b, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var errTooLarge = errors.New("too large")

// readAll reads at most limit bytes, and errTooLarge if there is more.
func readAll(r io.Reader, sizeHint, limit int64) ([]byte, error) {
	n := sizeHint + 1
	if n <= 1 || n > limit+1 {
		n = 512
		if limit+1 < n {
			n = limit + 1
		}
	}
	buf := make([]byte, 0, n)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadUserFile reads a file the user named on the command line (set
// --from-file): a regular file, or a FIFO or character device such as
// /dev/stdin or the pipe of a shell's <(cmd), which the user chose to
// read from. A directory or socket is refused; at most limit bytes are
// read; and it returns ctx.Err() as soon as ctx is done, also while the
// open of a FIFO waits for its writer. Repository files never come here:
// they go through ReadFile.
func ReadUserFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	m := fi.Mode()
	if !m.IsRegular() && m&fs.ModeNamedPipe == 0 && m&fs.ModeCharDevice == 0 {
		return nil, &Error{Path: path, Kind: NotRegular(m)}
	}
	if m.IsRegular() {
		return ReadFile(path, limit)
	}
	return untilDone(ctx, func() ([]byte, error) {
		f, err := os.Open(path) // may wait for a FIFO's writer
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return ReadAll(f, path, limit)
	})
}

// TrimNewline removes one trailing "\n" (or "\r\n"): the newline an editor
// or `echo` leaves at the end of a secret file, which is not part of the
// value.
func TrimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
