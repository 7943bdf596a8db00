package keyward_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/mem"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func seeded(t *testing.T, kv ...string) *mem.Backend {
	t.Helper()
	b := mem.NewBackend()
	for i := 0; i < len(kv); i += 2 {
		if _, err := b.Driver().(driver.Writer).Put(context.Background(), kv[i], []byte(kv[i+1]), nil); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestSingleFlightColdKey(t *testing.T) {
	b := seeded(t, "JWT_SECRET_KEY", "cold-value")
	gate := make(chan struct{})
	b.SetFailure(func(string) error { <-gate; return nil })
	s := b.OpenStore(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.Get(context.Background(), "JWT_SECRET_KEY")
			if err != nil || v.RevealString() != "cold-value" {
				errs <- fmt.Errorf("get failed or returned the wrong value: %v", err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the goroutines pile up on the one fetch
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := b.Calls.Load(); n != 1 {
		t.Fatalf("1,000 concurrent Gets of a cold key made %d provider calls, want 1", n)
	}
}

func TestCacheTTLAndStaleIfError(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := seeded(t, "K", "v1")
	var events []keyward.Event
	var mu sync.Mutex
	s := b.OpenStore(&keyward.StoreOptions{TTL: time.Minute, MaxStale: time.Hour, Retries: -1, Clock: clk.Now,
		Audit: func(_ context.Context, e *keyward.Event) error {
			mu.Lock()
			events = append(events, *e)
			mu.Unlock()
			return nil
		}})
	ctx := context.Background()
	for range 3 {
		if _, err := s.Get(ctx, "K"); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.Calls.Load(); n != 1 {
		t.Fatalf("3 Gets within the TTL made %d provider calls, want 1", n)
	}
	clk.Advance(2 * time.Minute)
	b.SetFailure(func(string) error { return keyward.ErrUnavailable })
	v, err := s.GetValue(ctx, "K", nil)
	if err != nil {
		t.Fatalf("stale-if-error: %v", err)
	}
	if !v.Stale || v.Secret.RevealString() != "v1" {
		t.Fatalf("want the stale cached value marked Stale, got stale=%v", v.Stale)
	}
	mu.Lock()
	last := events[len(events)-1]
	mu.Unlock()
	if !last.Stale {
		t.Fatalf("the audit event for a stale read must say so")
	}
	clk.Advance(2 * time.Hour)
	if _, err := s.Get(ctx, "K"); !errors.Is(err, keyward.ErrUnavailable) {
		t.Fatalf("past MaxStale the outage must surface, got %v", err)
	}
	// Non-transient errors never serve stale values.
	b.SetFailure(func(string) error { return keyward.ErrPermissionDenied })
	clk.Advance(-2 * time.Hour)
	if _, err := s.Get(ctx, "K"); !errors.Is(err, keyward.ErrPermissionDenied) {
		t.Fatalf("PermissionDenied must not be masked by a stale value, got %v", err)
	}
}

func TestRetriesOnlyUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantCalls int
	}{
		{"unavailable is retried", keyward.ErrUnavailable, 4},
		{"permission denied is not", keyward.ErrPermissionDenied, 1},
		{"not found is not", keyward.ErrNotFound, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := seeded(t, "K", "v")
			b.SetFailure(func(string) error { return tc.err })
			s := b.OpenStore(&keyward.StoreOptions{Retries: 3, RetryBase: time.Millisecond})
			if _, err := s.Get(context.Background(), "K"); keyward.ErrorCode(err) != keyward.ErrorCode(tc.err) {
				t.Fatalf("got %v, want code %v", err, keyward.ErrorCode(tc.err))
			}
			if n := b.Calls.Load(); n != tc.wantCalls {
				t.Fatalf("%d provider calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

type retryAfterErr struct{}

func (retryAfterErr) Error() string             { return "throttled" }
func (retryAfterErr) RetryAfter() time.Duration { return 20 * time.Millisecond }
func (retryAfterErr) Is(target error) bool      { return target == keyward.ErrUnavailable }

func TestRetryAfterHonoured(t *testing.T) {
	b := seeded(t, "K", "v")
	n := 0
	b.SetFailure(func(string) error {
		n++
		if n == 1 {
			return retryAfterErr{}
		}
		return nil
	})
	s := b.OpenStore(&keyward.StoreOptions{RetryBase: time.Nanosecond})
	start := time.Now()
	if _, err := s.Get(context.Background(), "K"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatalf("the retry did not wait for Retry-After")
	}
}

func TestAuditRequiredFailsClosed(t *testing.T) {
	b := seeded(t, "K", "v")
	s := b.OpenStore(&keyward.StoreOptions{AuditRequired: true,
		Audit: func(context.Context, *keyward.Event) error { return errors.New("disk full") }})
	ctx := context.Background()
	if _, err := s.Get(ctx, "K"); !errors.Is(err, keyward.ErrFailedPrecondition) {
		t.Fatalf("Get with an unwritable required audit: %v, want FailedPrecondition", err)
	}
	if _, err := s.Put(ctx, "K2", keyward.NewSecretString("x"), nil); !errors.Is(err, keyward.ErrFailedPrecondition) {
		t.Fatalf("Put with an unwritable required audit: %v", err)
	}
	if _, err := b.Driver().Get(ctx, "K2", ""); err == nil {
		t.Fatalf("the denied Put was written anyway")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const c = "KWCANARY-do-not-print"
	s := keyward.NewSecretString(c)
	v := keyward.Value{Key: "K", Secret: s}
	var out []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		out = append(out, fmt.Sprintf(f, s), fmt.Sprintf(f, v), fmt.Sprintf(f, &v))
	}
	j, _ := json.Marshal(map[string]any{"s": s, "v": v})
	out = append(out, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s, "value", v)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", s)
	out = append(out, buf.String())
	for _, o := range out {
		if strings.Contains(o, c) {
			t.Fatalf("a Secret printed its value: %q", o)
		}
	}
	if s.RevealString() != c || !s.Equal(keyward.NewSecretString(c)) || s.Equal(keyward.NewSecretString(c+"x")) {
		t.Fatalf("Reveal/Equal broken")
	}
}

func TestErrorsWrapOnceAndName(t *testing.T) {
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://x"})
	_, err := s.Get(context.Background(), "MISSING")
	var ke *keyward.Error
	if !errors.As(err, &ke) || ke.Code != keyward.NotFound || ke.Key != "MISSING" {
		t.Fatalf("want *keyward.Error NotFound for MISSING, got %#v", err)
	}
	if errors.As(errors.Unwrap(err), &ke) {
		t.Fatalf("error wrapped twice: %v", err)
	}
	if got := err.Error(); got != `keyward: failed to get "MISSING" in mem://x: not found: no such secret` {
		t.Fatalf("message = %q", got)
	}
}

func TestUnknownSchemeListsKnown(t *testing.T) {
	_, err := keyward.Open(context.Background(), "nosuch://x")
	if err == nil || !strings.Contains(err.Error(), "mem") || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Fatalf("unknown scheme error must name it and list known schemes: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"vault://user:pw@vault.example.com/a?token=abc&mount=secret": "vault://vault.example.com/a?mount=secret&token=redacted",
		"awssm://dharmamind/production?region=us-east-1":             "awssm://dharmamind/production?region=us-east-1",
	} {
		u, err := keyward.ParseStoreURL(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := keyward.RedactURL(u); got != want {
			t.Errorf("RedactURL(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestStoreURLFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    string
		wantErr string
	}{
		{map[string]string{}, "", ""},
		{map[string]string{"KEYWARD_STORE": "mem://a", "SECRET_PROVIDER": "aws"}, "mem://a", ""},
		{map[string]string{"SECRET_PROVIDER": "env"}, "env://", ""},
		{map[string]string{"SECRET_PROVIDER": "aws", "AWS_SECRET_NAME": "dharmamind/production"}, "awssm://dharmamind/production", ""},
		{map[string]string{"SECRET_PROVIDER": "aws"}, "", "AWS_SECRET_NAME"},
		{map[string]string{"SECRET_PROVIDER": "vault", "VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_PATH": "dharmamind/production"}, "vault:///dharmamind/production", ""},
		{map[string]string{"SECRET_PROVIDER": "vault", "VAULT_ADDR": "http://x", "VAULT_PATH": "p", "VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s"}, "vault:///p?auth=approle", ""},
		{map[string]string{"SECRET_PROVIDER": "vault", "VAULT_ADDR": "http://x", "VAULT_PATH": "p", "VAULT_ROLE_ID": "r"}, "", "VAULT_SECRET_ID"},
		{map[string]string{"SECRET_PROVIDER": "vault", "VAULT_PATH": "p"}, "", "VAULT_ADDR"},
		{map[string]string{"SECRET_PROVIDER": "gcp", "GCP_PROJECT": "dharmamind-prod"}, "gcpsm://projects/dharmamind-prod", ""},
		{map[string]string{"SECRET_PROVIDER": "gcp"}, "", "GCP_PROJECT"},
		{map[string]string{"SECRET_PROVIDER": "azure", "AZURE_VAULT_URL": "https://dharmamind-vault.vault.azure.net/"}, "azurekv://dharmamind-vault.vault.azure.net", ""},
		{map[string]string{"SECRET_PROVIDER": "azure"}, "", "AZURE_VAULT_URL"},
		{map[string]string{"SECRET_PROVIDER": "consul"}, "", "not one of"},
	} {
		got, err := keyward.StoreURLFromEnv(func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want one naming %s", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: got %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
}

func TestGuideKeyName(t *testing.T) {
	for _, tc := range [][3]string{{"aws", "JWT_SECRET_KEY", "jwt_secret_key"}, {"gcp", "JWT_SECRET_KEY", "jwt-secret-key"},
		{"azure", "JWT_SECRET_KEY", "jwt-secret-key"}, {"vault", "JWT_SECRET_KEY", "JWT_SECRET_KEY"}} {
		if got := keyward.GuideKeyName(tc[0], tc[1]); got != tc[2] {
			t.Errorf("GuideKeyName(%s, %s) = %s, want %s", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestClosedStore(t *testing.T) {
	s := seeded(t, "K", "v").OpenStore(nil)
	s.Close()
	if _, err := s.Get(context.Background(), "K"); !errors.Is(err, keyward.ErrFailedPrecondition) {
		t.Fatalf("Get after Close: %v", err)
	}
}

func BenchmarkGetCached(b *testing.B) {
	be := mem.NewBackend()
	_, _ = be.Driver().(driver.Writer).Put(context.Background(), "JWT_SECRET_KEY", []byte("0123456789abcdef0123456789abcdef"), nil)
	s := be.OpenStore(&keyward.StoreOptions{TTL: time.Hour})
	ctx := context.Background()
	if _, err := s.Get(ctx, "JWT_SECRET_KEY"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Get(ctx, "JWT_SECRET_KEY"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetCachedParallel(b *testing.B) {
	be := mem.NewBackend()
	_, _ = be.Driver().(driver.Writer).Put(context.Background(), "JWT_SECRET_KEY", []byte("0123456789abcdef0123456789abcdef"), nil)
	s := be.OpenStore(&keyward.StoreOptions{TTL: time.Hour})
	ctx := context.Background()
	_, _ = s.Get(ctx, "JWT_SECRET_KEY")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = s.Get(ctx, "JWT_SECRET_KEY")
		}
	})
}
