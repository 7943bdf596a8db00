//go:build !keyward_omit_gcpsm

package gcpsm_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/internal/cloudsm"
	"github.com/keyward/keyward/internal/testing/gcpserver"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/provider/gcpsm"
)

const project = "keyward-test"

// TestConformance: the in-process Secret Manager, every listing across
// pages.
func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		srv := gcpserver.New(t)
		srv.PageSize = 1
		return &providertest.Harness{
			Open: func() (driver.Store, error) { return gcpsm.NewDriver(project, &gcpsm.Options{Endpoint: srv.Addr()}) },
			SeedFunc: func(key string, data []byte) error {
				_, err := srv.Seed(project, cloudsm.GuideName(key), data)
				return err
			},
			Capabilities: drivertest.Caps{BinaryValues: true, CheckAndSet: true},
		}, nil
	})
}

func newStore(t *testing.T, srv *gcpserver.Server, opts *keyward.StoreOptions) *keyward.Store {
	return providertest.Open(t, func() (*keyward.Store, error) {
		return gcpsm.OpenStore(project, &gcpsm.Options{Endpoint: srv.Addr()}, opts)
	})
}

func TestGuideNameMapping(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	if _, err := srv.Seed(project, "jwt-secret-key", []byte("guide-jwt")); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, srv, &keyward.StoreOptions{TTL: -1})
	if _, err := s.Put(ctx, "DATABASE_URL", keyward.NewSecretString("postgresql://x"), nil); err != nil {
		t.Fatal(err)
	}
	providertest.GuideNames(t, s, "guide-jwt", []string{"JWT_SECRET_KEY", "jwt-secret-key", "jwt_secret_key"}, "DATABASE_URL,JWT_SECRET_KEY")
	if srv.Calls("CreateSecret") != 1 { // Put's first write creates the secret (Seed bypasses gRPC)
		t.Fatalf("CreateSecret called %d times, want 1", srv.Calls("CreateSecret"))
	}
}

func TestExactNames(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	if _, err := srv.Seed(project, "Legacy_Secret", []byte("legacy")); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("gcpsm://projects/" + project + "?names=exact&endpoint=" + srv.Addr())
	d, err := gcpsm.OpenURL(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, nil)
	defer s.Close()
	if v, err := s.Get(ctx, "Legacy_Secret"); err != nil || v.RevealString() != "legacy" {
		t.Fatalf("names=exact Get: %v", err)
	}
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 1 || infos[0].Key != "Legacy_Secret" {
		t.Fatalf("names=exact List = %v, %v", infos, err)
	}
}

func TestURLs(t *testing.T) {
	t.Setenv("GCP_PROJECT", "from-env")
	t.Setenv("KEYWARD_GCPSM_ENDPOINT", "127.0.0.1:1")
	providertest.OpenURLs(t, gcpsm.OpenURL, append(providertest.EndpointCases("gcpsm://p1234"), []providertest.URLCase{
		{URL: "gcpsm://projects/dharmamind-prod"},
		{URL: "gcpsm://dharmamind-prod"},
		{URL: "gcpsm://projects/123456789012/"},
		{URL: "gcpsm://"},
		{URL: "gcpsm://p1234?endpoint=[::1]:8085"}, // no scheme: plaintext for loopback
		{URL: "gcpsm://p1234?endpoint=secretmanager.example.com", WantErr: "must be HOST:PORT"},
		{URL: "gcpsm://p1234?endpoint=ftp://127.0.0.1:1", WantErr: "unsupported scheme"},
		{URL: "gcpsm://projects/a/b", WantErr: "not a project"},
		{URL: "gcpsm://Bad_Project", WantErr: "not a project"},
	}...))
	t.Setenv("GCP_PROJECT", "")
	providertest.OpenURLs(t, gcpsm.OpenURL, []providertest.URLCase{{URL: "gcpsm://", WantErr: "GCP_PROJECT"}})
}

func TestDisabledVersions(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	s := newStore(t, srv, &keyward.StoreOptions{TTL: -1})
	for _, v := range []string{"one", "two", "three"} {
		if _, err := srv.Seed(project, "rotating", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.SetVersionState(project, "rotating", "2", secretmanagerpb.SecretVersion_DISABLED); err != nil {
		t.Fatal(err)
	}
	vs, err := s.History(ctx, "ROTATING")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || vs[0].ID != "1" || vs[1].ID != "2" || vs[2].ID != "3" || !vs[1].Disabled || vs[0].Disabled || vs[2].Disabled {
		t.Fatalf("History = %+v, want versions 1,2,3 oldest first with 2 disabled", vs)
	}
	_, err = s.GetValue(ctx, "ROTATING", &keyward.GetOptions{Version: "2"})
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("reading a disabled version: code %v, want FailedPrecondition", keyward.ErrorCode(err))
	}
	// A disabled newest version fails `latest` too, as the service does.
	if err := srv.SetVersionState(project, "rotating", "3", secretmanagerpb.SecretVersion_DESTROYED); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "ROTATING")
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("reading latest when it is destroyed: code %v, want FailedPrecondition", keyward.ErrorCode(err))
	}
	if v, err := s.GetValue(ctx, "ROTATING", &keyward.GetOptions{Version: "1"}); err != nil || v.Secret.RevealString() != "one" {
		t.Fatalf("reading version 1: %v", err)
	}
}

func TestChecksumMismatchIsNeverReturned(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	if _, err := srv.Seed(project, "crc", []byte("intact-value")); err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(gcpserver.Fault{Method: "AccessSecretVersion", CorruptCRC: true})
	s := newStore(t, srv, &keyward.StoreOptions{TTL: -1, Retries: 2, RetryBase: time.Millisecond})
	v, err := s.Get(ctx, "CRC")
	if err == nil {
		t.Fatalf("a payload with a bad checksum was returned (%d bytes)", v.Len())
	}
	if !strings.Contains(err.Error(), "checksum mismatch") || keyward.ErrorCode(err) != keyward.Unavailable {
		t.Fatalf("error = %v (code %v), want a checksum mismatch classified Unavailable", err, keyward.ErrorCode(err))
	}
	if n := srv.Calls("AccessSecretVersion"); n != 3 {
		t.Fatalf("AccessSecretVersion called %d times, want 3 (1 + 2 retries)", n)
	}
	// A single corrupted transfer is retried and the intact value served.
	srv.ClearFaults()
	srv.InjectFault(gcpserver.Fault{Method: "AccessSecretVersion", CorruptCRC: true, Times: 1})
	if v, err := s.Get(ctx, "CRC"); err != nil || v.RevealString() != "intact-value" {
		t.Fatalf("after one corrupted transfer: %v", err)
	}
}

func TestWriteSendsChecksum(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	s := newStore(t, srv, nil)
	ver, err := s.Put(ctx, "WRITTEN", keyward.NewSecretString("w"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ver.ID != "1" || ver.Created.IsZero() {
		t.Fatalf("Put returned version %+v, want id 1 with a creation time", ver)
	}
	c, err := grpcClientFor(t, srv)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: "projects/" + project + "/secrets/written/versions/1"})
	if err != nil {
		t.Fatal(err)
	}
	if !sv.GetClientSpecifiedPayloadChecksum() {
		t.Fatalf("the write did not send a CRC32C checksum")
	}
}

// setClaim writes the keyward-cas annotation as a rival writer would.
func setClaim(t *testing.T, srv *gcpserver.Server, id, value string) {
	t.Helper()
	name := "projects/" + project + "/secrets/" + id
	sec, err := srv.GetSecret(context.Background(), &secretmanagerpb.GetSecretRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.UpdateSecret(context.Background(), &secretmanagerpb.UpdateSecretRequest{
		Secret:     &secretmanagerpb.Secret{Name: name, Etag: sec.GetEtag(), Annotations: map[string]string{"keyward-cas": value}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"annotations"}},
	}); err != nil {
		t.Fatal(err)
	}
}

// A rival's live claim on the expected version refuses the write (nothing
// added); an expired one does not; a claim whose version was added stops
// mattering.
func TestCheckAndSetClaims(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	s := newStore(t, srv, nil)
	if _, err := srv.Seed(project, "cas", []byte("a")); err != nil {
		t.Fatal(err)
	}
	setClaim(t, srv, "cas", "1 until "+time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
	_, err := s.Put(ctx, "CAS", keyward.NewSecretString("b"), &keyward.PutOptions{IfVersion: "1"})
	if c := keyward.ErrorCode(err); c != keyward.FailedPrecondition {
		t.Fatalf("Put under a rival's live claim: code %v (%v), want FailedPrecondition", c, err)
	}
	if n := srv.Calls("AddSecretVersion"); n != 0 { // Seed does not call over gRPC
		t.Fatalf("AddSecretVersion called %d times, want 0: a refused write added a version", n)
	}
	setClaim(t, srv, "cas", "1 until "+time.Now().Add(-2*time.Minute).UTC().Format(time.RFC3339Nano))
	v, err := s.Put(ctx, "CAS", keyward.NewSecretString("b"), &keyward.PutOptions{IfVersion: "1"})
	if err != nil || v.ID != "2" {
		t.Fatalf("Put over an expired claim: %v %v, want version 2", v.ID, err)
	}
	// The claim on 1 is still recorded; it does not block writes on 2.
	if _, err := s.Put(ctx, "CAS", keyward.NewSecretString("c"), &keyward.PutOptions{IfVersion: "2"}); err != nil {
		t.Fatalf("Put on the new version: %v", err)
	}
}

// A stale etag (a rival updated the secret between our read and our claim)
// is a conflict, and a failed add releases the claim so the next writer is
// not blocked until it expires.
func TestCheckAndSetClaimRace(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	s := newStore(t, srv, &keyward.StoreOptions{Retries: -1})
	if _, err := srv.Seed(project, "cas", []byte("a")); err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(gcpserver.Fault{Method: "AddSecretVersion", Code: codes.Unavailable, Times: 1})
	if _, err := s.Put(ctx, "CAS", keyward.NewSecretString("b"), &keyward.PutOptions{IfVersion: "1"}); keyward.ErrorCode(err) != keyward.Unavailable {
		t.Fatalf("Put with a failing add: %v, want Unavailable", err)
	}
	if _, err := s.Put(ctx, "CAS", keyward.NewSecretString("b"), &keyward.PutOptions{IfVersion: "1"}); err != nil {
		t.Fatalf("Put after a failed add was blocked by its claim: %v", err)
	}
	// UpdateSecret refused for a stale etag: FailedPrecondition, as the
	// service answers, and the driver calls it a conflict.
	srv.InjectFault(gcpserver.Fault{Method: "UpdateSecret", Code: codes.FailedPrecondition, Times: 1})
	_, err := s.Put(ctx, "CAS", keyward.NewSecretString("c"), &keyward.PutOptions{IfVersion: "2"})
	if c := keyward.ErrorCode(err); c != keyward.FailedPrecondition {
		t.Fatalf("Put whose claim lost the etag race: code %v, want FailedPrecondition", c)
	}
	if n := srv.Calls("AddSecretVersion"); n != 2 { // the failed one and the success
		t.Fatalf("AddSecretVersion called %d times, want 2: the refused write added a version", n)
	}
}

func TestCheckAndSet(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	s := newStore(t, srv, nil)
	if _, err := s.Put(ctx, "CAS", keyward.NewSecretString("a"), &keyward.PutOptions{IfVersion: "0"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Put(ctx, "CAS", keyward.NewSecretString("b"), &keyward.PutOptions{IfVersion: "0"})
	if c := keyward.ErrorCode(err); c != keyward.AlreadyExists {
		t.Fatalf("create-only Put of an existing secret: code %v, want AlreadyExists", c)
	}
	_, err = s.Put(ctx, "CAS", keyward.NewSecretString("b"), &keyward.PutOptions{IfVersion: "7"})
	if c := keyward.ErrorCode(err); c != keyward.FailedPrecondition {
		t.Fatalf("Put with a stale version: code %v, want FailedPrecondition", c)
	}
	if _, err := s.Put(ctx, "CAS", keyward.NewSecretString("b"), &keyward.PutOptions{IfVersion: "1"}); err != nil {
		t.Fatal(err)
	}
}

// Fault injection through keyward.Store: the Store's retry policy, not the
// client library's, is in force.
func TestFaults(t *testing.T) {
	canary := "KWCANARY-gcp-fault-" + fmt.Sprint(time.Now().UnixNano())
	for _, tc := range []struct {
		name      string
		fault     gcpserver.Fault
		opts      keyward.StoreOptions
		wantCode  keyward.Code
		wantCalls int
	}{
		{name: "unavailable then success is retried", fault: gcpserver.Fault{Code: codes.Unavailable, Times: 2},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.OK, wantCalls: 3},
		{name: "throttling is retried", fault: gcpserver.Fault{Code: codes.ResourceExhausted, Times: 1},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.OK, wantCalls: 2},
		{name: "internal error is retried", fault: gcpserver.Fault{Code: codes.Internal, Times: 1},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.OK, wantCalls: 2},
		{name: "persistent outage gives up after the Store's retries", fault: gcpserver.Fault{Code: codes.Unavailable},
			opts: keyward.StoreOptions{Retries: 2}, wantCode: keyward.Unavailable, wantCalls: 3},
		{name: "permission denied is not retried", fault: gcpserver.Fault{Code: codes.PermissionDenied},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.PermissionDenied, wantCalls: 1},
		{name: "unauthenticated is permission denied", fault: gcpserver.Fault{Code: codes.Unauthenticated},
			opts: keyward.StoreOptions{Retries: 3}, wantCode: keyward.PermissionDenied, wantCalls: 1},
		{name: "hang ends at the Store's deadline", fault: gcpserver.Fault{Hang: true},
			opts: keyward.StoreOptions{Retries: 1, Timeout: 200 * time.Millisecond}, wantCode: keyward.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := gcpserver.New(t)
			if _, err := srv.Seed(project, "jwt-secret-key", []byte(canary)); err != nil {
				t.Fatal(err)
			}
			srv.InjectFault(tc.fault)
			o := tc.opts
			o.TTL = -1
			o.RetryBase = time.Millisecond
			s := newStore(t, srv, &o)
			providertest.FaultGet(t, s, "JWT_SECRET_KEY", canary, tc.wantCode,
				func() int { return srv.Calls("AccessSecretVersion") }, tc.wantCalls)
		})
	}
}

func TestStaleIfErrorDuringOutage(t *testing.T) {
	srv := gcpserver.New(t)
	if _, err := srv.Seed(project, "jwt-secret-key", []byte("cached-value")); err != nil {
		t.Fatal(err)
	}
	providertest.StaleIfError(t, func(o *keyward.StoreOptions) *keyward.Store { return newStore(t, srv, o) },
		"JWT_SECRET_KEY", "cached-value",
		func() { srv.InjectFault(gcpserver.Fault{Code: codes.Unavailable}) },
		func() { srv.ClearFaults(); srv.InjectFault(gcpserver.Fault{Code: codes.PermissionDenied}) })
}

func TestUnreachableIsUnavailable(t *testing.T) {
	srv := gcpserver.New(t)
	addr := srv.Addr()
	srv.Close()
	d, err := gcpsm.NewDriver(project, &gcpsm.Options{Endpoint: addr})
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1, Timeout: 5 * time.Second})
	defer s.Close()
	_, err = s.Get(context.Background(), "K")
	if c := keyward.ErrorCode(err); c != keyward.Unavailable && c != keyward.DeadlineExceeded {
		t.Fatalf("refused connection: code %v (%v), want Unavailable", c, err)
	}
}

func TestAs(t *testing.T) {
	ctx := context.Background()
	srv := gcpserver.New(t)
	s := newStore(t, srv, nil)
	var c *secretmanager.Client
	if !s.As(&c) || c == nil {
		t.Fatalf("As(**secretmanager.Client) = false")
	}
	_, err := s.GetValue(ctx, "K", &keyward.GetOptions{Version: "9"})
	if !errors.Is(err, keyward.ErrNotFound) {
		t.Fatalf("missing secret: %v, want NotFound", err)
	}
	var st interface{ GRPCStatus() *status.Status }
	if !s.ErrorAs(err, &st) || st.GRPCStatus().Code() != codes.NotFound {
		t.Fatalf("ErrorAs does not reach the gRPC status")
	}
}

func grpcClientFor(t *testing.T, srv *gcpserver.Server) (*secretmanager.Client, error) {
	s := newStore(t, srv, nil)
	var c *secretmanager.Client
	if !s.As(&c) {
		return nil, errors.New("As(**secretmanager.Client) = false")
	}
	return c, nil
}
