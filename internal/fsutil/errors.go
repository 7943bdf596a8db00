package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Code is the one mapping from a file-system error to a keyward code, so
// that the same failure exits the same way in every verb (docs/cli.md,
// "Unified filesystem error codes"):
//
//	an error that already carries a code     that code (a *fsutil.Error:
//	  (keyward error, *Error, a context)       InvalidArgument; context:
//	                                           Canceled / DeadlineExceeded)
//	ENOENT, ENOTDIR                          NotFound: the named file is not there
//	EACCES, EPERM, EROFS                     PermissionDenied: it may not be read or written
//	EEXIST                                   AlreadyExists
//	EISDIR, ELOOP, ENAMETOOLONG, EINVAL      InvalidArgument: the path names something
//	                                           that cannot be this file
//	anything else (EIO, ENOSPC, EDQUOT, …)   Unknown: the machine failed, not the request
//
// A name that is not a regular file or a file over its limit comes back
// from ReadFile as an *Error, hence InvalidArgument too.
func Code(err error) driver.Code {
	if err == nil {
		return driver.OK
	}
	if c := keyward.ErrorCode(err); c != driver.Unknown {
		return c
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return driver.NotFound
	case errors.Is(err, fs.ErrPermission):
		return driver.PermissionDenied
	case errors.Is(err, fs.ErrExist):
		return driver.AlreadyExists
	case errors.Is(err, fs.ErrInvalid):
		return driver.InvalidArgument
	}
	return errnoCode(err) // ENOTDIR, EROFS, EISDIR, ELOOP, …: os_unix.go
}

// StripPath returns the cause of a file-system error without the path its
// wrapper repeats (*fs.PathError, *os.LinkError, *WriteError): "permission
// denied" instead of "open /a/b: permission denied", for messages that name
// the file once themselves. Any other error is returned as it is.
func StripPath(err error) error {
	var we *WriteError
	if errors.As(err, &we) {
		return we.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// CodedError is an error message with the keyward code it exits with, for
// the providers that read files (dotenv, env, file): the code survives any
// wrapping, and ErrorCode finds it. Msg names the file once; Err is the
// cause without its path (StripPath). Its text never holds a value.
type CodedError struct {
	Code driver.Code
	Msg  string
	Err  error
	// Absent says the thing named is simply not there (a key that is not
	// set): a batch read skips it instead of failing.
	Absent bool
}

func (e *CodedError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *CodedError) Unwrap() error { return e.Err }

// Errorf is a *CodedError with a formatted message and no cause.
func Errorf(code driver.Code, format string, args ...any) error {
	return &CodedError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// PathErr is the *CodedError for a failed read or listing of a file the
// message names: the code by Code, the cause by StripPath.
func PathErr(msg string, err error) error {
	return &CodedError{Code: Code(err), Msg: msg, Err: StripPath(err)}
}

// ErrorCode is the code of the first *CodedError in err's chain, else
// keyward.ErrorCode's: the ErrorCode method of the file-reading drivers.
func ErrorCode(err error) driver.Code {
	var ce *CodedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return keyward.ErrorCode(err)
}

// IsAbsent reports whether err's chain holds a *CodedError marked Absent.
func IsAbsent(err error) bool {
	var ce *CodedError
	return errors.As(err, &ce) && ce.Absent
}
