package local_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/provider/local"
)

// TestPolicyListsRecipients: the local store's "policy" is who can decrypt
// it today, read from the clear header, with the command to remove each.
func TestPolicyListsRecipients(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "production.age")
	var recips []string
	for range 2 {
		id, err := local.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		recips = append(recips, id.Recipient().String())
	}
	if err := local.Create(context.Background(), path, recips, false); err != nil {
		t.Fatal(err)
	}
	u, err := policy.ParseURL("local://" + filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := policy.Derive(context.Background(), &policy.Request{URL: u, Access: policy.Read, All: true})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(recips)
	got := slices.Clone(doc.Holders)
	slices.Sort(got)
	if !slices.Equal(got, recips) {
		t.Fatalf("holders = %v, want %v", doc.Holders, recips)
	}
	for _, r := range recips {
		if !strings.Contains(doc.Native, "keyward init --remove-recipient "+r+" --store local://") {
			t.Errorf("no remove command for %s in:\n%s", r, doc.Native)
		}
	}
	missing, _ := policy.ParseURL("local://" + filepath.ToSlash(filepath.Join(dir, "none.age")))
	if _, err := policy.Derive(context.Background(), &policy.Request{URL: missing, Access: policy.Read, All: true}); err == nil {
		t.Error("a missing store file gave a policy")
	}
}

// TestPolicyMarksYourIdentity: the recipient the user's own identity
// decrypts with is marked.
func TestPolicyMarksYourIdentity(t *testing.T) {
	dir := t.TempDir()
	id, err := local.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := local.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.age")
	if err := local.Create(context.Background(), path, []string{id.Recipient().String(), other.Recipient().String()}, false); err != nil {
		t.Fatal(err)
	}
	u, _ := policy.ParseURL("local://" + filepath.ToSlash(path))
	doc, err := policy.Derive(context.Background(), &policy.Request{URL: u, All: true, Getenv: func(k string) string {
		if k == local.EnvIdentity {
			return id.String()
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.Native, id.Recipient().String()+"  # your identity\n") || strings.Contains(doc.Native, other.Recipient().String()+"  #") {
		t.Fatalf("marks:\n%s", doc.Native)
	}
	if strings.Contains(doc.Native, "AGE-SECRET-KEY") {
		t.Fatal("the identity's private key is in the output")
	}
}
