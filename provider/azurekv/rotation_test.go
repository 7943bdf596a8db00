//go:build !keyward_omit_azurekv

package azurekv_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/azureserver"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/rotation/rotationtest"
)

func azureRotationStore(t *testing.T, clock func() time.Time) *keyward.Store {
	return newStore(t, azureserver.New(t), &keyward.StoreOptions{TTL: -1, Clock: clock})
}

// TestRotation: versions, with the previous version disabled when its
// grace ends. IfVersion on Key Vault is a read-then-write, so the suite
// does not hold Azure to "exactly one of two concurrent rotations wins".
func TestRotation(t *testing.T) {
	rotationtest.Run(t, azureRotationStore, rotationtest.Caps{})
}

func TestRotationRetireDisablesVersion(t *testing.T) {
	ctx := context.Background()
	clock := rotation.NewFakeClock(time.Now())
	s := azureRotationStore(t, clock.Now)
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("azure-rotation-canary-00000000000000"), nil); err != nil {
		t.Fatal(err)
	}
	res, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe"), Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	if _, err := rotation.Retire(ctx, s, "JWT_SECRET_KEY", clock.Now, false); err != nil {
		t.Fatal(err)
	}
	vs, err := s.History(ctx, "JWT_SECRET_KEY")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		switch {
		case v.ID == res.NewVersion && v.Disabled:
			t.Fatal("the current version was disabled")
		case v.ID == res.From && !v.Disabled:
			t.Fatal("the previous version is still enabled after its grace")
		}
	}
	if _, err := s.GetValue(ctx, "JWT_SECRET_KEY", &keyward.GetOptions{Version: res.From, NoCache: true}); keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("reading the retired version: %v, want failed precondition (403 SecretDisabled)", err)
	}
}
