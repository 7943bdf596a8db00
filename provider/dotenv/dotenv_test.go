package dotenv_test

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
	dotenvfmt "github.com/keyward/keyward/internal/dotenv"
	"github.com/keyward/keyward/provider/dotenv"
)

func noEnv(string) (string, bool) { return "", false }

// harness seeds by rewriting the .env file (atomically) with Marshal.
type harness struct {
	mu   sync.Mutex
	path string
	m    map[string]string
}

func (h *harness) MakeDriver(context.Context) (driver.Store, error) {
	return dotenv.NewDriver(h.path, &dotenv.Options{LookupEnv: noEnv})
}
func (h *harness) Seed(_ context.Context, key string, data []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m[key] = string(data)
	text, err := dotenvfmt.Marshal(h.m)
	if err != nil {
		return err
	}
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, text, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, h.path)
}
func (h *harness) Caps() drivertest.Caps { return drivertest.Caps{} } // text only
func (h *harness) Close()                {}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		h := &harness{path: filepath.Join(t.TempDir(), ".env"), m: map[string]string{}}
		return h, os.WriteFile(h.path, []byte("# seeded by the harness\n"), 0o600)
	})
}

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestComposeSemantics(t *testing.T) {
	p := write(t, "# app settings\r\n"+
		"export DB_USER=app\r\n"+
		"DB_PASSWORD='p@ss w0rd $notvar'\r\n"+
		"DATABASE_URL=postgres://${DB_USER}@db:5432/app # comment\r\n"+
		"TLS_KEY=\"-----BEGIN TEST KEY-----\nAAAA\n-----END TEST KEY-----\"\r\n"+
		"HOST_FROM_ENV=\"${KW_HOST:-localhost}\"\r\n"+
		"DB_USER=override\r\n")
	env := map[string]string{"KW_HOST": "db.internal"}
	s := openStore(t, p, &dotenv.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	ctx := context.Background()
	for k, want := range map[string]string{
		"DB_USER":       "override",
		"DB_PASSWORD":   "p@ss w0rd $notvar",
		"DATABASE_URL":  "postgres://app@db:5432/app",
		"TLS_KEY":       "-----BEGIN TEST KEY-----\nAAAA\n-----END TEST KEY-----",
		"HOST_FROM_ENV": "db.internal",
	} {
		v, err := s.Get(ctx, k)
		if err != nil {
			t.Fatalf("Get(%s): %v", k, err)
		}
		if v.RevealString() != want {
			t.Errorf("Get(%s): %d bytes, want %d", k, v.Len(), len(want))
		}
	}
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 5 {
		t.Fatalf("List: %d keys, %v", len(infos), err)
	}
	noInterp := openStore(t, p, &dotenv.Options{NoInterpolate: true, LookupEnv: noEnv})
	if v, err := noInterp.Get(ctx, "DATABASE_URL"); err != nil || v.RevealString() != "postgres://${DB_USER}@db:5432/app" {
		t.Fatalf("interpolate=false: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	const c = "KWCANARYdotenvprov"
	ctx := context.Background()
	for _, tc := range []struct{ in, want string }{
		{"A=1\nB=\"" + c + "\n", ":2:3: unterminated quoted value"},
		{"A=" + c + "\x00\n", ":1:" + fmt.Sprint(3+len(c)) + ": NUL byte"},
		{"A=1\n\nB=" + c + "\xfe\n", ":3:" + fmt.Sprint(3+len(c)) + ": invalid UTF-8"},
		{"A=" + strings.Repeat(c, 1<<20/len(c)) + "\n", ":1:131073: line is longer than 131072 bytes"},
		{"A=1\n" + c + " is not a statement\n", ":2:19: key contains a space"},
	} {
		p := write(t, tc.in)
		s := openStore(t, p, &dotenv.Options{LookupEnv: noEnv})
		_, err := s.Get(ctx, "A")
		if keyward.ErrorCode(err) != keyward.InvalidArgument {
			t.Fatalf("code %v, want InvalidArgument", keyward.ErrorCode(err))
		}
		if !strings.Contains(err.Error(), p+tc.want) {
			t.Errorf("error %q does not name %s", err, "file"+tc.want)
		}
		if strings.Contains(err.Error(), c) {
			t.Errorf("error for %q carries file content", tc.want)
		}
		var se *dotenvfmt.SyntaxError
		if !errors.As(err, &se) || se.File != p {
			t.Errorf("error does not unwrap to a SyntaxError naming the file")
		}
	}
}

func TestMissingAndSpecialFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, err := keyward.Open(ctx, "dotenv://"+filepath.Join(dir, "nope.env"))
	if keyward.ErrorCode(err) != keyward.NotFound || !strings.Contains(err.Error(), "nope.env does not exist") {
		t.Fatalf("open of a missing file: %v", err)
	}
	// The file disappearing after open is NotFound too, naming the file.
	p := write(t, "A=1\n")
	s, err := keyward.Open(ctx, "dotenv://"+p+"?cache_ttl=0")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	if _, err := s.Get(ctx, "A"); keyward.ErrorCode(err) != keyward.NotFound || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Get after removal: %v", err)
	}
	// A directory, and a FIFO (which must not block the reader), are refused.
	fifo := filepath.Join(dir, "fifo.env")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, fifo} {
		sd := openStore(t, p, nil)
		if _, err := sd.Get(ctx, "A"); keyward.ErrorCode(err) != keyward.InvalidArgument || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Get from %s: %v", filepath.Base(p), err)
		}
	}
}

func TestOpenURLForms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll("config", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{".env", "config/app.env"} {
		if err := os.WriteFile(f, []byte("WHICH="+strings.ReplaceAll(f, "/", "_")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for u, want := range map[string]string{
		"dotenv://.env":                                    ".env",
		"dotenv://./config/app.env":                        "config_app.env",
		"dotenv://config/app.env":                          "config_app.env",
		"dotenv://" + filepath.Join(dir, "config/app.env"): "config_app.env",
	} {
		s, err := keyward.Open(ctx, u)
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		v, err := s.Get(ctx, "WHICH")
		if err != nil || v.RevealString() != want {
			t.Fatalf("Open(%s) read the wrong file: %v", u, err)
		}
	}
	for _, bad := range []string{"dotenv://", "dotenv://.env?interpolate=maybe", "dotenv://.env?x=1"} {
		if _, err := keyward.Open(ctx, bad); keyward.ErrorCode(err) != keyward.InvalidArgument {
			t.Errorf("Open(%s): %v, want InvalidArgument", bad, err)
		}
	}
}

func TestVersionUnimplemented(t *testing.T) {
	s := openStore(t, write(t, "A=1\n"), nil)
	_, err := s.GetValue(context.Background(), "A", &keyward.GetOptions{Version: "1"})
	if !errors.Is(err, keyward.ErrUnimplemented) {
		t.Fatalf("Get with a version: %v", err)
	}
}

func openStore(t *testing.T, path string, opts *dotenv.Options) *keyward.Store {
	t.Helper()
	s, err := dotenv.OpenStore(path, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
