package keyward

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/driver"
)

// Code classifies an error returned by keyward. See the constants below.
type Code = driver.Code

// The error codes, re-exported from package driver.
const (
	OK                 = driver.OK
	Unknown            = driver.Unknown
	NotFound           = driver.NotFound
	AlreadyExists      = driver.AlreadyExists
	PermissionDenied   = driver.PermissionDenied
	InvalidArgument    = driver.InvalidArgument
	FailedPrecondition = driver.FailedPrecondition
	Unimplemented      = driver.Unimplemented
	Unavailable        = driver.Unavailable
	Canceled           = driver.Canceled
	DeadlineExceeded   = driver.DeadlineExceeded
)

// Sentinel errors, one per code, for use with errors.Is:
//
//	if errors.Is(err, keyward.ErrNotFound) { ... }
var (
	ErrNotFound           = sentinel(NotFound)
	ErrAlreadyExists      = sentinel(AlreadyExists)
	ErrPermissionDenied   = sentinel(PermissionDenied)
	ErrInvalidArgument    = sentinel(InvalidArgument)
	ErrFailedPrecondition = sentinel(FailedPrecondition)
	ErrUnimplemented      = sentinel(Unimplemented)
	ErrUnavailable        = sentinel(Unavailable)
	ErrUnknown            = sentinel(Unknown)
	ErrCanceled           = sentinel(Canceled)
	ErrDeadlineExceeded   = sentinel(DeadlineExceeded)
)

type codeSentinel struct{ code Code }

func sentinel(c Code) error           { return &codeSentinel{c} }
func (s *codeSentinel) Error() string { return "keyward: " + s.code.String() }

// Error is the error type returned by every Store method. It is wrapped
// exactly once, by the Store; the provider's own error is reachable through
// errors.Unwrap and Store.ErrorAs.
type Error struct {
	Code  Code
	Op    string // "get", "put", "list", "delete", "history", "open"
	Key   string // the secret's name, if any (names are not secret)
	Store string // the store URL with credentials removed
	err   error
}

func (e *Error) Error() string {
	msg := "keyward: failed to " + e.Op
	if e.Key != "" {
		msg += fmt.Sprintf(" %q", e.Key)
	}
	if e.Store != "" {
		msg += " in " + e.Store
	}
	msg += ": " + e.Code.String()
	if e.err != nil {
		if s := e.err.Error(); s != "" && s != e.Code.String() {
			msg += ": " + s
		}
	}
	return msg
}

// Unwrap returns the underlying provider error.
func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrNotFound) and friends work by code.
func (e *Error) Is(target error) bool {
	if s, ok := target.(*codeSentinel); ok {
		return s.code == e.Code
	}
	return false
}

// ErrorCode returns the Code of err: OK for nil, the code of a keyward error,
// Canceled/DeadlineExceeded for context errors, Unknown otherwise.
func ErrorCode(err error) Code {
	if err == nil {
		return OK
	}
	var ke *Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	var s *codeSentinel
	if errors.As(err, &s) {
		return s.code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	return Unknown
}

// NewError builds an *Error. Providers and tools use it for errors that do
// not come from a driver (bad configuration, say).
func NewError(code Code, op string, err error) error {
	return &Error{Code: code, Op: op, err: err}
}

// Errorf is shorthand for NewError(code, op, fmt.Errorf(format, args...)).
func Errorf(code Code, op, format string, args ...any) error {
	return &Error{Code: code, Op: op, err: fmt.Errorf(format, args...)}
}

// MultiError collects the errors of several operations (several keys,
// several providers). It unwraps to all of them.
type MultiError []error

func (m MultiError) Error() string {
	switch len(m) {
	case 0:
		return "keyward: no errors"
	case 1:
		return m[0].Error()
	}
	s := fmt.Sprintf("keyward: %d errors:", len(m))
	for _, e := range m {
		s += "\n\t" + e.Error()
	}
	return s
}

// Unwrap returns the collected errors.
func (m MultiError) Unwrap() []error { return m }
