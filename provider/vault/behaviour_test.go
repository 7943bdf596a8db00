//go:build !keyward_omit_vault

package vault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/vault"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// open returns a Store (no cache, fast retries) over a driver for o.
func open(t *testing.T, o vault.Options, so *keyward.StoreOptions) (*keyward.Store, driver.Store) {
	t.Helper()
	if o.Getenv == nil {
		o.Getenv = noEnv
	}
	d, err := vault.NewDriver(&o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if so == nil {
		so = &keyward.StoreOptions{TTL: -1, RetryBase: time.Millisecond}
	}
	s := keyward.NewStore(d, so)
	t.Cleanup(func() { s.Close() })
	return s, d
}

func guideServer(t *testing.T) *vaultserver.Server {
	t.Helper()
	s := vaultserver.New(nil)
	t.Cleanup(s.Close)
	s.Mount("", "dharmamind", 2)
	// The guide: vault kv put dharmamind/production jwt_secret_key=… database_url=…
	if _, err := s.PutKV("", "dharmamind", "production", map[string]any{
		"jwt_secret_key": "guide-jwt-value", "database_url": "postgres://u:p@db/app", "PORT": "5432",
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func reveal(t *testing.T, s *keyward.Store, key string) string {
	t.Helper()
	v, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return v.RevealString()
}

func TestKeyMappingFallsBackToLowerCase(t *testing.T) {
	srv := guideServer(t)
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken}, nil)
	ctx := context.Background()
	if reveal(t, s, "JWT_SECRET_KEY") != "guide-jwt-value" {
		t.Fatalf("JWT_SECRET_KEY does not read field jwt_secret_key")
	}
	if reveal(t, s, "PORT") != "5432" {
		t.Fatalf("an exact field name must win")
	}
	// Writing JWT_SECRET_KEY updates the existing lower-case field in place.
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("rotated-jwt"), nil); err != nil {
		t.Fatal(err)
	}
	got := srv.GetKV("", "dharmamind", "production")
	if got["jwt_secret_key"] != "rotated-jwt" || got["JWT_SECRET_KEY"] != nil || got["database_url"] == nil {
		t.Fatalf("Put must update jwt_secret_key and keep the other fields; fields now %d", len(got))
	}
	// A new key is written as given.
	if _, err := s.Put(ctx, "NEW_KEY", keyward.NewSecretString("n"), nil); err != nil {
		t.Fatal(err)
	}
	if srv.GetKV("", "dharmamind", "production")["NEW_KEY"] != "n" {
		t.Fatalf("a new key must keep its name")
	}
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 4 || infos[0].Version != "3" {
		t.Fatalf("List: %v %+v", err, infos)
	}
	// Lower-case fields are listed as the upper-case keys that read them.
	var names []string
	for _, ki := range infos {
		names = append(names, ki.Key)
	}
	if strings.Join(names, ",") != "DATABASE_URL,JWT_SECRET_KEY,NEW_KEY,PORT" {
		t.Fatalf("List names = %v", names)
	}
}

func TestGetManyIsOneRoundTrip(t *testing.T) {
	srv := vaultserver.New(nil)
	defer srv.Close()
	fields := map[string]any{}
	var keys []string
	for i := range 50 {
		k := fmt.Sprintf("KEY_%02d", i)
		keys = append(keys, k)
		fields[strings.ToLower(k)] = fmt.Sprintf("value-%d", i)
	}
	if _, err := srv.PutKV("", "secret", "app", fields); err != nil {
		t.Fatal(err)
	}
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "secret/app", Token: vaultserver.RootToken}, nil)
	got, err := s.GetMany(context.Background(), keys)
	if err != nil || len(got) != 50 || got["KEY_07"].Secret.RevealString() != "value-7" {
		t.Fatalf("GetMany: %v, %d values", err, len(got))
	}
	if n := srv.Count("GET", "secret/data/"); n != 1 {
		t.Fatalf("50 keys took %d data reads, want 1", n)
	}
}

func TestMountDetection(t *testing.T) {
	ctx := context.Background()
	t.Run("PathUnderNoKVMountFallsBackToSecret", func(t *testing.T) {
		srv := vaultserver.New(nil)
		defer srv.Close()
		if _, err := srv.PutKV("", "secret", "dharmamind/production", map[string]any{"jwt_secret_key": "x"}); err != nil {
			t.Fatal(err)
		}
		s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken}, nil)
		if reveal(t, s, "JWT_SECRET_KEY") != "x" {
			t.Fatal("wrong value")
		}
		if srv.Count("GET", "sys/internal/ui/mounts/dharmamind/production") != 1 || srv.Count("GET", "sys/internal/ui/mounts/secret/dharmamind/production") != 1 {
			t.Fatalf("detection must ask for PATH, then secret/PATH: %+v", srv.Requests())
		}
		_ = reveal(t, s, "JWT_SECRET_KEY")
		if n := srv.Count("GET", "sys/internal/ui/mounts/"); n != 2 {
			t.Fatalf("detection must run once per store, ran %d requests", n)
		}
	})
	t.Run("FallbackDoesNotRelogin", func(t *testing.T) {
		srv := vaultserver.New(nil)
		defer srv.Close()
		srv.AddAppRole(vaultserver.AppRole{RoleID: "r", SecretID: "s-secret", TokenTTL: time.Hour})
		if _, err := srv.PutKV("", "secret", "dharmamind/production", map[string]any{"jwt_secret_key": "x"}); err != nil {
			t.Fatal(err)
		}
		s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production",
			Getenv: envMap(map[string]string{"VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s-secret"})}, nil)
		if reveal(t, s, "JWT_SECRET_KEY") != "x" {
			t.Fatal("wrong value")
		}
		if n := srv.Count("POST", "auth/approle/login"); n != 1 {
			t.Fatalf("logins = %d: a 403 from mount detection is an answer, not an expired token", n)
		}
	})
	t.Run("PathNamesTheMount", func(t *testing.T) {
		srv := guideServer(t)
		s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind", Token: vaultserver.RootToken}, nil)
		_, err := s.Get(ctx, "K")
		if keyward.ErrorCode(err) != keyward.InvalidArgument || !strings.Contains(err.Error(), "names a KV mount") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("NoMountIsAClearPermissionError", func(t *testing.T) {
		srv := vaultserver.New(&vaultserver.Options{NoDefaultMounts: true})
		defer srv.Close()
		s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken}, nil)
		_, err := s.Get(ctx, "K")
		if keyward.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), "?mount=") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("DetectedKVv1", func(t *testing.T) {
		srv := vaultserver.New(nil)
		defer srv.Close()
		srv.Mount("", "legacy", 1)
		if _, err := srv.PutKV("", "legacy", "app", map[string]any{"api_key": "v1-value"}); err != nil {
			t.Fatal(err)
		}
		s, _ := open(t, vault.Options{Address: srv.URL, Path: "legacy/app", Token: vaultserver.RootToken}, nil)
		if reveal(t, s, "API_KEY") != "v1-value" {
			t.Fatal("wrong value")
		}
		if _, err := s.History(ctx, "API_KEY"); keyward.ErrorCode(err) != keyward.Unimplemented {
			t.Fatalf("History on a detected KV v1 mount: %v, want Unimplemented", err)
		}
		if _, err := s.Put(ctx, "API_KEY", keyward.NewSecretString("x"), &keyward.PutOptions{IfVersion: "1"}); keyward.ErrorCode(err) != keyward.Unimplemented {
			t.Fatalf("check-and-set on KV v1: %v, want Unimplemented", err)
		}
	})
}

func TestConcurrentWritersOfDifferentKeysLoseNothing(t *testing.T) {
	srv := vaultserver.New(nil)
	defer srv.Close()
	srv.SetMaxVersions("", "secret", 100)
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "secret/app", Token: vaultserver.RootToken}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Put(context.Background(), fmt.Sprintf("K%d", i), keyward.NewSecretString("v"), nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.GetKV("", "secret", "app")); n != 12 {
		t.Fatalf("after 12 concurrent writes of different keys the secret has %d fields: an update was lost", n)
	}
}

func TestIfVersionIsAHardCheckAndSet(t *testing.T) {
	srv := guideServer(t)
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken}, nil)
	srv.ResetLog()
	_, err := s.Put(context.Background(), "X", keyward.NewSecretString("x"), &keyward.PutOptions{IfVersion: "7"})
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("got %v", err)
	}
	if n := srv.Count("POST", "dharmamind/data/"); n != 0 {
		t.Fatalf("a stale IfVersion must not write (%d writes)", n)
	}
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv := guideServer(t)
	srv.AddAppRole(vaultserver.AppRole{RoleID: "role-guide", SecretID: "secret-id-canary-123", TokenTTL: time.Hour})
	srv.AddK8sRole(vaultserver.K8sRole{Name: "dharmamind", JWTs: []string{"k8s-jwt-canary"}, TokenTTL: time.Hour})
	srv.AddToken(vaultserver.Token{ID: "file-token-1"})

	cases := []struct {
		name string
		env  map[string]string
		auth string
	}{
		{"VAULT_TOKEN", map[string]string{"VAULT_TOKEN": vaultserver.RootToken}, ""},
		{"VAULT_TOKEN_FILE", map[string]string{"VAULT_TOKEN_FILE": write("tok", "file-token-1\n")}, ""},
		{"HomeVaultToken", map[string]string{"HOME": func() string { write(".vault-token", "file-token-1"); return dir }()}, "token"},
		{"AppRole", map[string]string{"VAULT_ROLE_ID": "role-guide", "VAULT_SECRET_ID": "secret-id-canary-123"}, ""},
		{"AppRoleSecretIDFile", map[string]string{"VAULT_ROLE_ID": "role-guide", "VAULT_SECRET_ID_FILE": write("sid", "secret-id-canary-123\n")}, "approle"},
		{"Kubernetes", map[string]string{"VAULT_K8S_ROLE": "dharmamind", "VAULT_K8S_TOKEN_PATH": write("sa", "k8s-jwt-canary")}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetLog()
			s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Auth: tc.auth, Getenv: envMap(tc.env)}, nil)
			if n := len(srv.Requests()); n != 0 {
				t.Fatalf("Open must not contact Vault (made %d requests)", n)
			}
			if reveal(t, s, "JWT_SECRET_KEY") != "guide-jwt-value" {
				t.Fatal("wrong value")
			}
		})
	}

	t.Run("Failures", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			env  map[string]string
			auth string
			want string
		}{
			{"NoCredentials", nil, "", "VAULT_TOKEN"},
			{"BadSecretID", map[string]string{"VAULT_ROLE_ID": "role-guide", "VAULT_SECRET_ID": "wrong-secret-id-canary"}, "", "invalid role or secret ID"},
			{"MissingSecretID", map[string]string{"VAULT_ROLE_ID": "role-guide"}, "approle", "VAULT_SECRET_ID"},
			{"BadJWT", map[string]string{"VAULT_K8S_ROLE": "dharmamind", "VAULT_K8S_TOKEN_PATH": write("bad", "forged-jwt")}, "", "permission denied"},
			{"MissingJWTFile", map[string]string{"VAULT_K8S_ROLE": "dharmamind", "VAULT_K8S_TOKEN_PATH": filepath.Join(dir, "nope")}, "", "service account token"},
			{"RevokedStaticToken", map[string]string{"VAULT_TOKEN": "not-a-token"}, "", "permission denied"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Auth: tc.auth, Getenv: envMap(tc.env)}, nil)
				_, err := s.Get(ctx, "JWT_SECRET_KEY")
				if keyward.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want PermissionDenied mentioning %q", err, tc.want)
				}
				for _, c := range []string{"wrong-secret-id-canary", "secret-id-canary-123", "forged-jwt", "not-a-token"} {
					if strings.Contains(fmt.Sprintf("%v %+v", err, err), c) {
						t.Fatalf("the error reveals a credential")
					}
				}
			})
		}
	})
}

func TestReloginAfterRevocation(t *testing.T) {
	srv := guideServer(t)
	srv.AddAppRole(vaultserver.AppRole{RoleID: "r", SecretID: "s-secret", TokenTTL: time.Hour})
	s, d := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production",
		Getenv: envMap(map[string]string{"VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s-secret"})}, nil)
	_ = reveal(t, s, "JWT_SECRET_KEY")
	var c *api.Client
	if !d.(driver.As).As(&c) || c.Token() == "" {
		t.Fatalf("As(**api.Client) must expose the logged-in client")
	}
	srv.RevokeToken(c.Token())
	if reveal(t, s, "JWT_SECRET_KEY") != "guide-jwt-value" {
		t.Fatal("wrong value after re-login")
	}
	if n := srv.Count("POST", "auth/approle/login"); n != 2 {
		t.Fatalf("logins = %d, want 2 (lazy first login, one re-login after the 403)", n)
	}
}

func TestRenewalAndExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	srv := vaultserver.New(&vaultserver.Options{Now: clock})
	defer srv.Close()
	if _, err := srv.PutKV("", "secret", "app", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	srv.AddAppRole(vaultserver.AppRole{RoleID: "r", SecretID: "s-secret", TokenTTL: time.Minute, TokenMaxTTL: 90 * time.Second})
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "secret/app", Now: clock,
		Getenv: envMap(map[string]string{"VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s-secret"})}, nil)
	_ = reveal(t, s, "k")
	advance(50 * time.Second) // 10s left of 60: renew
	_ = reveal(t, s, "k")
	if n := srv.Count("POST", "auth/token/renew-self"); n != 1 {
		t.Fatalf("renewals = %d, want 1", n)
	}
	advance(45 * time.Second) // past the 90s max TTL: the server expired it
	_ = reveal(t, s, "k")
	if n := srv.Count("POST", "auth/approle/login"); n != 2 {
		t.Fatalf("logins = %d, want 2 (the token reached its max TTL)", n)
	}
}

func TestStaticTokenRenewal(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := vaultserver.New(&vaultserver.Options{Now: clock})
	defer srv.Close()
	if _, err := srv.PutKV("", "secret", "app", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	srv.AddToken(vaultserver.Token{ID: "renewable-token", TTL: time.Minute, Renewable: true})
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "secret/app", Now: clock, Token: "renewable-token"}, nil)
	_ = reveal(t, s, "k")
	mu.Lock()
	now = now.Add(55 * time.Second)
	mu.Unlock()
	_ = reveal(t, s, "k")
	if srv.Count("GET", "auth/token/lookup-self") != 1 || srv.Count("POST", "auth/token/renew-self") != 1 {
		t.Fatalf("want one lookup-self and one renew-self: %+v", srv.Requests())
	}
}

// ---- faults through keyward.Store ----

func TestFaultsThroughStore(t *testing.T) {
	ctx := context.Background()
	newStore := func(t *testing.T, so *keyward.StoreOptions) (*vaultserver.Server, *keyward.Store) {
		srv := guideServer(t)
		if so == nil {
			so = &keyward.StoreOptions{TTL: -1, RetryBase: time.Millisecond}
		}
		s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken}, so)
		_ = reveal(t, s, "JWT_SECRET_KEY") // detection and lookup done
		srv.ResetLog()
		return srv, s
	}
	dataReads := func(srv *vaultserver.Server) int { return srv.Count("GET", "dharmamind/data/") }

	t.Run("RefusedConnection", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		addr := dead.URL
		dead.Close()
		s, _ := open(t, vault.Options{Address: addr, Path: "secret/app", Token: "t-token"}, nil)
		_, err := s.Get(ctx, "K")
		if keyward.ErrorCode(err) != keyward.Unavailable {
			t.Fatalf("got %v, want Unavailable", err)
		}
	})
	t.Run("5xxThenSuccessIsRetried", func(t *testing.T) {
		srv, s := newStore(t, nil)
		srv.FailNext(2, 502)
		if reveal(t, s, "JWT_SECRET_KEY") != "guide-jwt-value" {
			t.Fatal("wrong value")
		}
		if n := dataReads(srv); n != 3 {
			t.Fatalf("data reads = %d, want 3 (two 502s, then success)", n)
		}
	})
	t.Run("429HonoursRetryAfter", func(t *testing.T) {
		srv, s := newStore(t, &keyward.StoreOptions{TTL: -1, Retries: -1})
		srv.Inject(vaultserver.Fault{Kind: vaultserver.FaultThrottle, RetryAfter: 7 * time.Second})
		_, err := s.Get(ctx, "JWT_SECRET_KEY")
		var ra interface{ RetryAfter() time.Duration }
		if keyward.ErrorCode(err) != keyward.Unavailable || !errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second {
			t.Fatalf("got %v, want Unavailable with RetryAfter 7s", err)
		}
		var ve *vault.Error
		if !s.ErrorAs(err, &ve) || ve.Status != http.StatusTooManyRequests {
			t.Fatalf("ErrorAs(*vault.Error) = %v", ve)
		}
		// With retries on, the Store waits Retry-After (1s here) and succeeds.
		srv3, s3 := newStore(t, nil)
		srv3.Inject(vaultserver.Fault{Kind: vaultserver.FaultThrottle, RetryAfter: time.Second})
		if reveal(t, s3, "JWT_SECRET_KEY") != "guide-jwt-value" || dataReads(srv3) != 2 {
			t.Fatalf("throttled read was not retried once (%d reads)", dataReads(srv3))
		}
	})
	t.Run("HungResponseHitsTheDeadline", func(t *testing.T) {
		srv, s := newStore(t, &keyward.StoreOptions{TTL: -1, Retries: -1, Timeout: 100 * time.Millisecond})
		srv.Inject(vaultserver.Fault{Kind: vaultserver.FaultHang, PathPrefix: "dharmamind/data/"})
		_, err := s.Get(ctx, "JWT_SECRET_KEY")
		if c := keyward.ErrorCode(err); c != keyward.DeadlineExceeded && c != keyward.Unavailable {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
	})
	t.Run("TruncatedBodyIsRetried", func(t *testing.T) {
		srv, s := newStore(t, nil)
		srv.Inject(vaultserver.Fault{Kind: vaultserver.FaultTruncate, PathPrefix: "dharmamind/data/"})
		if reveal(t, s, "JWT_SECRET_KEY") != "guide-jwt-value" || dataReads(srv) != 2 {
			t.Fatalf("truncated body must be Unavailable and retried (%d reads)", dataReads(srv))
		}
	})
	for _, st := range []int{401, 403} {
		t.Run(fmt.Sprintf("%dIsNotRetried", st), func(t *testing.T) {
			srv, s := newStore(t, nil)
			srv.FailNext(1, st, "permission denied")
			_, err := s.Get(ctx, "JWT_SECRET_KEY")
			if keyward.ErrorCode(err) != keyward.PermissionDenied {
				t.Fatalf("got %v", err)
			}
			if n := dataReads(srv); n != 1 {
				t.Fatalf("data reads = %d, want 1: a %d must not be retried", n, st)
			}
		})
	}
	t.Run("SealedServesStale", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Unix(1_800_000_000, 0)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		srv, s := newStore(t, &keyward.StoreOptions{TTL: time.Minute, MaxStale: time.Hour, RetryBase: time.Millisecond, Clock: clock})
		_ = reveal(t, s, "JWT_SECRET_KEY")
		srv.Seal(true)
		mu.Lock()
		now = now.Add(2 * time.Minute)
		mu.Unlock()
		v, err := s.GetValue(ctx, "JWT_SECRET_KEY", nil)
		if err != nil || !v.Stale || v.Secret.RevealString() != "guide-jwt-value" {
			t.Fatalf("sealed Vault: %v; want the cached value marked stale", err)
		}
		// The one read of the bundle brought every key, so DATABASE_URL is
		// cached too; a key the bundle did not have is not.
		if v, err := s.GetValue(ctx, "DATABASE_URL", nil); err != nil || !v.Stale {
			t.Fatalf("sealed Vault, a key read with the bundle: %v; want it served stale", err)
		}
		_, err = s.GetValue(ctx, "REDIS_URL", nil)
		if keyward.ErrorCode(err) != keyward.Unavailable || !strings.Contains(err.Error(), "Vault is sealed") {
			t.Fatalf("sealed Vault without a cached value: %v, want Unavailable", err)
		}
	})
	t.Run("CrossHostRedirectKeepsTheToken", func(t *testing.T) {
		var leaked atomic.Int32
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Vault-Token") != "" {
				leaked.Add(1)
			}
			w.WriteHeader(200)
		}))
		defer evil.Close()
		srv, s := newStore(t, nil)
		srv.Inject(vaultserver.Fault{Kind: vaultserver.FaultRedirect, Location: evil.URL})
		_, err := s.Get(ctx, "JWT_SECRET_KEY")
		if keyward.ErrorCode(err) != keyward.FailedPrecondition || !strings.Contains(err.Error(), "another host") {
			t.Fatalf("got %v", err)
		}
		if leaked.Load() != 0 {
			t.Fatalf("the token was sent to another host")
		}
		if strings.Contains(err.Error(), vaultserver.RootToken) {
			t.Fatalf("the error reveals the token")
		}
	})
	t.Run("SameHostRedirectIsFollowed", func(t *testing.T) {
		srv, s := newStore(t, nil)
		srv.Inject(vaultserver.Fault{Kind: vaultserver.FaultRedirect, Location: srv.URL})
		if reveal(t, s, "JWT_SECRET_KEY") != "guide-jwt-value" {
			t.Fatal("wrong value")
		}
	})
}

func TestErrorsNeverCarryCredentialsOrValues(t *testing.T) {
	srv := guideServer(t)
	ctx := context.Background()
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken}, nil)
	value := "KWCANARY-value-0123456789"
	_ = reveal(t, s, "JWT_SECRET_KEY") // log in and detect the mount first
	// A (hypothetical) server that echoes the token and the value back.
	srv.Inject(vaultserver.Fault{Kind: vaultserver.FaultStatus, Status: 400, Method: "POST",
		Errors: []string{"bad request with token " + vaultserver.RootToken + " and value " + value}})
	_, err := s.Put(ctx, "K", keyward.NewSecretString(value), nil)
	if err == nil {
		t.Fatal("want an error")
	}
	if keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("400 must be InvalidArgument, got %v", keyward.ErrorCode(err))
	}
	msg := fmt.Sprintf("%v %+v %#v", err, err, err)
	if strings.Contains(msg, vaultserver.RootToken) || strings.Contains(msg, value) {
		t.Fatalf("the error reveals the token or the value")
	}
	if !strings.Contains(msg, "[REDACTED]") {
		t.Fatalf("the scrubbed message should say what was removed")
	}
}

func TestNonJSONErrorBodyIsDropped(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		_, _ = w.Write([]byte("<html>upstream said: " + r.Header.Get("X-Vault-Token") + "</html>"))
	}))
	defer proxy.Close()
	s, _ := open(t, vault.Options{Address: proxy.URL, Path: "secret/app", Mount: "secret", KVVersion: 2, Token: "proxy-echo-token"},
		&keyward.StoreOptions{TTL: -1, Retries: -1})
	_, err := s.Get(context.Background(), "K")
	if keyward.ErrorCode(err) != keyward.Unavailable || strings.Contains(err.Error(), "proxy-echo-token") || !strings.Contains(err.Error(), "non-JSON") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenURL(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	ctx := context.Background()
	for _, tc := range []struct {
		url  string
		code keyward.Code // OK: opens
	}{
		{"vault:///dharmamind/production", keyward.OK},
		{"vault:///dharmamind/production?auth=approle", keyward.OK},
		{"vault://vault.example.com:8200/secret/app?mount=secret&kv=2&namespace=ns1&layout=keys&auth=kubernetes&auth_mount=k8s", keyward.OK},
		{"vault://vault.example.com/secret/app?tls=false", keyward.OK},
		{"vault:///", keyward.InvalidArgument},
		{"vault:///p?layout=flat", keyward.InvalidArgument},
		{"vault:///p?auth=ldap", keyward.InvalidArgument},
		{"vault:///p?kv=3", keyward.InvalidArgument},
		{"vault:///p?token=abc", keyward.InvalidArgument},
		{"vault:///p?tls=false", keyward.InvalidArgument},
	} {
		s, err := keyward.Open(ctx, tc.url)
		if got := keyward.ErrorCode(err); got != tc.code {
			t.Errorf("%s: code %v (%v), want %v", tc.url, got, err, tc.code)
		}
		if err != nil && strings.Contains(err.Error(), "abc") {
			t.Errorf("%s: the error repeats a credential-like parameter", tc.url)
		}
		if s != nil {
			s.Close()
		}
	}
	t.Setenv("VAULT_ADDR", "")
	if _, err := keyward.Open(ctx, "vault:///dharmamind/production"); keyward.ErrorCode(err) != keyward.InvalidArgument || !strings.Contains(err.Error(), "VAULT_ADDR") {
		t.Fatalf("vault:/// without VAULT_ADDR: %v", err)
	}
}

// TestSecurityVaultScrubsJSONEscapedValues: a server that echoes a value
// being written back in an error message, JSON-escaped the way some encoder
// writes it (Go, Go without HTML escaping, Python's ensure_ascii, upper-case
// hex, PHP's "\/", or escaped twice inside a quoted JSON document), never
// gets it into keyward's error.
func TestSecurityVaultScrubsJSONEscapedValues(t *testing.T) {
	srv := guideServer(t)
	ctx := context.Background()
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken},
		&keyward.StoreOptions{TTL: -1, Retries: -1})
	_ = reveal(t, s, "JWT_SECRET_KEY") // log in and detect the mount first
	value := "KWCANARY-\"q\"\\b/s<&>\u00e9\u2603\U0001F600"
	for name, echo := range map[string]string{
		"raw":          value,
		"go":           `KWCANARY-\"q\"\\b/s<&>` + "\u00e9\u2603\U0001F600",
		"go-html":      `KWCANARY-\"q\"\\b/s\u003c\u0026\u003e` + "\u00e9\u2603\U0001F600",
		"python":       `KWCANARY-\"q\"\\b/s<&>\u00e9\u2603\ud83d\ude00`,
		"upper-hex":    `KWCANARY-\"q\"\\b/s<&>\u00E9\u2603\uD83D\uDE00`,
		"php":          `KWCANARY-\"q\"\\b\/s<&>\u00e9\u2603\ud83d\ude00`,
		"twice":        `{\"v\":\"KWCANARY-\\\"q\\\"\\\\b/s<&>` + "\u00e9\u2603\U0001F600" + `\"}`,
		"twice-python": `KWCANARY-\\\"q\\\"\\\\b/s<&>\\u00e9\\u2603\\ud83d\\ude00`,
	} {
		t.Run(name, func(t *testing.T) {
			srv.Inject(vaultserver.Fault{Kind: vaultserver.FaultStatus, Status: 400, Method: "POST",
				Errors: []string{"invalid value " + echo + " for field K"}})
			_, err := s.Put(ctx, "K", keyward.NewSecretString(value), nil)
			if err == nil {
				t.Fatal("want an error")
			}
			msg := fmt.Sprintf("%v %+v", err, err)
			if strings.Contains(msg, "KWCANARY") || strings.Contains(msg, `q\`) {
				t.Fatalf("the error keeps the echoed value: %s", strings.ReplaceAll(msg, "KWCANARY", "[CANARY]"))
			}
			if !strings.Contains(msg, "invalid value ") || !strings.Contains(msg, "[REDACTED]") || !strings.Contains(msg, " for field K") {
				t.Fatalf("the message should keep its text around the removed value: %s", strings.ReplaceAll(msg, "KWCANARY", "[CANARY]"))
			}
		})
	}
}

// A 403 says which of Vault's two meanings it has: a dead token (expired
// or revoked; Vault refuses even its lookup-self) or a live token without
// the policy. A sealed server says so. Each comes with a hint.
func TestRefusalsSayWhy(t *testing.T) {
	ctx := context.Background()
	hint := func(err error) string {
		var h interface{ Hint() string }
		if !errors.As(err, &h) {
			return ""
		}
		return h.Hint()
	}
	open := func(t *testing.T, srv *vaultserver.Server, token string) *keyward.Store {
		d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: token, Path: "dharmamind/production", Getenv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1})
		t.Cleanup(func() { s.Close() })
		return s
	}
	srv := vaultserver.New(nil)
	defer srv.Close()
	srv.Mount("", "dharmamind", 2)
	if _, err := srv.PutKV("", "dharmamind", "production", map[string]any{"JWT_SECRET_KEY": "v"}); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	srv.AddToken(vaultserver.Token{ID: "hvs.expired-fake", Created: past, Expires: past.Add(time.Hour)})
	srv.AddToken(vaultserver.Token{ID: "hvs.revoked-fake"})
	srv.RevokeToken("hvs.revoked-fake")
	srv.AddToken(vaultserver.Token{ID: "hvs.other-path-fake", Allow: []string{"other/"}})
	for _, tc := range []struct{ token, msg, hint string }{
		{"hvs.expired-fake", "expired or revoked", "log in to Vault again"},
		{"hvs.revoked-fake", "expired or revoked", "log in to Vault again"},
		{"hvs.other-path-fake", "policies do not allow", "grants this token read on dharmamind/production"},
	} {
		_, err := open(t, srv, tc.token).Get(ctx, "JWT_SECRET_KEY")
		if keyward.ErrorCode(err) != keyward.PermissionDenied || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want PermissionDenied saying %q", tc.token, err, tc.msg)
		}
		if !strings.Contains(hint(err), tc.hint) {
			t.Errorf("%s: hint %q, want %q", tc.token, hint(err), tc.hint)
		}
		if strings.Contains(err.Error(), tc.token) || strings.Contains(hint(err), tc.token) {
			t.Errorf("%s: the token is in the error", tc.token)
		}
	}
	// With the mount named there is no detection: the data read itself is
	// refused and diagnosed.
	d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: "hvs.expired-fake", Path: "production", Mount: "dharmamind", KVVersion: 2, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	_, err = keyward.NewStore(d, &keyward.StoreOptions{Retries: -1}).Get(ctx, "JWT_SECRET_KEY")
	if !strings.Contains(err.Error(), "dharmamind/data/production") || !strings.Contains(err.Error(), "expired or revoked") ||
		!strings.Contains(hint(err), "log in to Vault again") {
		t.Errorf("expired token on a named mount: %v (hint %q)", err, hint(err))
	}
	srv.Seal(true)
	_, err = open(t, srv, vaultserver.RootToken).Get(ctx, "JWT_SECRET_KEY")
	if keyward.ErrorCode(err) != keyward.Unavailable || !strings.Contains(err.Error(), "Vault is sealed") ||
		!strings.Contains(hint(err), "vault operator unseal") {
		t.Fatalf("sealed: %v (hint %q), want Unavailable, sealed, with an unseal hint", err, hint(err))
	}
}

// One read of the bundle serves a command: List then the listed keys, or
// several keys read one after another (references), cost one request; a
// fresh read (NoCache) still goes to Vault.
func TestBundleReadOncePerCommand(t *testing.T) {
	ctx := context.Background()
	srv := guideServer(t)
	s, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken},
		&keyward.StoreOptions{TTL: time.Minute})
	reads := func() int { return srv.Count("GET", "dharmamind/data/") }
	infos, err := s.List(ctx)
	if err != nil || len(infos) < 2 {
		t.Fatalf("List: %v (%d keys)", err, len(infos))
	}
	keys := make([]string, 0, len(infos))
	for _, in := range infos {
		keys = append(keys, in.Key)
	}
	if _, err := s.GetMany(ctx, keys); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	if n := reads(); n != 1 {
		t.Fatalf("List + GetMany + Get made %d bundle reads, want 1", n)
	}
	if _, err := s.GetValue(ctx, keys[1], &keyward.GetOptions{NoCache: true}); err != nil {
		t.Fatal(err)
	}
	if n := reads(); n != 2 {
		t.Fatalf("a NoCache read made %d reads in all, want 2", n)
	}
	// A cold store reading keys one by one: one read.
	s2, _ := open(t, vault.Options{Address: srv.URL, Path: "dharmamind/production", Token: vaultserver.RootToken},
		&keyward.StoreOptions{TTL: time.Minute})
	srv.ResetLog()
	for _, k := range keys {
		if _, err := s2.Get(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if n := reads(); n != 1 {
		t.Fatalf("reading %d keys one by one made %d bundle reads, want 1", len(keys), n)
	}
}
