//go:build !keyward_omit_gcpsm

package gcpsm_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/gcpserver"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/rotation/rotationtest"
)

func gcpRotationStore(t *testing.T, clock func() time.Time) *keyward.Store {
	return newStore(t, gcpserver.New(t), &keyward.StoreOptions{TTL: -1, Clock: clock})
}

// TestRotation: versions, with the previous version disabled when its
// grace ends. IfVersion on Secret Manager is a read-then-write, so the
// suite does not hold GCP to "exactly one of two concurrent rotations wins".
func TestRotation(t *testing.T) {
	rotationtest.Run(t, gcpRotationStore, rotationtest.Caps{AtomicCAS: true})
}

func TestRotationRetireDisablesVersion(t *testing.T) {
	ctx := context.Background()
	clock := rotation.NewFakeClock(time.Now())
	s := gcpRotationStore(t, clock.Now)
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("gcp-rotation-canary-000000000000000"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe"), Clock: clock.Now}); err != nil {
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
	if len(vs) != 2 || vs[0].ID != "1" || !vs[0].Disabled || vs[1].Disabled {
		t.Fatalf("versions after retire: %+v, want 1 disabled and 2 enabled", vs)
	}
	// The grace record is the companion secret jwt-secret-key-rotation.
	if _, err := s.Get(ctx, "JWT_SECRET_KEY_ROTATION"); err != nil {
		t.Fatalf("rotation record: %v", err)
	}
}
