package file_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/provider/file"
)

// harness seeds by writing files atomically, as a platform updating a
// mounted secret would; with trim it adds the newline an editor would.
type harness struct {
	dir  string
	trim bool
}

func (h *harness) MakeDriver(context.Context) (driver.Store, error) {
	return file.NewDriver(h.dir, &file.Options{TrimNewline: h.trim})
}
func (h *harness) Seed(_ context.Context, key string, data []byte) error {
	if h.trim {
		data = append(append([]byte(nil), data...), '\n')
	}
	tmp := filepath.Join(h.dir, ".tmp-"+key)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(h.dir, key))
}
func (h *harness) Caps() drivertest.Caps {
	return drivertest.Caps{BinaryValues: true, TrimsTrailingNewline: h.trim}
}
func (h *harness) Close() {}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		return &harness{dir: t.TempDir()}, nil
	})
}

func TestConformanceTrimNewline(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		return &harness{dir: t.TempDir(), trim: true}, nil
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// kubeVolume lays out dir the way the kubelet mounts a Secret:
// KEY -> ..data/KEY, ..data -> ..2026_01_01_00_00_00.000000001/.
func kubeVolume(t *testing.T, dir string, data map[string]string) {
	ts := "..2026_01_01_00_00_00.000000001"
	must(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
	for k, v := range data {
		must(t, os.WriteFile(filepath.Join(dir, ts, k), []byte(v), 0o644))
		must(t, os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)))
	}
	must(t, os.Symlink(ts, filepath.Join(dir, "..data")))
}

func TestKubernetesSecretVolume(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kubeVolume(t, dir, map[string]string{"jwt-secret": "jwt-value", "db-password": "no-newline-at-end\n"})
	s, err := keyward.Open(ctx, "file://"+dir)
	must(t, err)
	v, err := s.Get(ctx, "jwt-secret")
	must(t, err)
	if v.RevealString() != "jwt-value" {
		t.Fatalf("jwt-secret: %d bytes", v.Len())
	}
	v, err = s.Get(ctx, "db-password")
	must(t, err)
	if v.RevealString() != "no-newline-at-end\n" {
		t.Fatalf("exact bytes by default: got %d bytes", v.Len())
	}
	infos, err := s.List(ctx)
	must(t, err)
	var keys []string
	for _, ki := range infos {
		keys = append(keys, ki.Key)
	}
	if !slices.Equal(keys, []string{"db-password", "jwt-secret"}) {
		t.Fatalf("List = %v, want only the two keys (no ..data, no timestamp dir)", keys)
	}
	_, err = s.Get(ctx, "..data")
	if keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("Get(..data): %v", err)
	}
	trimmed, err := keyward.Open(ctx, "file://"+dir+"?trim=newline")
	must(t, err)
	v, err = trimmed.Get(ctx, "db-password")
	must(t, err)
	if v.RevealString() != "no-newline-at-end" {
		t.Fatalf("trim=newline: got %d bytes", v.Len())
	}
}

func TestSymlinkEscapeRefused(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	dir := filepath.Join(base, "secrets")
	outside := filepath.Join(base, "outside")
	must(t, os.Mkdir(dir, 0o755))
	must(t, os.Mkdir(outside, 0o755))
	const c = "KWCANARYoutside99"
	must(t, os.WriteFile(filepath.Join(outside, "target"), []byte(c), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "inside"), []byte("inside-value"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	// Every way out: relative, absolute, through a chain, and an absolute
	// link that points back inside (absolute links are refused outright).
	must(t, os.Symlink("../outside/target", filepath.Join(dir, "relative")))
	must(t, os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, "absolute")))
	must(t, os.Symlink("sub/../../outside/target", filepath.Join(dir, "dotdot")))
	must(t, os.Symlink("hop", filepath.Join(dir, "chain")))
	must(t, os.Symlink("../outside", filepath.Join(dir, "hopdir")))
	must(t, os.Symlink("hopdir/target", filepath.Join(dir, "hop")))
	must(t, os.Symlink(filepath.Join(dir, "inside"), filepath.Join(dir, "absinside")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")))
	must(t, os.Symlink("inside", filepath.Join(dir, "ok-link")))

	d, err := file.NewDriver(dir, nil)
	must(t, err)
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1})
	for _, k := range []string{"relative", "absolute", "dotdot", "chain", "hop", "absinside", "passwd"} {
		v, err := s.Get(ctx, k)
		if err == nil {
			t.Fatalf("Get(%s) followed a symlink out of the directory (%d bytes)", k, v.Len())
		}
		if keyward.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), "leads outside") {
			t.Fatalf("Get(%s): %v, want PermissionDenied naming the escape", k, err)
		}
		if strings.Contains(err.Error(), c) {
			t.Fatalf("Get(%s): error carries the target's content", k)
		}
	}
	v, err := s.Get(ctx, "ok-link")
	if err != nil || v.RevealString() != "inside-value" {
		t.Fatalf("a symlink inside the directory: %v", err)
	}
	infos, err := s.List(ctx)
	must(t, err)
	var keys []string
	for _, ki := range infos {
		keys = append(keys, ki.Key)
	}
	if !slices.Equal(keys, []string{"inside", "ok-link"}) {
		t.Fatalf("List = %v, want only inside and ok-link", keys)
	}
}

func TestSpecialFilesAndLimits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(t, os.Mkdir(filepath.Join(dir, "subdir"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "big"), make([]byte, 101), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "max"), make([]byte, 100), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, ".hidden"), []byte("h"), 0o600))
	must(t, os.Symlink("fifo", filepath.Join(dir, "fifo-link")))
	must(t, os.Symlink("loop-b", filepath.Join(dir, "loop-a")))
	must(t, os.Symlink("loop-a", filepath.Join(dir, "loop-b")))
	d, err := file.NewDriver(dir, &file.Options{MaxSize: 100})
	must(t, err)
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1})
	for _, tc := range []struct {
		key  string
		code keyward.Code
		msg  string
	}{
		{"fifo", keyward.InvalidArgument, "is a FIFO, not a secret file"},
		{"fifo-link", keyward.InvalidArgument, "is a FIFO"},
		{"subdir", keyward.InvalidArgument, "is a directory"},
		{"loop-a", keyward.InvalidArgument, "is a symlink loop"},
		{"big", keyward.InvalidArgument, "larger than the 100-byte limit"},
		{"missing", keyward.NotFound, filepath.Join(dir, "missing") + " does not exist"},
		{".hidden", keyward.InvalidArgument, "starts with '.'"},
		{"../etc/passwd", keyward.InvalidArgument, "not a file name"},
		{"a/b", keyward.InvalidArgument, "not a file name"},
	} {
		_, err := s.Get(ctx, tc.key)
		if keyward.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Get(%s): %v, want %v saying %q", tc.key, err, tc.code, tc.msg)
		}
	}
	if v, err := s.Get(ctx, "max"); err != nil || v.Len() != 100 {
		t.Errorf("a file at the limit: %v", err)
	}
	infos, err := s.List(ctx)
	must(t, err)
	var keys []string
	for _, ki := range infos {
		keys = append(keys, ki.Key)
	}
	if !slices.Equal(keys, []string{"big", "max"}) {
		t.Errorf("List = %v, want the regular files only", keys)
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	must(t, os.Mkdir("secrets", 0o755))
	must(t, os.WriteFile("secrets/token", []byte("t\n"), 0o600))
	for _, u := range []string{"file://./secrets", "file://secrets", "file://" + filepath.Join(dir, "secrets")} {
		s, err := keyward.Open(ctx, u)
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		if v, err := s.Get(ctx, "token"); err != nil || v.Len() != 2 {
			t.Fatalf("Open(%s).Get: %v", u, err)
		}
	}
	for u, code := range map[string]keyward.Code{
		"file://./nope":              keyward.NotFound,
		"file://./secrets/token":     keyward.InvalidArgument,
		"file://./secrets?trim=both": keyward.InvalidArgument,
		"file://./secrets?x=1":       keyward.InvalidArgument,
	} {
		if _, err := keyward.Open(ctx, u); keyward.ErrorCode(err) != code {
			t.Errorf("Open(%s): %v, want %v", u, err, code)
		}
	}
	s, err := keyward.Open(ctx, "file://./secrets")
	must(t, err)
	_, err = s.GetValue(ctx, "token", &keyward.GetOptions{Version: "1"})
	if !errors.Is(err, keyward.ErrUnimplemented) {
		t.Errorf("Get with a version: %v", err)
	}
	_, err = s.Put(ctx, "token", keyward.NewSecretString("x"), nil)
	if !errors.Is(err, keyward.ErrUnimplemented) {
		t.Errorf("Put: %v", err)
	}
}
