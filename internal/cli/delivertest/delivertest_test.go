package delivertest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/delivertest"
	"github.com/keyward/keyward/internal/testing/awsserver"
	"github.com/keyward/keyward/internal/testing/azureserver"
	"github.com/keyward/keyward/internal/testing/gcpserver"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/awssm"
	"github.com/keyward/keyward/provider/azurekv"
	"github.com/keyward/keyward/provider/gcpsm"
	"github.com/keyward/keyward/provider/local"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/provider/vault"
)

// The Kubernetes layout runs the same suite in provider/k8s (its fake API
// server lives in that package's tests).

func TestDeliverLocal(t *testing.T) {
	delivertest.Run(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
		dir := t.TempDir()
		id, err := local.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		idf := filepath.Join(dir, "identity.txt")
		if err := local.WriteIdentityFile(idf, id); err != nil {
			t.Fatal(err)
		}
		s, err := local.OpenStore(filepath.Join(dir, "keyward.age"), &local.Options{IdentityFile: idf}, &keyward.StoreOptions{TTL: -1, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestDeliverMem(t *testing.T) {
	delivertest.Run(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
		s := mem.NewBackend().OpenStore(&keyward.StoreOptions{TTL: -1, Clock: clock})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func vaultStore(layout string) delivertest.NewStore {
	return func(t *testing.T, clock func() time.Time) *keyward.Store {
		srv := vaultserver.New(nil)
		t.Cleanup(srv.Close)
		srv.Mount("", "dharmamind", 2)
		d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: vaultserver.RootToken,
			Path: "dharmamind/production", Layout: layout, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Clock: clock, URL: "vault://test/dharmamind/production"})
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestDeliverVaultBundle(t *testing.T) { delivertest.Run(t, vaultStore(vault.LayoutBundle)) }
func TestDeliverVaultKeys(t *testing.T)   { delivertest.Run(t, vaultStore(vault.LayoutKeys)) }

// Obviously fake AWS credentials: the in-process server checks that
// requests are signed, not who signed them.
func awsStore(mode awssm.Mode) delivertest.NewStore {
	return func(t *testing.T, clock func() time.Time) *keyward.Store {
		srv := awsserver.New(t)
		c := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIAKEYWARDTESTFAKE0", "keyward-test-fake-secret-access-key-not-real", "")})
		s, err := awssm.OpenStore("dharmamind/production", &awssm.Options{Mode: mode, Client: c}, &keyward.StoreOptions{TTL: -1, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestDeliverAWSBundle(t *testing.T) { delivertest.Run(t, awsStore(awssm.ModeBundle)) }
func TestDeliverAWSKeys(t *testing.T)   { delivertest.Run(t, awsStore(awssm.ModeKeys)) }

func TestDeliverGCP(t *testing.T) {
	delivertest.Run(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
		srv := gcpserver.New(t)
		d, err := gcpsm.NewDriver("keyward-test", &gcpsm.Options{Endpoint: srv.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Clock: clock})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestDeliverAzure(t *testing.T) {
	delivertest.Run(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
		srv := azureserver.New(t)
		d, err := azurekv.NewDriver("keyward-test.vault.azure.net", &azurekv.Options{Endpoint: srv.URL()})
		if err != nil {
			t.Fatal(err)
		}
		s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Clock: clock})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestDeliverGuideBundle: a bundle written by the guide's own
// rotate_jwt_secret (jwt_secret_key_old, no rotation record) delivers one
// JWT_SECRET_KEY_OLD — the stored field is the ring's previous value, not a
// second variable — and a call to KeyRings reads the bundle once.
func TestDeliverGuideBundle(t *testing.T) {
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", `{"jwt_secret_key":"guide-canary-new-0123456789abcdef","jwt_secret_key_old":"guide-canary-old-0123456789abcdef","database_url":"postgresql://guide-canary"}`)
	c := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAKEYWARDTESTFAKE0", "keyward-test-fake-secret-access-key-not-real", "")})
	s, err := awssm.OpenStore("dharmamind/production", &awssm.Options{Mode: awssm.ModeBundle, Client: c}, &keyward.StoreOptions{TTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.ResetCalls()
	rings, err := s.KeyRings(context.Background(), []string{"JWT_SECRET_KEY", "DATABASE_URL"})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls("GetSecretValue") + srv.Calls("BatchGetSecretValue"); n != 1 {
		t.Errorf("KeyRings of two keys read the bundle %d times, want 1", n)
	}
	if r := rings["JWT_SECRET_KEY"]; len(r.Previous) != 1 || !r.Previous[0].Secret.Equal(keyward.NewSecretString("guide-canary-old-0123456789abcdef")) {
		t.Fatalf("the guide's jwt_secret_key_old is not the ring's previous value (%d previous)", len(r.Previous))
	}
	env := delivertest.RunEnv(t, s)
	if got := env["JWT_SECRET_KEY_OLD"]; len(got) != 1 || got[0] != "guide-canary-old-0123456789abcdef" {
		t.Fatalf("JWT_SECRET_KEY_OLD delivered %d times (want once, the old value)", len(got))
	}
	for _, n := range []string{"JWT_SECRET_KEY_ROTATION", "JWT_SECRET_KEY_PENDING"} {
		if len(env[n]) != 0 {
			t.Errorf("%s delivered", n)
		}
	}
}
