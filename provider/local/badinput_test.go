package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/local"
)

const canary = "KWCANARY-local-badinput-7f3a9c"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// seeded returns a store file holding a canary and a second key.
func seeded(t *testing.T) (string, *local.Identity) {
	t.Helper()
	id := newIdentity(t)
	path := filepath.Join(t.TempDir(), "keyward.age")
	s, err := local.OpenStore(path, &local.Options{Identity: id}, &keyward.StoreOptions{TTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, kv := range [][2]string{{"CANARY", canary}, {"OTHER", "other-value"}} {
		if _, err := s.Put(ctx, kv[0], keyward.NewSecretString(kv[1]), nil); err != nil {
			t.Fatal(err)
		}
	}
	return path, id
}

func noCanary(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(fmt.Sprintf("%v %+v %#v %s", err, err, err, local.Hint(err)), canary) {
		t.Fatalf("an error carries the secret value")
	}
}

func TestMissingStoreFile(t *testing.T) {
	ctx := context.Background()
	id := newIdentity(t)
	path := filepath.Join(t.TempDir(), "sub", "keyward.age")
	s, _ := local.OpenStore(path, &local.Options{Identity: id}, &keyward.StoreOptions{TTL: -1})
	_, err := s.Get(ctx, "K")
	if !errors.Is(err, keyward.ErrNotFound) || !strings.Contains(err.Error(), path) || !strings.Contains(local.Hint(err), "keyward init") {
		t.Fatalf("Get from a missing store: want NotFound naming %s with a 'keyward init' hint, got %v (hint %q)", path, err, local.Hint(err))
	}
	if _, err := s.List(ctx); !errors.Is(err, keyward.ErrNotFound) {
		t.Fatalf("List of a missing store: %v", err)
	}
	if err := s.Delete(ctx, "K"); !errors.Is(err, keyward.ErrNotFound) {
		t.Fatalf("Delete in a missing store: %v", err)
	}
	// The first Put creates the store, encrypted to the identity.
	if _, err := s.Put(ctx, "K", keyward.NewSecretString("v"), nil); err != nil {
		t.Fatal(err)
	}
	rs, err := local.Recipients(path)
	if err != nil || !slices.Equal(rs, id.Recipients) {
		t.Fatalf("the new store's recipients are %v (%v), want the identity's %v", rs, err, id.Recipients)
	}
	if fi, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("store file mode: %v %v", fi.Mode(), err)
	}
}

// TestDamagedFiles truncates the file at many points and flips one bit at
// every byte: each read must fail with a code naming the file — or, if the
// change was harmless (line endings), read exactly the old content. A write
// to a damaged file fails and leaves it byte for byte as it was.
func TestDamagedFiles(t *testing.T) {
	ctx := context.Background()
	path, id := seeded(t)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checks := 0
	check := func(what string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d, _ := local.NewDriver(path, &local.Options{Identity: id})
		v, err := d.Get(ctx, "CANARY", "")
		noCanary(t, err)
		if err == nil {
			if string(v.Data) != canary {
				t.Fatalf("%s: the damaged file was read as a different value", what)
			}
			return
		}
		if c := d.ErrorCode(err); c != driver.FailedPrecondition && c != driver.InvalidArgument && c != driver.PermissionDenied {
			t.Fatalf("%s: code %v (%v), want FailedPrecondition or InvalidArgument", what, c, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("%s: the error does not name the file: %v", what, err)
		}
		if checks++; checks%5 != 0 {
			return // writes are checked on a sample, to keep the test quick
		}
		_, perr := d.(driver.Writer).Put(ctx, "NEW", []byte("x"), nil)
		if perr == nil {
			t.Fatalf("%s: a write to a damaged store succeeded", what)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
			t.Fatalf("%s: a failed write changed the file", what)
		}
	}
	for n := 0; n < len(orig); n += 1 + n/8 {
		check(fmt.Sprintf("truncated to %d bytes", n), orig[:n])
	}
	for i := range orig {
		b := bytes.Clone(orig)
		b[i] ^= 1 << (i % 8)
		check(fmt.Sprintf("bit %d of byte %d flipped", i%8, i), b)
	}
}

func TestOtherIdentity(t *testing.T) {
	path, _ := seeded(t)
	other := newIdentity(t)
	d, _ := local.NewDriver(path, &local.Options{Identity: other})
	_, err := d.Get(context.Background(), "CANARY", "")
	noCanary(t, err)
	if d.ErrorCode(err) != driver.PermissionDenied || !strings.Contains(err.Error(), "not encrypted to your identity") ||
		!strings.Contains(local.Hint(err), "--add-recipient "+other.Recipients[0]) {
		t.Fatalf("wrong identity: got %v (hint %q)", err, local.Hint(err))
	}
}

func TestIdentityResolution(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) (string, string) {
		i, _ := local.GenerateIdentity()
		p := filepath.Join(dir, name)
		if err := local.WriteIdentityFile(p, i); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p, i.Recipient().String()
	}
	fileA, recA := write("a.txt", 0o600)
	fileB, recB := write("b.txt", 0o600)
	inline, _ := local.GenerateIdentity()
	xdg := filepath.Join(dir, "xdg")
	if err := os.MkdirAll(filepath.Join(xdg, "keyward"), 0o700); err != nil {
		t.Fatal(err)
	}
	defID, _ := local.GenerateIdentity()
	if err := local.WriteIdentityFile(filepath.Join(xdg, "keyward", "identity.txt"), defID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"inline wins", map[string]string{local.EnvIdentity: inline.String(), local.EnvIdentityFile: fileA, "XDG_CONFIG_HOME": xdg}, inline.Recipient().String()},
		{"file next", map[string]string{local.EnvIdentityFile: fileA, "XDG_CONFIG_HOME": xdg}, recA},
		{"default last", map[string]string{"XDG_CONFIG_HOME": xdg}, defID.Recipient().String()},
		{"blank inline ignored", map[string]string{local.EnvIdentity: "  ", local.EnvIdentityFile: fileB}, recB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := local.LoadIdentity(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if len(id.Recipients) != 1 || id.Recipients[0] != tc.want {
				t.Fatalf("loaded %v, want %s", id.Recipients, tc.want)
			}
			if strings.Contains(id.String(), "AGE-SECRET-KEY") {
				t.Fatalf("Identity.String prints key material")
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		_, err := local.LoadIdentity(env(map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "none")}))
		want := filepath.Join(dir, "none", "keyward", "identity.txt")
		if local.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), local.EnvIdentity) || !strings.Contains(local.Hint(err), "keyward init") {
			t.Fatalf("missing identity: got %v (hint %q)", err, local.Hint(err))
		}
	})
	t.Run("missing file named by env", func(t *testing.T) {
		_, err := local.LoadIdentity(env(map[string]string{local.EnvIdentityFile: filepath.Join(dir, "nope.txt")}))
		if local.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), "nope.txt") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("world-readable", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no Unix permission bits")
		}
		p, _ := write("open.txt", 0o644)
		_, err := local.LoadIdentity(env(map[string]string{local.EnvIdentityFile: p}))
		if local.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), p) || local.Hint(err) != "chmod 600 "+p {
			t.Fatalf("world-readable identity: got %v (hint %q)", err, local.Hint(err))
		}
		if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
			t.Fatalf("error carries key material")
		}
	})
	t.Run("garbage inline", func(t *testing.T) {
		const bad = "AGE-SECRET-KEY-1THISISNOTAVALIDKEYBUTCOULDBEHALFONE"
		_, err := local.LoadIdentity(env(map[string]string{local.EnvIdentity: bad}))
		if local.ErrorCode(err) != keyward.InvalidArgument || strings.Contains(err.Error(), bad) {
			t.Fatalf("malformed identity: got %v", err)
		}
	})
	t.Run("default path", func(t *testing.T) {
		p, _ := local.IdentityPath(env(map[string]string{"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/u"}), "")
		if p != filepath.Join("/x/cfg", "keyward", "identity.txt") {
			t.Fatalf("with XDG_CONFIG_HOME: %s", p)
		}
		p, _ = local.IdentityPath(env(map[string]string{"HOME": "/home/u"}), "")
		if p != filepath.Join("/home/u", ".config", "keyward", "identity.txt") {
			t.Fatalf("with HOME: %s", p)
		}
		if _, err := local.IdentityPath(env(nil), ""); err == nil {
			t.Fatalf("no HOME: want an error")
		}
	})
	t.Run("never overwrite", func(t *testing.T) {
		i, _ := local.GenerateIdentity()
		before, _ := os.ReadFile(fileA)
		err := local.WriteIdentityFile(fileA, i)
		if local.ErrorCode(err) != keyward.AlreadyExists {
			t.Fatalf("overwriting an identity: got %v", err)
		}
		if after, _ := os.ReadFile(fileA); !bytes.Equal(before, after) {
			t.Fatalf("the identity file changed")
		}
		if fi, _ := os.Stat(fileA); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Fatalf("identity mode %v", fi.Mode())
		}
	})
}

func TestURLs(t *testing.T) {
	for _, tc := range []struct {
		url, path, identity string
		bad                 bool
	}{
		{url: "local://keyward.age", path: "keyward.age"},
		{url: "local://./secrets/production.age", path: "./secrets/production.age"},
		{url: "local:///abs/path.age", path: "/abs/path.age"},
		{url: "local://secrets/dev.age?identity=/tmp/id.txt", path: "secrets/dev.age", identity: "/tmp/id.txt"},
		{url: "local://", bad: true},
		{url: "local://x.age?mode=1", bad: true},
		{url: "local://user@x.age", bad: true},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		p, id, err := local.PathFromURL(u)
		if tc.bad {
			if local.ErrorCode(err) != keyward.InvalidArgument {
				t.Errorf("%s: want InvalidArgument, got %v", tc.url, err)
			}
			continue
		}
		if err != nil || p != filepath.FromSlash(tc.path) || id != tc.identity {
			t.Errorf("%s: got %q %q %v", tc.url, p, id, err)
		}
	}
}

func TestOpenURLWithIdentityParam(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	i, _ := local.GenerateIdentity()
	idPath := filepath.Join(dir, "id.txt")
	if err := local.WriteIdentityFile(idPath, i); err != nil {
		t.Fatal(err)
	}
	t.Setenv(local.EnvIdentity, "")
	t.Setenv(local.EnvIdentityFile, filepath.Join(dir, "missing.txt"))
	s, err := keyward.Open(ctx, "local://"+filepath.ToSlash(filepath.Join(dir, "s.age"))+"?identity="+url.QueryEscape(idPath))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(ctx, "K", keyward.NewSecretString("v"), nil); err != nil {
		t.Fatalf("Put with identity= in the URL: %v", err)
	}
	rs, _ := local.Recipients(filepath.Join(dir, "s.age"))
	if !slices.Equal(rs, []string{i.Recipient().String()}) {
		t.Fatalf("store encrypted to %v", rs)
	}
}

func TestCreateAndRecipients(t *testing.T) {
	ctx := context.Background()
	a, b := newIdentity(t), newIdentity(t)
	path := filepath.Join(t.TempDir(), "team.age")
	if err := local.Create(ctx, path, a.Recipients, false); err != nil {
		t.Fatal(err)
	}
	sa, _ := local.OpenStore(path, &local.Options{Identity: a}, &keyward.StoreOptions{TTL: -1})
	if _, err := sa.Put(ctx, "SHARED", keyward.NewSecretString(canary), &keyward.PutOptions{Meta: map[string]string{"owner": "a"}}); err != nil {
		t.Fatal(err)
	}
	if err := local.Create(ctx, path, a.Recipients, false); local.ErrorCode(err) != keyward.AlreadyExists {
		t.Fatalf("Create over an existing store: %v", err)
	}
	sb, _ := local.OpenStore(path, &local.Options{Identity: b}, &keyward.StoreOptions{TTL: -1})
	if _, err := sb.Get(ctx, "SHARED"); !errors.Is(err, keyward.ErrPermissionDenied) {
		t.Fatalf("b before being added: %v", err)
	}
	if added, err := local.AddRecipient(ctx, path, a, b.Recipients[0]); err != nil || !added {
		t.Fatalf("AddRecipient: %v %v", added, err)
	}
	if added, err := local.AddRecipient(ctx, path, a, b.Recipients[0]); err != nil || added {
		t.Fatalf("AddRecipient twice: %v %v", added, err)
	}
	if rs, _ := local.Recipients(path); !slices.Equal(rs, []string{a.Recipients[0], b.Recipients[0]}) {
		t.Fatalf("recipients %v", rs)
	}
	v, err := sb.GetValue(ctx, "SHARED", nil)
	if err != nil || v.Secret.RevealString() != canary {
		t.Fatalf("b after being added: %v", err)
	}
	if v.Version.Meta["owner"] != "a" {
		t.Fatalf("Put's Meta was not kept: %v", v.Version.Meta)
	}
	// b writes; a reads b's write: both are members.
	if _, err := sb.Put(ctx, "FROM_B", keyward.NewSecretString("b-value"), nil); err != nil {
		t.Fatal(err)
	}
	if s, err := sa.Get(ctx, "FROM_B"); err != nil || s.RevealString() != "b-value" {
		t.Fatalf("a reading b's write: %v", err)
	}
	if _, err := local.AddRecipient(ctx, path, a, "age1notarecipient"); local.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("bad recipient: %v", err)
	}
	if removed, err := local.RemoveRecipient(ctx, path, a, b.Recipients[0]); err != nil || !removed {
		t.Fatalf("RemoveRecipient: %v %v", removed, err)
	}
	if _, err := sb.Get(ctx, "SHARED"); !errors.Is(err, keyward.ErrPermissionDenied) {
		t.Fatalf("b after being removed: %v", err)
	}
	if _, err := local.RemoveRecipient(ctx, path, a, a.Recipients[0]); local.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("removing the last recipient: %v", err)
	}
	if err := local.Create(ctx, path, a.Recipients, true); err != nil {
		t.Fatalf("Create with force: %v", err)
	}
	if _, err := sa.Get(ctx, "SHARED"); !errors.Is(err, keyward.ErrNotFound) {
		t.Fatalf("after a forced Create the store must be empty: %v", err)
	}
}

func TestPutRejectsBadKeys(t *testing.T) {
	id := newIdentity(t)
	d, _ := local.NewDriver(filepath.Join(t.TempDir(), "k.age"), &local.Options{Identity: id})
	for _, k := range []string{"", "a\x00b", "bad\xffutf8", "line\nbreak", strings.Repeat("k", 600)} {
		if _, err := d.(driver.Writer).Put(context.Background(), k, []byte("v"), nil); d.ErrorCode(err) != driver.InvalidArgument {
			t.Errorf("Put(%q): %v", k, err)
		}
	}
}
