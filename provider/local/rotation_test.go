package local_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/local"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/rotation/rotationtest"
)

func rotationStore(t *testing.T, clock func() time.Time) *keyward.Store {
	t.Helper()
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
}

// The kill -9 version of the crash test (a child process killed after each
// rotation step) is rotation.TestRotateKilledAtEveryStep.
func TestRotation(t *testing.T) {
	rotationtest.Run(t, rotationStore, rotationtest.Caps{AtomicCAS: true})
}

// TestRotationGraceInVersionMeta pins where the local store keeps the
// grace: in the new version's metadata, written in the same atomic write.
func TestRotationGraceInVersionMeta(t *testing.T) {
	ctx := context.Background()
	clock := rotation.NewFakeClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	s := rotationStore(t, clock.Now)
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("local-rotation-canary-0000000000000"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{Grace: 24 * time.Hour, NewValue: rotation.Generator("urlsafe"), Clock: clock.Now}); err != nil {
		t.Fatal(err)
	}
	vs, err := s.History(ctx, "JWT_SECRET_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("%d versions, want 2", len(vs))
	}
	refs := driver.ParseRing(vs[1].Meta[driver.MetaRing])
	if len(refs) != 1 || refs[0].ID != "1" || !refs[0].Expires.Equal(clock.Now().Add(24*time.Hour)) {
		t.Fatalf("version 2's %s = %q", driver.MetaRing, vs[1].Meta[driver.MetaRing])
	}
	if vs[1].Meta[driver.MetaRotated] == "" {
		t.Fatalf("version 2 has no %s", driver.MetaRotated)
	}
}
