package gcpserver

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
