package gcpserver

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func TestServiceSemantics(t *testing.T) {
	ctx := context.Background()
	s := New(t)
	_, err := s.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p-1", SecretId: "a"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("CreateSecret without replication: %v, want InvalidArgument", err)
	}
	if _, err := s.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p-1", SecretId: "a",
		Secret: &secretmanagerpb.Secret{Replication: automatic()}}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p-1/secrets/a/versions/latest"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("latest of a secret with no versions: %v, want NotFound", err)
	}
	bad := int64(12345)
	_, err = s.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p-1/secrets/a",
		Payload: &secretmanagerpb.SecretPayload{Data: []byte("x"), DataCrc32C: &bad}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("AddSecretVersion with a wrong checksum: %v, want InvalidArgument", err)
	}
	v, err := s.Seed("p-1", "a", []byte("x"))
	if err != nil || v != "1" {
		t.Fatalf("Seed = %q, %v", v, err)
	}
	// Names come back by project number, and the number is accepted too.
	r, err := s.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p-1/secrets/a/versions/1"})
	if err != nil {
		t.Fatal(err)
	}
	num := projectNumber("p-1")
	if !strings.HasPrefix(r.GetName(), "projects/"+num+"/") {
		t.Fatalf("name %q is not by project number", r.GetName())
	}
	if _, err := s.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/" + num + "/secrets/a"}); err != nil {
		t.Fatalf("by project number: %v", err)
	}
	_, err = s.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p-1/secrets/a/versions/0"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("version 0: %v, want InvalidArgument", err)
	}
	for i := 0; i < 4; i++ {
		if _, err := s.Seed("p-1", "b"+strings.Repeat("x", i), []byte("y")); err != nil {
			t.Fatal(err)
		}
	}
	var got int
	tok := ""
	for pages := 0; ; pages++ {
		resp, err := s.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/p-1", PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		got += len(resp.GetSecrets())
		if tok = resp.GetNextPageToken(); tok == "" {
			if pages != 2 {
				t.Fatalf("5 secrets in pages of 2 took %d pages", pages+1)
			}
			break
		}
	}
	if got != 5 {
		t.Fatalf("listed %d secrets, want 5", got)
	}
}

// UpdateSecret is the service's compare-and-swap: a stale etag fails with
// FAILED_PRECONDITION and changes nothing; every update gets a new etag;
// adding a version leaves the secret's etag alone.
func TestUpdateSecretEtag(t *testing.T) {
	ctx := context.Background()
	s := New(t)
	if _, err := s.Seed("p-1", "a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	name := "projects/p-1/secrets/a"
	sec, err := s.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	e0 := sec.GetEtag()
	if _, err := s.Seed("p-1", "a", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if sec, _ = s.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: name}); sec.GetEtag() != e0 {
		t.Fatal("adding a version changed the secret's etag")
	}
	mask := &fieldmaskpb.FieldMask{Paths: []string{"annotations"}}
	up, err := s.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret: &secretmanagerpb.Secret{Name: name, Etag: e0, Annotations: map[string]string{"k": "1"}}, UpdateMask: mask})
	if err != nil || up.GetEtag() == e0 || up.GetAnnotations()["k"] != "1" {
		t.Fatalf("UpdateSecret with the current etag: %v (etag changed: %v)", err, up.GetEtag() != e0)
	}
	_, err = s.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret: &secretmanagerpb.Secret{Name: name, Etag: e0, Annotations: map[string]string{"k": "2"}}, UpdateMask: mask})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("UpdateSecret with a stale etag: %v, want FailedPrecondition", err)
	}
	if sec, _ = s.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: name}); sec.GetAnnotations()["k"] != "1" {
		t.Fatal("a refused update changed the secret")
	}
	_, err = s.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{Secret: &secretmanagerpb.Secret{Name: name}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("UpdateSecret without update_mask: %v, want InvalidArgument", err)
	}
	_, err = s.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret: &secretmanagerpb.Secret{Name: name, Annotations: map[string]string{"-bad": "v"}}, UpdateMask: mask})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("an invalid annotation key: %v, want InvalidArgument", err)
	}
	if _, err := s.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: name, Etag: e0}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("DeleteSecret with a stale etag: %v, want FailedPrecondition", err)
	}
}
