package local

import (
	"errors"
	"fmt"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/fsutil"
)

// localError is the error type every local function returns. Its message
// never holds a secret value or key material; Hint is a next step for
// people (the CLI prints it on a "hint:" line).
type localError struct {
	code  driver.Code
	msg   string
	hint  string
	cause error
}

func (e *localError) Error() string { return e.msg }

// Hint is a suggested next step, or "".
func (e *localError) Hint() string { return e.hint }

// Unwrap exposes the cause and the code's sentinel, so errors.Is(err,
// keyward.ErrNotFound) works even before a keyward.Store wraps the error.
func (e *localError) Unwrap() []error {
	out := []error{codeSentinel(e.code)}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

func newErr(code driver.Code, hint string, format string, args ...any) *localError {
	return &localError{code: code, msg: fmt.Sprintf(format, args...), hint: hint}
}

func wrapErr(code driver.Code, cause error, hint string, format string, args ...any) *localError {
	return &localError{code: code, msg: fmt.Sprintf(format, args...), hint: hint, cause: cause}
}

func codeSentinel(c driver.Code) error {
	switch c {
	case driver.NotFound:
		return keyward.ErrNotFound
	case driver.AlreadyExists:
		return keyward.ErrAlreadyExists
	case driver.PermissionDenied:
		return keyward.ErrPermissionDenied
	case driver.InvalidArgument:
		return keyward.ErrInvalidArgument
	case driver.FailedPrecondition:
		return keyward.ErrFailedPrecondition
	case driver.Unimplemented:
		return keyward.ErrUnimplemented
	case driver.Unavailable:
		return keyward.ErrUnavailable
	case driver.Canceled:
		return keyward.ErrCanceled
	case driver.DeadlineExceeded:
		return keyward.ErrDeadlineExceeded
	}
	return keyward.ErrUnknown
}

// errorCode classifies any error a local function returned.
func errorCode(err error) driver.Code {
	if err == nil {
		return driver.OK
	}
	var le *localError
	if errors.As(err, &le) {
		return le.code
	}
	return fsutil.Code(err)
}

// ErrorCode classifies an error returned by this package's helpers
// (Create, AddRecipient, LoadIdentity…) the way the driver does.
func ErrorCode(err error) keyward.Code { return errorCode(err) }

// Hint returns the next step suggested by an error from this package
// ("run 'keyward init'", "chmod 600 FILE"), or "".
func Hint(err error) string {
	var le *localError
	if errors.As(err, &le) {
		return le.hint
	}
	return ""
}
