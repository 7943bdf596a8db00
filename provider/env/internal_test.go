package env

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/keyward/keyward/driver"
)

// An unreadable KEY_FILE is PermissionDenied. Root reads any file, so the
// classification is checked on the errno itself, and on a real file too
// when the tests run as an ordinary user.
func TestPermissionDenied(t *testing.T) {
	d := New(nil)
	err := fileErr(&fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES})
	if code := d.ErrorCode(err); code != driver.PermissionDenied {
		t.Fatalf("EACCES classified as %v", code)
	}
	if code := d.ErrorCode(fileErr(&fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT})); code != driver.NotFound {
		t.Fatalf("ENOENT classified as %v", code)
	}
	if os.Geteuid() != 0 {
		p := filepath.Join(t.TempDir(), "locked")
		if err := os.WriteFile(p, []byte("x"), 0o000); err != nil {
			t.Fatal(err)
		}
		d := New(&Options{LookupEnv: func(k string) (string, bool) { return p, k == "LOCKED_FILE" }})
		_, err := d.Get(context.Background(), "LOCKED", "")
		if code := d.ErrorCode(err); code != driver.PermissionDenied {
			t.Fatalf("unreadable file: code %v (%v)", code, err)
		}
	}
}
