//go:build !keyward_omit_azurekv

package azurekv_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/internal/cloudsm"
	"github.com/keyward/keyward/internal/testing/azureserver"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/provider/azurekv"
)

const vaultHost = "keyward-test.vault.azure.net"

// TestConformance: the in-process Key Vault, every listing following
// nextLink; Key Vault holds text values only.
func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		srv := azureserver.New(t)
		srv.PageSize = 1
		return &providertest.Harness{
			Open: func() (driver.Store, error) {
				return azurekv.NewDriver(vaultHost, &azurekv.Options{Endpoint: srv.URL()})
			},
			SeedFunc: func(key string, data []byte) error {
				_, err := srv.Seed(cloudsm.GuideName(key), string(data))
				return err
			},
		}, nil
	})
}

func newStore(t *testing.T, srv *azureserver.Server, opts *keyward.StoreOptions) *keyward.Store {
	return providertest.Open(t, func() (*keyward.Store, error) {
		return azurekv.OpenStore(vaultHost, &azurekv.Options{Endpoint: srv.URL()}, opts)
	})
}

func TestGuideNameMapping(t *testing.T) {
	srv := azureserver.New(t)
	if _, err := srv.Seed("jwt-secret-key", "guide-jwt"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Seed("Stripe-Secret-Key", "stripe"); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, srv, &keyward.StoreOptions{TTL: -1})
	providertest.GuideNames(t, s, "guide-jwt", []string{"JWT_SECRET_KEY", "jwt-secret-key", "Jwt_Secret_Key"}, "JWT_SECRET_KEY,STRIPE_SECRET_KEY")
}

func TestURLs(t *testing.T) {
	t.Setenv("AZURE_VAULT_URL", "https://dharmamind-vault.vault.azure.net/")
	t.Setenv("KEYWARD_AZUREKV_ENDPOINT", "")
	providertest.OpenURLs(t, azurekv.OpenURL, append(providertest.EndpointCases("azurekv://v.vault.azure.net"), []providertest.URLCase{
		{URL: "azurekv://dharmamind-vault.vault.azure.net"},
		{URL: "azurekv://dharmamind-vault"},
		{URL: "azurekv://"},
		{URL: "azurekv://v.vault.azure.net?endpoint=http://127.0.0.1:8443"},
		{URL: "azurekv://v.vault.azure.net?endpoint=https://kv.example.com"},
		{URL: "azurekv://v.vault.azure.net?endpoint=http://10.1.2.3", WantErr: "refusing plaintext endpoint"},
		{URL: "azurekv://v.vault.azure.net?endpoint=http://127.0.0.1/x", WantErr: "base URL"},
		{URL: "azurekv://v.vault.azure.net/secrets", WantErr: "no path"},
		{URL: "azurekv://bad_host", WantErr: "not a vault host"},
	}...))
	t.Setenv("AZURE_VAULT_URL", "")
	providertest.OpenURLs(t, azurekv.OpenURL, []providertest.URLCase{{URL: "azurekv://", WantErr: "AZURE_VAULT_URL"}})
}

type recordingCred struct{ calls atomic.Int32 }

func (c *recordingCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	return azcore.AccessToken{Token: "REAL-CREDENTIAL-MUST-NOT-LEAK", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// A loopback http endpoint is an emulator: the configured (real)
// credential is never asked for a token and never sent.
func TestEmulatorEndpointNeverUsesRealCredential(t *testing.T) {
	ctx := context.Background()
	srv := azureserver.New(t)
	srv.Token = "keyward-emulator-token"
	if _, err := srv.Seed("k", "v"); err != nil {
		t.Fatal(err)
	}
	cred := &recordingCred{}
	d, err := azurekv.NewDriver(vaultHost, &azurekv.Options{Endpoint: srv.URL(), Credential: cred})
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, nil)
	defer s.Close()
	if _, err := s.Get(ctx, "K"); err != nil {
		t.Fatal(err)
	}
	if n := cred.calls.Load(); n != 0 {
		t.Fatalf("the real credential was asked for a token %d times for a plaintext endpoint", n)
	}
	// The first request elicited the bearer challenge; the authorized retry
	// of the same request is what reached the handler.
	if srv.Calls(azureserver.OpGet) != 1 {
		t.Fatalf("GetSecret reached the handler %d times, want 1", srv.Calls(azureserver.OpGet))
	}
}

func TestDisabledAndSoftDeleted(t *testing.T) {
	ctx := context.Background()
	srv := azureserver.New(t)
	s := newStore(t, srv, &keyward.StoreOptions{TTL: -1})
	v1, err := s.Put(ctx, "ROTATING", keyward.NewSecretString("one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(v1.ID) != 32 || v1.Created.IsZero() {
		t.Fatalf("Put returned version %+v, want a 32-hex id with a creation time", v1)
	}
	if _, err := s.Put(ctx, "ROTATING", keyward.NewSecretString("two"), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetEnabled("rotating", v1.ID, false); err != nil {
		t.Fatal(err)
	}
	vs, err := s.History(ctx, "ROTATING")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].ID != v1.ID || !vs[0].Disabled || vs[1].Disabled {
		t.Fatalf("History = %+v, want the first version disabled, oldest first", vs)
	}
	_, err = s.GetValue(ctx, "ROTATING", &keyward.GetOptions{Version: v1.ID})
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("reading a disabled version: code %v (%v), want FailedPrecondition", keyward.ErrorCode(err), err)
	}
	if v, err := s.Get(ctx, "ROTATING"); err != nil || v.RevealString() != "two" {
		t.Fatalf("current version: %v", err)
	}
	if err := s.Delete(ctx, "ROTATING"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctx, "ROTATING", keyward.NewSecretString("three"), nil)
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("writing a soft-deleted name: code %v (%v), want FailedPrecondition", keyward.ErrorCode(err), err)
	}
}

func TestBinaryValueRefused(t *testing.T) {
	srv := azureserver.New(t)
	s := newStore(t, srv, nil)
	_, err := s.Put(context.Background(), "RAW", keyward.NewSecret([]byte{0xff, 0xfe, 0x00}), nil)
	if keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("Put of invalid UTF-8: code %v, want InvalidArgument", keyward.ErrorCode(err))
	}
	if srv.Calls(azureserver.OpSet) != 0 {
		t.Fatalf("the invalid value was sent")
	}
}

// Key Vault has no conditional write: a plain IfVersion is refused with
// Unimplemented and nothing is sent; BestEffortCheck (rotation) gets the
// check made just before the write.
func TestCheckAndSetRefusedUnlessBestEffort(t *testing.T) {
	ctx := context.Background()
	srv := azureserver.New(t)
	s := newStore(t, srv, nil)
	for _, ifv := range []string{"0", strings.Repeat("0", 32)} {
		_, err := s.Put(ctx, "CAS", keyward.NewSecretString("a"), &keyward.PutOptions{IfVersion: ifv})
		if c := keyward.ErrorCode(err); c != keyward.Unimplemented {
			t.Fatalf("Put with IfVersion %q: code %v (%v), want Unimplemented", ifv, c, err)
		}
		if !strings.Contains(err.Error(), "no conditional write") || !strings.Contains(err.Error(), "nothing was written") {
			t.Fatalf("the refusal does not say why: %v", err)
		}
	}
	if n := srv.Calls(azureserver.OpSet); n != 0 {
		t.Fatalf("a refused check-and-set sent %d writes", n)
	}
	be := func(v string) *keyward.PutOptions { return &keyward.PutOptions{IfVersion: v, BestEffortCheck: true} }
	v1, err := s.Put(ctx, "CAS", keyward.NewSecretString("a"), be("0"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctx, "CAS", keyward.NewSecretString("b"), be("0"))
	if c := keyward.ErrorCode(err); c != keyward.AlreadyExists {
		t.Fatalf("create-only Put of an existing secret: code %v, want AlreadyExists", c)
	}
	_, err = s.Put(ctx, "CAS", keyward.NewSecretString("b"), be(strings.Repeat("0", 32)))
	if c := keyward.ErrorCode(err); c != keyward.FailedPrecondition {
		t.Fatalf("Put with a stale version: code %v, want FailedPrecondition", c)
	}
	if _, err := s.Put(ctx, "CAS", keyward.NewSecretString("b"), be(v1.ID)); err != nil {
		t.Fatal(err)
	}
}

// Fault injection through keyward.Store: the Store's retry policy, not the
// SDK's, is in force.
func TestFaults(t *testing.T) {
	canary := fmt.Sprintf("KWCANARY-azure-fault-%d", time.Now().UnixNano())
	for _, tc := range []struct {
		name      string
		fault     azureserver.Fault
		token     string
		opts      keyward.StoreOptions
		wantCode  keyward.Code
		wantCalls int
	}{
		{name: "503 then success is retried", fault: azureserver.Fault{Status: 503, Times: 2},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.OK, wantCalls: 3},
		{name: "500 is retried", fault: azureserver.Fault{Status: 500, Times: 1},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.OK, wantCalls: 2},
		{name: "429 with Retry-After is retried", fault: azureserver.Fault{Status: 429, RetryAfter: "0", Times: 1},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.OK, wantCalls: 2},
		{name: "truncated body is retried", fault: azureserver.Fault{Truncate: true, Times: 1},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.OK, wantCalls: 2},
		{name: "persistent outage gives up after the Store's retries", fault: azureserver.Fault{Status: 503},
			opts: keyward.StoreOptions{Retries: 2}, wantCode: keyward.Unavailable, wantCalls: 3},
		{name: "403 is not retried", fault: azureserver.Fault{Status: 403},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.PermissionDenied, wantCalls: 1},
		{name: "a rejected token is permission denied, not retried", token: "only-this-token",
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.PermissionDenied},
		{name: "hang ends at the Store's deadline", fault: azureserver.Fault{Hang: true},
			opts: keyward.StoreOptions{Retries: 1, Timeout: 200 * time.Millisecond}, wantCode: keyward.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := azureserver.New(t)
			srv.Token = tc.token
			if _, err := srv.Seed("jwt-secret-key", canary); err != nil {
				t.Fatal(err)
			}
			if tc.fault != (azureserver.Fault{}) {
				srv.InjectFault(tc.fault)
			}
			o := tc.opts
			o.TTL = -1
			o.RetryBase = time.Millisecond
			s := newStore(t, srv, &o)
			providertest.FaultGet(t, s, "JWT_SECRET_KEY", canary, tc.wantCode,
				func() int { return srv.Calls(azureserver.OpGet) }, tc.wantCalls)
		})
	}
}

func TestRetryAfterIsReported(t *testing.T) {
	srv := azureserver.New(t)
	if _, err := srv.Seed("k", "v"); err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(azureserver.Fault{Status: 429, RetryAfter: "7"})
	s := newStore(t, srv, &keyward.StoreOptions{TTL: -1, Retries: -1})
	_, err := s.Get(context.Background(), "K")
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second {
		t.Fatalf("a 429 with Retry-After: 7 does not report a 7s RetryAfter (%v)", err)
	}
	var re *azcore.ResponseError
	if !s.ErrorAs(err, &re) || re.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("ErrorAs does not reach *azcore.ResponseError")
	}
}

func TestStaleIfErrorDuringOutage(t *testing.T) {
	srv := azureserver.New(t)
	if _, err := srv.Seed("jwt-secret-key", "cached-value"); err != nil {
		t.Fatal(err)
	}
	providertest.StaleIfError(t, func(o *keyward.StoreOptions) *keyward.Store { return newStore(t, srv, o) },
		"JWT_SECRET_KEY", "cached-value",
		func() { srv.InjectFault(azureserver.Fault{Status: 503}) },
		func() { srv.ClearFaults(); srv.InjectFault(azureserver.Fault{Status: 403}) })
}

func TestRefusedConnectionIsUnavailable(t *testing.T) {
	srv := azureserver.New(t)
	u := srv.URL()
	srv.Close()
	d, err := azurekv.NewDriver(vaultHost, &azurekv.Options{Endpoint: u})
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1})
	defer s.Close()
	_, err = s.Get(context.Background(), "K")
	if c := keyward.ErrorCode(err); c != keyward.Unavailable {
		t.Fatalf("refused connection: code %v (%v), want Unavailable", c, err)
	}
}

func TestAs(t *testing.T) {
	srv := azureserver.New(t)
	s := newStore(t, srv, nil)
	var c *azsecrets.Client
	if !s.As(&c) || c == nil {
		t.Fatalf("As(**azsecrets.Client) = false")
	}
}
