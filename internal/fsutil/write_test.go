package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/keyward/keyward/driver"
)

// TestWriteFile: a successful write replaces the file with the requested
// mode and leaves no temporary file.
func TestWriteFile(t *testing.T) {
	for _, perm := range []os.FileMode{0, 0o600, 0o400, 0o644, 0o755} {
		dir := t.TempDir()
		p := filepath.Join(dir, "out.env")
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		var steps []string
		if err := WriteFile(p, []byte("A=new\n"), &WriteOptions{Perm: perm, Step: func(s string) { steps = append(steps, s) }}); err != nil {
			t.Fatalf("perm %v: %v", perm, err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "A=new\n" {
			t.Errorf("perm %v: content %q, %v", perm, b, err)
		}
		want := perm
		if want == 0 {
			want = 0o600
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != want {
			t.Errorf("perm %v: mode %v, want %v", perm, st.Mode().Perm(), want)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("perm %v: %d entries left in the directory, want 1", perm, len(ents))
		}
		wantSteps := []string{"temp-created", "temp-half-written", "temp-written", "temp-synced", "renamed", "dir-synced"}
		if !slices.Equal(steps, wantSteps) {
			t.Errorf("steps %v, want %v", steps, wantSteps)
		}
	}
}

// TestWriteFileFailures: every failure leaves the old file as it was, no
// temporary file behind, and a *WriteError whose Code is the unified one
// and whose message names the file once, without the temporary name.
func TestWriteFileFailures(t *testing.T) {
	const old = "OLD=kept\n"
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) string // returns the target
		inject map[string]error
		op     string
		code   driver.Code
	}{
		{"directory missing", func(t *testing.T, dir string) string { return filepath.Join(dir, "missing", "out") }, nil, "create", driver.NotFound},
		{"directory is a file", func(t *testing.T, dir string) string { return filepath.Join(dir, "old", "out") }, nil, "create", driver.NotFound},
		{"target is a directory", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "sub")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(p, "x"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil, "rename", driver.InvalidArgument},
		{"unwritable directory", nil, map[string]error{"create": syscall.EACCES}, "create", driver.PermissionDenied},
		{"read-only file system", nil, map[string]error{"create": syscall.EROFS}, "create", driver.PermissionDenied},
		{"disk full while writing", nil, map[string]error{"write": syscall.ENOSPC}, "write", driver.Unknown},
		{"fsync fails", nil, map[string]error{"sync": syscall.EIO}, "write", driver.Unknown},
		{"rename fails", nil, map[string]error{"rename": syscall.EIO}, "rename", driver.Unknown},
		{"rename refused", nil, map[string]error{"rename": syscall.EPERM}, "rename", driver.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			oldFile := filepath.Join(dir, "old")
			if err := os.WriteFile(oldFile, []byte(old), 0o640); err != nil {
				t.Fatal(err)
			}
			target := oldFile
			if tt.setup != nil {
				target = tt.setup(t, dir)
			}
			before, _ := os.ReadDir(dir)
			inject = func(op string) error { return tt.inject[op] }
			defer func() { inject = nil }()
			err := WriteFile(target, []byte("NEW=KWCANARY-new-value\n"), nil)
			var we *WriteError
			if !errors.As(err, &we) {
				t.Fatalf("err = %v (%T), want a *WriteError", err, err)
			}
			if we.Op != tt.op || we.Path != target {
				t.Errorf("Op %q Path %q, want %q %q", we.Op, we.Path, tt.op, target)
			}
			if got := Code(err); got != tt.code {
				t.Errorf("Code = %v, want %v (err %v)", got, tt.code, err)
			}
			msg := err.Error()
			if strings.Count(msg, target) != 1 || strings.Contains(msg, TempPrefix) || strings.Contains(msg, "KWCANARY") {
				t.Errorf("message %q: want the target named once, no temporary name, no value", strings.ReplaceAll(msg, "KWCANARY", "[CANARY]"))
			}
			if b, _ := os.ReadFile(oldFile); string(b) != old {
				t.Errorf("old file now %q, want it intact", b)
			}
			after, _ := os.ReadDir(dir)
			if len(after) != len(before) {
				t.Errorf("directory had %d entries, now %d (a temporary file left?)", len(before), len(after))
			}
		})
	}
}

func TestWriteFileIn(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := WriteFileIn(root, "db_password", []byte("s3"), &WriteOptions{Perm: 0o400}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "db_password")
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o400 {
		t.Fatalf("stat %v, %v; want mode 0400", st, err)
	}
	inject = func(op string) error {
		if op == "rename" {
			return syscall.EIO
		}
		return nil
	}
	defer func() { inject = nil }()
	err = WriteFileIn(root, "db_password", []byte("new"), nil)
	var we *WriteError
	if !errors.As(err, &we) || we.Path != p || we.Op != "rename" {
		t.Fatalf("err = %v, want a rename *WriteError for %s", err, p)
	}
	if b, _ := os.ReadFile(p); string(b) != "s3" {
		t.Errorf("content %q after a failed write, want the old one", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries, want 1", len(ents))
	}
}

// TestWriteFileTempPrefix: a caller's own temporary name, and no sweep.
func TestWriteFileTempPrefix(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keyward.age")
	var seen []string
	opts := &WriteOptions{TempPrefix: ".keyward.age.tmp-", Step: func(s string) {
		if s == "temp-created" {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				seen = append(seen, e.Name())
			}
		}
	}}
	if err := WriteFile(p, []byte("x"), opts); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || !strings.HasPrefix(seen[0], ".keyward.age.tmp-") || len(seen[0]) != len(".keyward.age.tmp-")+16 {
		t.Errorf("temporary files %v, want one .keyward.age.tmp-<16 hex>", seen)
	}
}
