package keyward_test

import (
	"context"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/local"
)

// TestPutMany: a provider without batch writes gets one Put per item, in
// order; the local store does the batch in one atomic write and says so
// with Can("batch-put").
func TestPutMany(t *testing.T) {
	ctx := context.Background()
	items := []keyward.PutItem{
		{Key: "A", Value: keyward.NewSecretString("a1")},
		{Key: "B", Value: keyward.NewSecretString("b1")},
		{Key: "A", Value: keyward.NewSecretString("a2")},
	}
	m := seeded(t).OpenStore(nil)
	i, _ := age.GenerateX25519Identity()
	id := &local.Identity{Identities: []age.Identity{i}, Recipients: []string{i.Recipient().String()}, Source: "test"}
	l, err := local.OpenStore(filepath.Join(t.TempDir(), "keyward.age"), &local.Options{Identity: id}, &keyward.StoreOptions{TTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*keyward.Store{"mem": m, "local": l} {
		t.Run(name, func(t *testing.T) {
			if got, want := s.Can("batch-put"), name == "local"; got != want {
				t.Fatalf("Can(batch-put) = %v", got)
			}
			vs, err := s.PutMany(ctx, items)
			if err != nil || len(vs) != 3 {
				t.Fatalf("PutMany: %v %v", vs, err)
			}
			if v, err := s.Get(ctx, "A"); err != nil || v.RevealString() != "a2" {
				t.Fatalf("A after the batch: %v", err)
			}
			// A conflict: nothing more is written by the local store.
			_, err = s.PutMany(ctx, []keyward.PutItem{{Key: "C", Value: keyward.NewSecretString("c")}, {Key: "B", Value: keyward.NewSecretString("x"), Opts: &keyward.PutOptions{IfVersion: "0"}}})
			if keyward.ErrorCode(err) != keyward.FailedPrecondition {
				t.Fatalf("conflicting batch: %v", err)
			}
			_, err = s.Get(ctx, "C")
			if name == "local" && keyward.ErrorCode(err) != keyward.NotFound {
				t.Fatalf("a failed local batch wrote C: %v", err)
			}
		})
	}
}
