package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

func TestCode(t *testing.T) {
	pe := func(errno error) error { return &fs.PathError{Op: "open", Path: "/p/secret.env", Err: errno} }
	tests := []struct {
		name string
		err  error
		want driver.Code
	}{
		{"nil", nil, driver.OK},
		{"ENOENT", pe(syscall.ENOENT), driver.NotFound},
		{"ENOENT wrapped by fmt", fmt.Errorf("reading: %w", pe(syscall.ENOENT)), driver.NotFound},
		{"ENOTDIR (a file used as a directory)", pe(syscall.ENOTDIR), driver.NotFound},
		{"EACCES", pe(syscall.EACCES), driver.PermissionDenied},
		{"EPERM", pe(syscall.EPERM), driver.PermissionDenied},
		{"EROFS", pe(syscall.EROFS), driver.PermissionDenied},
		{"EEXIST", pe(syscall.EEXIST), driver.AlreadyExists},
		{"EISDIR", pe(syscall.EISDIR), driver.InvalidArgument},
		{"ELOOP", pe(syscall.ELOOP), driver.InvalidArgument},
		{"ENAMETOOLONG", pe(syscall.ENAMETOOLONG), driver.InvalidArgument},
		{"EINVAL", pe(syscall.EINVAL), driver.InvalidArgument},
		{"fs.ErrInvalid", fs.ErrInvalid, driver.InvalidArgument},
		{"EIO", pe(syscall.EIO), driver.Unknown},
		{"ENOSPC", pe(syscall.ENOSPC), driver.Unknown},
		{"EDQUOT", pe(syscall.EDQUOT), driver.Unknown},
		{"not a regular file", &Error{Path: "/p/fifo", Kind: "a FIFO"}, driver.InvalidArgument},
		{"over the limit", &Error{Path: "/p/big", Limit: MiB}, driver.InvalidArgument},
		{"a keyward code wins over the errno", keyward.NewError(keyward.FailedPrecondition, "x", pe(syscall.ENOENT)), driver.FailedPrecondition},
		{"context canceled", context.Canceled, driver.Canceled},
		{"deadline", context.DeadlineExceeded, driver.DeadlineExceeded},
		{"a write error", &WriteError{Path: "/p/out", Op: "create", Err: syscall.EACCES}, driver.PermissionDenied},
		{"a link error", &os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EISDIR}, driver.InvalidArgument},
		{"a plain error", errors.New("boom"), driver.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Code(tt.err); got != tt.want {
				t.Errorf("Code(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestCodeOfRealFailures: the mapping on errors the OS really returns.
func TestCodeOfRealFailures(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  func() error
		want driver.Code
	}{
		{"missing file", func() error { _, err := ReadFile(filepath.Join(dir, "nope"), MiB); return err }, driver.NotFound},
		{"under a file", func() error { _, err := ReadFile(filepath.Join(file, "x"), MiB); return err }, driver.NotFound},
		{"a directory", func() error { _, err := ReadFile(dir, MiB); return err }, driver.InvalidArgument},
		{"a symlink loop", func() error { _, err := os.Open(loop); return err }, driver.InvalidArgument},
		{"over the limit", func() error { _, err := ReadFile(file, 0); return err }, driver.InvalidArgument},
		{"create exclusive over a file", func() error { _, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL, 0o600); return err }, driver.AlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if got := Code(err); got != tt.want {
				t.Errorf("Code(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

func TestStripPath(t *testing.T) {
	const path = "/home/u/KWCANARY-path/.env"
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"path error", &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}, "permission denied"},
		{"wrapped path error", fmt.Errorf("x: %w", &fs.PathError{Op: "open", Path: path, Err: syscall.ENOENT}), "no such file or directory"},
		{"link error", &os.LinkError{Op: "rename", Old: path + ".tmp", New: path, Err: syscall.EISDIR}, "is a directory"},
		{"write error", &WriteError{Path: path, Op: "rename", Err: syscall.EIO}, "input/output error"},
		{"other errors pass through", errors.New("boom"), "boom"},
		{"fsutil.Error keeps its own message", &Error{Path: path, Kind: "a FIFO"}, path + " is a FIFO, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripPath(tt.err).Error(); got != tt.want {
				t.Errorf("StripPath = %q, want %q", got, tt.want)
			}
		})
	}
	if StripPath(nil) != nil {
		t.Error("StripPath(nil) is not nil")
	}
}

func TestCodedError(t *testing.T) {
	cause := errors.New("permission denied")
	tests := []struct {
		name   string
		err    error
		text   string
		code   driver.Code
		absent bool
	}{
		{"message only", Errorf(driver.NotFound, "%s does not exist", "a.env"), "a.env does not exist", driver.NotFound, false},
		{"with cause", &CodedError{Code: driver.PermissionDenied, Msg: "a.env cannot be read", Err: cause}, "a.env cannot be read: permission denied", driver.PermissionDenied, false},
		{"wrapped keeps its code", fmt.Errorf("open store: %w", Errorf(driver.InvalidArgument, "bad")), "open store: bad", driver.InvalidArgument, false},
		{"absent", &CodedError{Code: driver.NotFound, Msg: "K is not set", Absent: true}, "K is not set", driver.NotFound, true},
		{"path error stripped", PathErr("dir cannot be listed", &fs.PathError{Op: "open", Path: "/x/dir", Err: syscall.ENOTDIR}), "dir cannot be listed: not a directory", driver.NotFound, false},
		{"no coded error: keyward's code", context.Canceled, "context canceled", driver.Canceled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.text {
				t.Errorf("text = %q, want %q", got, tc.text)
			}
			if got := ErrorCode(tc.err); got != tc.code {
				t.Errorf("ErrorCode = %v, want %v", got, tc.code)
			}
			if got := IsAbsent(tc.err); got != tc.absent {
				t.Errorf("IsAbsent = %v, want %v", got, tc.absent)
			}
		})
	}
	if !errors.Is(&CodedError{Msg: "m", Err: cause}, cause) {
		t.Error("a CodedError does not unwrap to its cause")
	}
}

func TestTrimNewline(t *testing.T) {
	for in, want := range map[string]string{"": "", "v": "v", "v\n": "v", "v\r\n": "v", "v\n\n": "v\n", "v\r": "v\r", "\n": ""} {
		if got := string(TrimNewline([]byte(in))); got != want {
			t.Errorf("TrimNewline(%q) = %q, want %q", in, got, want)
		}
	}
}
