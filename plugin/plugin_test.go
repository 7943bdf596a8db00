package plugin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation/rotationtest"
)

// The test binary doubles as a plugin program: with KEYWARD_PLUGIN_TEST
// set it serves mem:// stores (or misbehaves as told) instead of testing.
func TestMain(m *testing.M) {
	switch os.Getenv("KEYWARD_PLUGIN_TEST") {
	case "serve":
		plugin.Main(plugin.ServeOptions{Name: "mem", Version: "test", Open: openMem, Actions: map[string]plugin.ActionFunc{
			"mem.echo-length": func(ctx context.Context, in json.RawMessage) (any, error) {
				var v struct{ Data []byte }
				if err := json.Unmarshal(in, &v); err != nil {
					return nil, err
				}
				return map[string]int{"length": len(v.Data)}, nil
			},
		}})
	case "crash-on-get":
		plugin.Main(plugin.ServeOptions{Name: "mem", Open: func(ctx context.Context, u *url.URL) (driver.Store, error) {
			return crashOnGet{}, nil
		}})
	case "leak-stderr":
		plugin.Main(plugin.ServeOptions{Name: "mem", Open: func(ctx context.Context, u *url.URL) (driver.Store, error) {
			d, err := openMem(ctx, u)
			return leaky{d}, err
		}})
	case "protocol-2":
		// Answers hello with another protocol version.
		var req plugin.Request
		_ = json.NewDecoder(os.Stdin).Decode(&req)
		fmt.Printf(`{"id":%d,"result":{"protocol":2,"name":"mem"}}`+"\n", req.ID)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var backends = map[string]*mem.Backend{}

func openMem(ctx context.Context, u *url.URL) (driver.Store, error) {
	b := backends[u.Host]
	if b == nil {
		b = mem.NewBackend()
		backends[u.Host] = b
	}
	return b.Driver(), nil
}

// leaky prints every value it is given to stderr: a buggy plugin.
type leaky struct{ driver.Store }

func (l leaky) Put(ctx context.Context, key string, data []byte, o *driver.PutOptions) (driver.Version, error) {
	fmt.Fprintf(os.Stderr, "debug: writing %s=%s (base64 %s)\n", key, data, base64.StdEncoding.EncodeToString(data))
	return l.Store.(driver.Writer).Put(ctx, key, data, o)
}

type crashOnGet struct{}

func (crashOnGet) Get(context.Context, string, string) (*driver.Value, error) {
	os.Exit(3)
	return nil, nil
}
func (crashOnGet) ErrorCode(error) driver.Code { return driver.Unknown }
func (crashOnGet) Close() error                { return nil }

// pipePair serves d's opener in-process over two pipes and returns a client.
func pipePair(t testing.TB, o plugin.ServeOptions) *plugin.Client {
	t.Helper()
	cr, sw := io.Pipe() // server → client
	sr, cw := io.Pipe() // client → server
	done := make(chan error, 1)
	go func() {
		done <- plugin.Serve(context.Background(), sr, sw, o)
		sw.Close()
	}()
	c, err := plugin.NewClient(context.Background(), o.Name, cr, cw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return c
}

type harness struct {
	b *mem.Backend
	c *plugin.Client
}

func (h *harness) MakeDriver(ctx context.Context) (driver.Store, error) {
	return h.c.Open(ctx, "mem://conformance")
}
func (h *harness) Seed(ctx context.Context, key string, data []byte) error {
	_, err := h.b.Driver().(driver.Writer).Put(ctx, key, data, nil)
	return err
}
func (h *harness) Caps() drivertest.Caps {
	return drivertest.Caps{BinaryValues: true, CheckAndSet: true}
}
func (h *harness) Close() {}

// TestConformanceThroughPlugin: the whole conformance suite passes through
// the protocol, so the plugin path is exactly as correct as the in-process
// one (values, versions, check-and-set, errors, cancellation, concurrency).
func TestConformanceThroughPlugin(t *testing.T) {
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		b := mem.NewBackend()
		c := pipePair(t, plugin.ServeOptions{Name: "mem", Open: func(context.Context, *url.URL) (driver.Store, error) { return b.Driver(), nil }})
		return &harness{b: b, c: c}, nil
	})
}

// TestRotationThroughPlugin: the rotation suite (grace, revoke, resume,
// concurrent rotations) passes through the protocol.
func TestRotationThroughPlugin(t *testing.T) {
	rotationtest.Run(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
		b := mem.NewBackend()
		c := pipePair(t, plugin.ServeOptions{Name: "mem", Open: func(context.Context, *url.URL) (driver.Store, error) { return b.Driver(), nil }})
		d, err := c.Open(context.Background(), "mem://rotation")
		if err != nil {
			t.Fatal(err)
		}
		s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Clock: clock})
		t.Cleanup(func() { s.Close() })
		return s
	}, rotationtest.Caps{AtomicCAS: true})
}

// getOnly has no optional ability.
type getOnly struct{ d driver.Store }

func (g getOnly) Get(ctx context.Context, k, v string) (*driver.Value, error) {
	return g.d.Get(ctx, k, v)
}
func (g getOnly) ErrorCode(err error) driver.Code { return g.d.ErrorCode(err) }
func (g getOnly) Close() error                    { return nil }

// TestAbilitiesNegotiated: a store behind the plugin has exactly the
// abilities the plugin reports; a missing one is Unimplemented from the
// Store, as for an in-process read-only provider.
func TestAbilitiesNegotiated(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	c := pipePair(t, plugin.ServeOptions{Name: "ro", Open: func(context.Context, *url.URL) (driver.Store, error) { return getOnly{b.Driver()}, nil }})
	d, err := c.Open(ctx, "ro://x")
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, nil)
	defer s.Close()
	for _, a := range []string{"list", "put", "delete", "history", "batch"} {
		if s.Can(a) {
			t.Errorf("Can(%q) = true through a get-only plugin", a)
		}
	}
	if _, err := s.Put(ctx, "K", keyward.NewSecretString("v"), nil); keyward.ErrorCode(err) != keyward.Unimplemented {
		t.Errorf("Put = %v, want unimplemented", err)
	}
	if l := driver.LayoutOf(d, "K"); l != "" {
		t.Errorf("a read-only plugin store has rotation layout %q", l)
	}
	full, err := pipePair(t, plugin.ServeOptions{Name: "mem", Open: func(context.Context, *url.URL) (driver.Store, error) { return b.Driver(), nil }}).Open(ctx, "mem://x")
	if err != nil {
		t.Fatal(err)
	}
	fs := keyward.NewStore(full, nil)
	defer fs.Close()
	for _, a := range []string{"list", "put", "delete", "history", "batch"} {
		if !fs.Can(a) {
			t.Errorf("Can(%q) = false through a mem plugin", a)
		}
	}
}

// blocking waits for its context: it proves a cancelled call cancels the
// plugin's work too.
type blocking struct{ ended chan error }

func (b blocking) Get(ctx context.Context, _, _ string) (*driver.Value, error) {
	<-ctx.Done()
	b.ended <- ctx.Err()
	return nil, ctx.Err()
}
func (blocking) ErrorCode(error) driver.Code { return driver.Unknown }
func (blocking) Close() error                { return nil }

func TestDeadlineCrossesTheBoundary(t *testing.T) {
	ended := make(chan error, 1)
	c := pipePair(t, plugin.ServeOptions{Name: "slow", Open: func(context.Context, *url.URL) (driver.Store, error) { return blocking{ended}, nil }})
	d, err := c.Open(context.Background(), "slow://x")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = d.Get(ctx, "K", "")
	if got := d.ErrorCode(err); got != driver.DeadlineExceeded {
		t.Fatalf("Get past the deadline: code %v (%v), want deadline exceeded", got, err)
	}
	if perr := <-ended; perr == nil {
		t.Fatal("the plugin's context never ended")
	}
}

func selfPlugin(t *testing.T, mode string) (*plugin.Client, *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYWARD_PLUGIN_TEST", mode)
	var stderr bytes.Buffer
	c, err := plugin.Start(context.Background(), exe, "mem", &stderr)
	if err != nil {
		t.Fatalf("Start(%s): %v", mode, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, &stderr
}

// TestSubprocessRoundTrip: a real plugin process serves many requests on
// one start, and the value never appears in its arguments or environment.
func TestSubprocessRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, _ := selfPlugin(t, "serve")
	if h := c.Hello(); h.Name != "mem" || h.Protocol != plugin.Protocol || h.Version != "test" {
		t.Fatalf("hello = %+v", h)
	}
	d, err := c.Open(ctx, "mem://roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1})
	defer s.Close()
	canary := "plugin-canary-" + strings.Repeat("q", 24)
	for i := 0; i < 50; i++ {
		if _, err := s.Put(ctx, fmt.Sprintf("K%02d", i), keyward.NewSecretString(canary), nil); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.GetMany(ctx, []string{"K00", "K49"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["K49"].Secret.RevealString() != canary {
		t.Fatalf("GetMany through the process: %d values", len(m))
	}
	_, err = s.Get(ctx, "MISSING")
	if !errors.Is(err, keyward.ErrNotFound) {
		t.Fatalf("missing key: %v (code %v, %T)", err, keyward.ErrorCode(err), err)
	}
}

// TestPluginCrash: a plugin that dies mid-request fails the call with
// Unavailable and a message that names it; later calls fail the same way.
func TestPluginCrash(t *testing.T) {
	ctx := context.Background()
	c, _ := selfPlugin(t, "crash-on-get")
	d, err := c.Open(ctx, "mem://x")
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1})
	_, err = s.Get(ctx, "K")
	if keyward.ErrorCode(err) != keyward.Unavailable || !strings.Contains(err.Error(), "keyward-provider-mem stopped") {
		t.Fatalf("crash: %v (code %v)", err, keyward.ErrorCode(err))
	}
	if _, err = d.Get(ctx, "K", ""); d.ErrorCode(err) != driver.Unavailable {
		t.Fatalf("after the crash: %v", err)
	}
}

// TestProtocolMismatch: a plugin of another protocol version is refused
// with a message naming both versions.
func TestProtocolMismatch(t *testing.T) {
	exe, _ := os.Executable()
	t.Setenv("KEYWARD_PLUGIN_TEST", "protocol-2")
	_, err := plugin.Start(context.Background(), exe, "mem", nil)
	if err == nil || plugin.ErrorCode(err) != driver.FailedPrecondition || !strings.Contains(err.Error(), "protocol 2") {
		t.Fatalf("mismatch: %v", err)
	}
}

// TestHostStartsOncePerScheme: many stores of one scheme share one plugin
// process for the command's lifetime.
func TestHostStartsOncePerScheme(t *testing.T) {
	ctx := context.Background()
	exe, _ := os.Executable()
	t.Setenv("KEYWARD_PLUGIN_TEST", "serve")
	h := &plugin.Host{Lookup: func(string) (string, error) { return exe, nil }, Stderr: io.Discard}
	defer h.Close()
	m := new(keyward.URLMux)
	h.Register(m, "memp")
	for _, u := range []string{"memp://a", "memp://b", "memp://a?timeout=5s"} {
		s, err := m.OpenStore(ctx, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "K", keyward.NewSecretString("value-for-"+u), nil); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if n := h.Starts("memp"); n != 1 {
		t.Fatalf("started %d processes for one scheme, want 1", n)
	}
}

// TestHostScrubsPluginStderr: a plugin that prints a value it handled has
// the value (and its encodings) redacted before it reaches keyward's stderr.
func TestHostScrubsPluginStderr(t *testing.T) {
	ctx := context.Background()
	exe, _ := os.Executable()
	t.Setenv("KEYWARD_PLUGIN_TEST", "leak-stderr")
	var stderr syncBuffer
	h := &plugin.Host{Lookup: func(string) (string, error) { return exe, nil }, Stderr: &stderr}
	m := new(keyward.URLMux)
	h.Register(m, "memp")
	s, err := m.OpenStore(ctx, "memp://leak", nil)
	if err != nil {
		t.Fatal(err)
	}
	canary := "stderr-canary-7f3a9c2e41d8"
	if _, err := s.Put(ctx, "API_KEY", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	h.Close() // waits for the process, so its stderr is complete
	out := stderr.String()
	if !strings.Contains(out, "keyward-provider-memp: debug: writing API_KEY=[REDACTED]") {
		t.Fatalf("plugin stderr not forwarded as expected (%d bytes)", len(out))
	}
	if strings.Contains(out, canary) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(canary))) {
		t.Fatal("a value the plugin printed reached keyward's stderr")
	}
}

// TestMissingPlugin: the error names the program and how to install it.
func TestMissingPlugin(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := plugin.Find("nosuchscheme")
	if plugin.ErrorCode(err) != driver.FailedPrecondition ||
		!strings.Contains(err.Error(), "nosuchscheme:// needs keyward-provider-nosuchscheme") ||
		!strings.Contains(err.Error(), "go install github.com/keyward/keyward/cmd/keyward-provider-nosuchscheme@latest") {
		t.Fatalf("missing plugin: %v", err)
	}
}

// TestFindRefusesDotInPath: a relative PATH entry (the repository one is
// standing in) never supplies a provider program.
func TestFindRefusesDotInPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/keyward-provider-planted", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("PATH", ".")
	if p, err := plugin.Find("planted"); err == nil {
		t.Fatalf("Find used %s from a relative PATH entry", p)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type hinted struct{}

func (hinted) Error() string { return "token expired" }
func (hinted) Hint() string  { return "log in again with `vault login`" }

type hintedStore struct{}

func (hintedStore) Get(context.Context, string, string) (*driver.Value, error) {
	return nil, hinted{}
}
func (hintedStore) ErrorCode(error) driver.Code { return driver.PermissionDenied }
func (hintedStore) Close() error                { return nil }

// TestErrorsKeepCodeMessageAndHint: a provider's error arrives with its
// code, its message and its next step (the CLI's hint: line).
func TestErrorsKeepCodeMessageAndHint(t *testing.T) {
	c := pipePair(t, plugin.ServeOptions{Name: "h", Open: func(context.Context, *url.URL) (driver.Store, error) { return hintedStore{}, nil }})
	d, err := c.Open(context.Background(), "h://x")
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1})
	_, err = s.Get(context.Background(), "K")
	var h interface{ Hint() string }
	if keyward.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), "token expired") ||
		!errors.As(err, &h) || h.Hint() != "log in again with `vault login`" {
		t.Fatalf("error through the plugin: %v", err)
	}
}

// TestActions: a provider-specific action runs in the plugin with its
// input's values inside the protocol; an action the plugin lacks is
// Unimplemented before anything is sent.
func TestActions(t *testing.T) {
	ctx := context.Background()
	exe, _ := os.Executable()
	t.Setenv("KEYWARD_PLUGIN_TEST", "serve")
	h := &plugin.Host{Lookup: func(string) (string, error) { return exe, nil }, Stderr: io.Discard}
	defer h.Close()
	in := struct{ Data []byte }{[]byte("action-canary-0123456789")}
	var out struct{ Length int }
	if err := h.Action(ctx, "memp", "mem.echo-length", in, &out, in.Data); err != nil {
		t.Fatal(err)
	}
	if out.Length != len(in.Data) {
		t.Fatalf("action answered %d, want %d", out.Length, len(in.Data))
	}
	err := h.Action(ctx, "memp", "mem.nope", in, &out)
	if plugin.ErrorCode(err) != driver.Unimplemented {
		t.Fatalf("unknown action: %v", err)
	}
}

// TestOpenAndActionErrorsKeepCodeAndHint: an opener's or an action's error
// crosses with its keyward code, message and next step.
func TestOpenAndActionErrorsKeepCodeAndHint(t *testing.T) {
	failing := func(context.Context, *url.URL) (driver.Store, error) {
		return nil, keyward.NewError(keyward.PermissionDenied, "open", hinted{})
	}
	c := pipePair(t, plugin.ServeOptions{Name: "h", Open: failing, Actions: map[string]plugin.ActionFunc{
		"h.fail": func(context.Context, json.RawMessage) (any, error) {
			return nil, keyward.NewError(keyward.FailedPrecondition, "act", hinted{})
		},
	}})
	var h interface{ Hint() string }
	_, err := c.Open(context.Background(), "h://x")
	if plugin.ErrorCode(err) != driver.PermissionDenied || !strings.Contains(err.Error(), "token expired") || !errors.As(err, &h) || h.Hint() == "" {
		t.Fatalf("open error through the plugin: %v", err)
	}
	err = c.Action(context.Background(), "h.fail", nil, nil)
	if plugin.ErrorCode(err) != driver.FailedPrecondition || !errors.As(err, &h) || h.Hint() == "" {
		t.Fatalf("action error through the plugin: %v", err)
	}
}
