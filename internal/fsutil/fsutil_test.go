package fsutil

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keyward/keyward"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	cases := []struct {
		name    string
		path    string
		limit   int64
		wantLen int
		wantErr string // substring; "" means success
	}{
		{"at the limit", write("at", 100), 100, 100, ""},
		{"empty", write("empty", 0), 100, 0, ""},
		{"one byte over", write("over", 101), 100, 0, "larger than the 100-byte limit"},
		{"MiB limit named", write("big", 2*MiB+1), 2 * MiB, 0, "larger than the 2 MiB limit"},
		{"sparse 1 GiB", sparse, MaxProjectFile, 0, "larger than the 1 MiB limit"},
		{"FIFO without writer", fifo, 100, 0, "is a FIFO, not a regular file"},
		{"directory", dir, 100, 0, "is a directory, not a regular file"},
		{"char device", "/dev/zero", 100, 0, "is a device, not a regular file"},
		{"socket", sock, 100, 0, "is a socket, not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadFile(tc.path, tc.limit)
			if tc.wantErr == "" {
				if err != nil || len(b) != tc.wantLen {
					t.Fatalf("ReadFile = %d bytes, %v; want %d bytes", len(b), err, tc.wantLen)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadFile succeeded; want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("error %q does not name the file and say %q", err, tc.wantErr)
			}
			if keyward.ErrorCode(err) != keyward.InvalidArgument || !errors.Is(err, keyward.ErrInvalidArgument) {
				t.Fatalf("code = %v; want InvalidArgument", keyward.ErrorCode(err))
			}
		})
	}
}

func TestReadFileMissingKeepsPathError(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope"), 10)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) {
		t.Fatalf("err = %v; want a *fs.PathError for a missing file", err)
	}
}

func TestReadAll(t *testing.T) {
	b, err := ReadAll(strings.NewReader("abc"), "standard input", 3)
	if err != nil || string(b) != "abc" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	_, err = ReadAll(strings.NewReader("abcd"), "standard input", 3)
	if err == nil || err.Error() != "standard input is larger than the 3-byte limit" {
		t.Fatalf("err = %v", err)
	}
	// An endless reader stops at the limit.
	_, err = ReadAll(zeros{}, "endless", MiB)
	if keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("endless reader: err = %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestReadAllContextCancel: a read blocked on a pipe nobody writes returns
// as soon as the context is cancelled.
func TestReadAllContextCancel(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := ReadAllContext(ctx, pr, "standard input", MiB)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	// And an uncancelled read completes normally.
	b, err := ReadAllContext(context.Background(), strings.NewReader("v"), "x", 1)
	if err != nil || string(b) != "v" {
		t.Fatalf("ReadAllContext = %q, %v", b, err)
	}
}

func TestFormatLimit(t *testing.T) {
	for n, want := range map[int64]string{MiB: "1 MiB", 64 * MiB: "64 MiB", 64 << 10: "64 KiB", 1000: "1000-byte", MiB + 1: "1048577-byte"} {
		if got := FormatLimit(n); got != want {
			t.Errorf("FormatLimit(%d) = %q; want %q", n, got, want)
		}
	}
}
