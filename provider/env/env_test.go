package env_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/provider/env"
)

// fakeEnv is a private environment, so tests never touch the process's.
type fakeEnv struct {
	mu sync.Mutex
	m  map[string]string
}

func newFakeEnv() *fakeEnv { return &fakeEnv{m: map[string]string{}} }

func (e *fakeEnv) set(k, v string) { e.mu.Lock(); e.m[k] = v; e.mu.Unlock() }
func (e *fakeEnv) lookup(k string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[k]
	return v, ok
}
func (e *fakeEnv) environ() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for k, v := range e.m {
		out = append(out, k+"="+v)
	}
	return out
}

func (e *fakeEnv) driver(prefix string) driver.Store {
	return e.with(&env.Options{Prefix: prefix})
}

// with is a driver over e with opts (LookupEnv and Environ set to e's).
func (e *fakeEnv) with(opts *env.Options) driver.Store {
	opts.LookupEnv, opts.Environ = e.lookup, e.environ
	d, err := env.NewDriver(opts)
	if err != nil {
		panic(err) // NewDriver's error is always nil
	}
	return d
}

// harness seeds the environment directly (viaFile=false) or through the
// KEY_FILE convention: a file in a temporary directory named by KEY_FILE.
type harness struct {
	env     *fakeEnv
	dir     string
	viaFile bool
	n       int
}

func (h *harness) MakeDriver(context.Context) (driver.Store, error) { return h.env.driver("APP_"), nil }
func (h *harness) Seed(_ context.Context, key string, data []byte) error {
	if !h.viaFile {
		h.env.set("APP_"+key, string(data))
		return nil
	}
	h.n++
	p := filepath.Join(h.dir, fmt.Sprintf("%s.%d", strings.ToLower(key), h.n))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return err
	}
	h.env.set("APP_"+key+"_FILE", p)
	return nil
}
func (h *harness) Caps() drivertest.Caps {
	// Environment strings cannot hold NUL; files can hold anything but
	// lose one trailing newline.
	return drivertest.Caps{BinaryValues: h.viaFile, TrimsTrailingNewline: h.viaFile}
}
func (h *harness) Close() {}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		return &harness{env: newFakeEnv()}, nil
	})
}

func TestConformanceViaFile(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		return &harness{env: newFakeEnv(), dir: t.TempDir(), viaFile: true}, nil
	})
}

func TestFileConvention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(write("target", "via-link\n"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	e := newFakeEnv()
	e.set("PLAIN", "plain-value")
	e.set("BOTH", "from-var")
	e.set("BOTH_FILE", write("both", "from-file"))
	e.set("LF_FILE", write("lf", "value\n"))
	e.set("CRLF_FILE", write("crlf", "value\r\n"))
	e.set("TWO_LF_FILE", write("twolf", "value\n\n"))
	e.set("EXACT_FILE", write("exact", "  value  "))
	e.set("EMPTYVAR", "")
	e.set("EMPTYVAR_FILE", write("ev", "ignored"))
	e.set("LINK_FILE", filepath.Join(dir, "link"))
	e.set("MISSING_FILE", filepath.Join(dir, "no-such-file"))
	e.set("DIR_FILE", dir)
	e.set("FIFO_FILE", fifo)
	e.set("DEV_FILE", os.DevNull)
	e.set("BIG_FILE", write("big", strings.Repeat("x", env.DefaultMaxFileSize+1)))
	e.set("MAX_FILE", write("max", strings.Repeat("y", env.DefaultMaxFileSize)))
	e.set("BLANK_FILE", "")
	s := keyward.NewStore(e.driver(""), &keyward.StoreOptions{TTL: -1, Retries: -1, URL: "env://"})

	for _, tc := range []struct {
		key  string
		want string
		code keyward.Code
		msg  string
	}{
		{key: "PLAIN", want: "plain-value"},
		{key: "BOTH", want: "from-var"},
		{key: "LF", want: "value"},
		{key: "CRLF", want: "value"},
		{key: "TWO_LF", want: "value\n"},
		{key: "EXACT", want: "  value  "},
		{key: "EMPTYVAR", want: ""},
		{key: "LINK", want: "via-link"},
		{key: "MAX", want: strings.Repeat("y", env.DefaultMaxFileSize)},
		{key: "NOPE", code: keyward.NotFound, msg: "NOPE is not set (nor is NOPE_FILE)"},
		{key: "BLANK", code: keyward.NotFound, msg: "BLANK is not set"},
		{key: "MISSING", code: keyward.NotFound, msg: "MISSING_FILE names " + filepath.Join(dir, "no-such-file") + ", which does not exist"},
		{key: "DIR", code: keyward.InvalidArgument, msg: "which is a directory, not a regular file"},
		{key: "FIFO", code: keyward.InvalidArgument, msg: "which is a FIFO, not a regular file"},
		{key: "DEV", code: keyward.InvalidArgument, msg: "which is a device, not a regular file"},
		{key: "BIG", code: keyward.InvalidArgument, msg: "larger than the 1 MiB limit"},
		{key: "A=B", code: keyward.InvalidArgument},
	} {
		t.Run(tc.key, func(t *testing.T) {
			v, err := s.Get(ctx, tc.key)
			if tc.code != keyward.OK {
				if got := keyward.ErrorCode(err); got != tc.code {
					t.Fatalf("code %v (%v), want %v", got, err, tc.code)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not say %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.RevealString() != tc.want {
				t.Fatalf("value has %d bytes, want %d", v.Len(), len(tc.want))
			}
		})
	}
}

func TestListFoldsFileVariables(t *testing.T) {
	e := newFakeEnv()
	e.set("APP_A", "1")
	e.set("APP_B_FILE", "/run/secrets/b")
	e.set("APP_C", "3")
	e.set("APP_C_FILE", "/run/secrets/c")
	e.set("APP_EMPTY_FILE", "")
	e.set("OTHER", "x")
	infos, err := e.driver("APP_").(driver.Lister).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ki := range infos {
		got = append(got, ki.Key)
	}
	if strings.Join(got, ",") != "A,B,C,EMPTY_FILE" {
		t.Fatalf("List = %v", got)
	}
}

func TestVersionUnimplemented(t *testing.T) {
	e := newFakeEnv()
	e.set("K", "v")
	s := keyward.NewStore(e.driver(""), nil)
	_, err := s.GetValue(context.Background(), "K", &keyward.GetOptions{Version: "2"})
	if !errors.Is(err, keyward.ErrUnimplemented) {
		t.Fatalf("Get with a version: %v", err)
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	t.Setenv("KWTEST_ENV_PREFIX_TOKEN", "from-real-env")
	s, err := keyward.Open(ctx, "env://?prefix=KWTEST_ENV_PREFIX_")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(ctx, "TOKEN")
	if err != nil || v.RevealString() != "from-real-env" {
		t.Fatalf("Get through env://?prefix=: %v", err)
	}
	for _, bad := range []string{"env://host", "env:///path", "env://?nope=1"} {
		if _, err := keyward.Open(ctx, bad); keyward.ErrorCode(err) != keyward.InvalidArgument {
			t.Errorf("Open(%s): %v, want InvalidArgument", bad, err)
		}
	}
}

// A planted value must not appear in any error, even when the file is too
// big or the wrong kind.
func TestNoValueInErrors(t *testing.T) {
	const c = "KWCANARYenv4242"
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat(c, 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newFakeEnv()
	e.set("BIG_FILE", big)
	e.set("PLAIN", c)
	d := e.with(&env.Options{MaxFileSize: 10})
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1})
	ctx := context.Background()
	_, err1 := s.Get(ctx, "BIG")
	_, err2 := s.GetValue(ctx, "PLAIN", &keyward.GetOptions{Version: "1"})
	_, err3 := s.Put(ctx, "PLAIN", keyward.NewSecretString(c), nil)
	for i, err := range []error{err1, err2, err3} {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), c) {
			t.Fatalf("case %d: error carries the value", i)
		}
	}
}

// Without a prefix, env:// lists only declared keys and keys asked for by
// name, when they are set: the process environment is not a set of secrets.
func TestListOnlyDeclaredOrRequested(t *testing.T) {
	e := newFakeEnv()
	e.set("HOME", "/home/dev")
	e.set("PATH", "/usr/bin")
	e.set("SSL_CERT_FILE", "/etc/ssl/ca.pem")
	e.set("UNRELATED_FILE", "/does/not/exist")
	e.set("JWT_SECRET_KEY", "jwt")
	e.set("DB_PASSWORD_FILE", "/run/secrets/db")
	e.set("ASKED", "a")
	ctx := context.Background()
	list := func(d driver.Store) string {
		t.Helper()
		infos, err := d.(driver.Lister).List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ki := range infos {
			got = append(got, ki.Key)
		}
		return strings.Join(got, ",")
	}
	for _, tc := range []struct {
		name string
		keys []string
		get  []string
		want string
	}{
		{"nothing declared", nil, nil, ""},
		{"declared", []string{"JWT_SECRET_KEY", "DB_PASSWORD", "NOT_SET"}, nil, "DB_PASSWORD,JWT_SECRET_KEY"},
		{"requested", nil, []string{"ASKED", "MISSING"}, "ASKED"},
		{"both", []string{"JWT_SECRET_KEY"}, []string{"ASKED"}, "ASKED,JWT_SECRET_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := e.with(&env.Options{Keys: tc.keys})
			for _, k := range tc.get {
				_, _ = d.Get(ctx, k, "")
			}
			if got := list(d); got != tc.want {
				t.Fatalf("List = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOpenURLDeclaredKeys(t *testing.T) {
	t.Setenv("KWTEST_DECL_A", "a")
	t.Setenv("KWTEST_DECL_B", "b")
	ctx := context.Background()
	for _, tc := range []struct {
		ctx  context.Context
		url  string
		want string
	}{
		{ctx, "env://?keys=KWTEST_DECL_A", "KWTEST_DECL_A"},
		{keyward.WithDeclaredKeys(ctx, []string{"KWTEST_DECL_B"}), "env://", "KWTEST_DECL_B"},
		{keyward.WithDeclaredKeys(ctx, []string{"KWTEST_DECL_B"}), "env://?keys=KWTEST_DECL_A", "KWTEST_DECL_A,KWTEST_DECL_B"},
	} {
		s, err := keyward.DefaultURLMux().OpenStore(tc.ctx, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		infos, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ki := range infos {
			got = append(got, ki.Key)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: List = %v, want %s", tc.url, got, tc.want)
		}
		s.Close()
	}
}
