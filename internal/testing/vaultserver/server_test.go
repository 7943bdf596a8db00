package vaultserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"

	"github.com/keyward/keyward/internal/testing/vaultserver"
)

func client(t *testing.T, s *vaultserver.Server, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.URL
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func status(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func TestKVv2WithTheOfficialClient(t *testing.T) {
	s := vaultserver.New(nil)
	defer s.Close()
	s.Mount("", "dharmamind", 2)
	c := client(t, s, vaultserver.RootToken)
	ctx := context.Background()
	kv := c.KVv2("dharmamind")

	if _, err := kv.Get(ctx, "production"); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("Get of a missing secret: %v, want ErrSecretNotFound", err)
	}
	v1, err := kv.Put(ctx, "production", map[string]any{"jwt_secret_key": "one"})
	if err != nil || v1.VersionMetadata.Version != 1 {
		t.Fatalf("Put: %v, %+v", err, v1)
	}
	if _, err := kv.Put(ctx, "production", map[string]any{"jwt_secret_key": "two"}, api.WithCheckAndSet(1)); err != nil {
		t.Fatalf("Put with cas=1: %v", err)
	}
	_, err = kv.Put(ctx, "production", map[string]any{"jwt_secret_key": "three"}, api.WithCheckAndSet(1))
	if status(err) != 400 || !strings.Contains(err.Error(), "check-and-set parameter did not match") {
		t.Fatalf("stale cas: %v, want 400 check-and-set", err)
	}
	cur, err := kv.Get(ctx, "production")
	if err != nil || cur.Data["jwt_secret_key"] != "two" || cur.VersionMetadata.Version != 2 {
		t.Fatalf("Get current: %v version %v", err, cur.VersionMetadata)
	}
	old, err := kv.GetVersion(ctx, "production", 1)
	if err != nil || old.Data["jwt_secret_key"] != "one" {
		t.Fatalf("GetVersion 1: %v", err)
	}
	vs, err := kv.GetVersionsAsList(ctx, "production")
	if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 || vs[0].CreatedTime.IsZero() {
		t.Fatalf("versions: %v %+v", err, vs)
	}
	keys, err := c.Logical().ListWithContext(ctx, "dharmamind/metadata/")
	if err != nil || keys == nil || len(keys.Data["keys"].([]any)) != 1 {
		t.Fatalf("list: %v %+v", err, keys)
	}
	if err := kv.Delete(ctx, "production"); err != nil {
		t.Fatal(err)
	}
	// As real Vault: a soft-deleted version reads as 404 with metadata, which
	// the api client returns as a secret with nil Data and a deletion time.
	if del, err := kv.Get(ctx, "production"); err != nil || del.Data != nil || del.VersionMetadata.DeletionTime.IsZero() {
		t.Fatalf("Get after soft delete: %v", err)
	}
	if old, err := kv.GetVersion(ctx, "production", 1); err != nil || old.Data["jwt_secret_key"] != "one" {
		t.Fatalf("older versions survive a soft delete: %v", err)
	}
	if err := kv.DeleteMetadata(ctx, "production"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.GetVersion(ctx, "production", 1); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("Get after metadata delete: %v", err)
	}
}

func TestMaxVersions(t *testing.T) {
	s := vaultserver.New(nil)
	defer s.Close()
	s.SetMaxVersions("", "secret", 3)
	for i := range 5 {
		if _, err := s.PutKV("", "secret", "p", map[string]any{"k": i}); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := client(t, s, vaultserver.RootToken).KVv2("secret").GetVersionsAsList(context.Background(), "p")
	if err != nil || len(vs) != 3 || vs[0].Version != 3 {
		t.Fatalf("after 5 writes with max_versions 3: %v %+v", err, vs)
	}
}

func TestKVv1AndMountDetection(t *testing.T) {
	s := vaultserver.New(nil)
	defer s.Close()
	s.Mount("", "kv1", 1)
	c := client(t, s, vaultserver.RootToken)
	ctx := context.Background()
	if err := c.KVv1("kv1").Put(ctx, "app", map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.KVv1("kv1").Get(ctx, "app")
	if err != nil || got.Data["a"] != "b" {
		t.Fatalf("kv1 get: %v", err)
	}
	for _, tc := range []struct{ path, mount, version string }{
		{"kv1/app", "kv1/", "1"},
		{"secret/dharmamind/production", "secret/", "2"},
	} {
		sec, err := c.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if sec.Data["path"] != tc.mount || sec.Data["options"].(map[string]any)["version"] != tc.version {
			t.Fatalf("%s: mount %v options %v", tc.path, sec.Data["path"], sec.Data["options"])
		}
	}
	_, err = c.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/nomount/x")
	if status(err) != 403 || !strings.Contains(err.Error(), "preflight capability check returned 403") {
		t.Fatalf("no mount: %v, want Vault's 403", err)
	}
	mounts, err := c.Sys().ListMountsWithContext(ctx)
	if err != nil || mounts["kv1/"] == nil || mounts["kv1/"].Options["version"] != "1" || mounts["secret/"].Type != "kv" {
		t.Fatalf("sys/mounts: %v %+v", err, mounts)
	}
}

func TestTokensAndLogins(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := vaultserver.New(&vaultserver.Options{Now: clock})
	defer s.Close()
	s.AddAppRole(vaultserver.AppRole{RoleID: "role-1", SecretID: "sid-1", TokenTTL: time.Minute, TokenMaxTTL: 3 * time.Minute})
	s.AddK8sRole(vaultserver.K8sRole{Name: "app", JWTs: []string{"jwt-1"}, TokenTTL: time.Minute})
	ctx := context.Background()

	c := client(t, s, "")
	if _, err := c.KVv2("secret").Get(ctx, "x"); status(err) != 403 {
		t.Fatalf("no token: %v, want 403", err)
	}
	auth, err := approle.NewAppRoleAuth("role-1", &approle.SecretID{FromString: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Auth().Login(ctx, auth); status(err) != 400 || !strings.Contains(err.Error(), "invalid role or secret ID") {
		t.Fatalf("bad secret id: %v", err)
	}
	auth, _ = approle.NewAppRoleAuth("role-1", &approle.SecretID{FromString: "sid-1"})
	sec, err := c.Auth().Login(ctx, auth)
	if err != nil || sec.Auth.LeaseDuration != 60 || !sec.Auth.Renewable || c.Token() == "" {
		t.Fatalf("approle login: %v %+v", err, sec)
	}
	self, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ttl, _ := self.TokenTTL(); ttl != time.Minute {
		t.Fatalf("lookup-self ttl = %v", ttl)
	}
	advance(50 * time.Second)
	r, err := c.Auth().Token().RenewSelfWithContext(ctx, 0)
	if err != nil || r.Auth.LeaseDuration != 60 {
		t.Fatalf("renew-self: %v %+v", err, r)
	}
	advance(59 * time.Second)
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		t.Fatalf("renewed token expired early: %v", err)
	}
	advance(2 * time.Second)
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); status(err) != 403 {
		t.Fatalf("expired token: %v, want 403", err)
	}

	k := client(t, s, "")
	resp, err := k.Logical().WriteWithContext(ctx, "auth/kubernetes/login", map[string]any{"role": "app", "jwt": "jwt-1"})
	if err != nil || resp.Auth.ClientToken == "" {
		t.Fatalf("k8s login: %v", err)
	}
	if _, err := k.Logical().WriteWithContext(ctx, "auth/kubernetes/login", map[string]any{"role": "app", "jwt": "forged"}); status(err) != 403 {
		t.Fatalf("k8s login with a bad jwt: %v", err)
	}
}

func TestNamespacesAndSeal(t *testing.T) {
	s := vaultserver.New(nil)
	defer s.Close()
	s.Mount("team-a", "kv", 2)
	c := client(t, s, vaultserver.RootToken)
	ctx := context.Background()
	if _, err := c.KVv2("kv").Put(ctx, "p", map[string]any{"k": "v"}); err == nil {
		t.Fatalf("kv/ exists only in namespace team-a")
	}
	c.SetNamespace("team-a")
	if _, err := c.KVv2("kv").Put(ctx, "p", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if s.GetKV("team-a/", "kv", "p")["k"] != "v" {
		t.Fatalf("write did not land in namespace team-a")
	}
	s.Seal(true)
	_, err := c.KVv2("kv").Get(ctx, "p")
	if status(err) != 503 || !strings.Contains(err.Error(), "Vault is sealed") {
		t.Fatalf("sealed: %v", err)
	}
	s.Seal(false)
	if _, err := c.KVv2("kv").Get(ctx, "p"); err != nil {
		t.Fatalf("unsealed: %v", err)
	}
}

func TestFaults(t *testing.T) {
	s := vaultserver.New(nil)
	defer s.Close()
	ctx := context.Background()
	c := client(t, s, vaultserver.RootToken)
	if _, err := s.PutKV("", "secret", "p", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	read := func() error { _, err := c.KVv2("secret").Get(ctx, "p"); return err }

	s.FailNext(2, 502)
	//lint:ignore SA4000 each call is one request: two must fail, the third succeed
	if status(read()) != 502 || status(read()) != 502 || read() != nil {
		t.Fatalf("FailNext(2, 502) must fail exactly two requests")
	}
	s.Inject(vaultserver.Fault{Kind: vaultserver.FaultThrottle, RetryAfter: 3 * time.Second})
	req := c.NewRequest("GET", "/v1/secret/data/p")
	//lint:ignore SA1019 the test needs raw access to the Retry-After header
	resp, err := c.RawRequestWithContext(ctx, req)
	if status(err) != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("throttle: %v", err)
	}
	s.Inject(vaultserver.Fault{Kind: vaultserver.FaultTruncate})
	if err := read(); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("truncated body: %v, want an EOF error", err)
	}
	s.Inject(vaultserver.Fault{Kind: vaultserver.FaultHang, PathPrefix: "secret/"})
	hctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.KVv2("secret").Get(hctx, "p"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v, want the deadline", err)
	}
	if read() != nil {
		t.Fatalf("faults must be consumed")
	}
}

// TestOfficialClientForwardsTokenOnRedirect documents why the vault provider
// guards its transport: the api client follows a 307 itself, to any host,
// with the X-Vault-Token header.
func TestOfficialClientForwardsTokenOnRedirect(t *testing.T) {
	s := vaultserver.New(nil)
	defer s.Close()
	var sawToken atomic.Bool
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Vault-Token") != "" {
			sawToken.Store(true)
		}
		_, _ = io.WriteString(w, `{"data":{"data":{},"metadata":{"version":1}}}`)
	}))
	defer evil.Close()
	s.Inject(vaultserver.Fault{Kind: vaultserver.FaultRedirect, Location: evil.URL})
	_, _ = client(t, s, vaultserver.RootToken).KVv2("secret").Get(context.Background(), "p")
	if !sawToken.Load() {
		t.Fatalf("the api client no longer forwards the token across hosts; the provider's guard may be relaxed")
	}
}

func TestRequestLog(t *testing.T) {
	s := vaultserver.New(nil)
	defer s.Close()
	c := client(t, s, vaultserver.RootToken)
	_, _ = c.KVv2("secret").Get(context.Background(), "a")
	_, _ = c.KVv2("secret").Get(context.Background(), "b")
	if n := s.Count("GET", "secret/data/"); n != 2 {
		t.Fatalf("Count = %d, want 2", n)
	}
	if r := s.Requests(); len(r) != 2 || !r[0].HasToken {
		t.Fatalf("log: %+v", r)
	}
}
