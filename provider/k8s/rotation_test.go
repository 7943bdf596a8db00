//go:build !keyward_omit_k8s

package k8s_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/provider/k8s"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/rotation/rotationtest"
)

// TestRotation: a Kubernetes Secret keeps the previous value inside itself,
// in the key KEY_OLD (the guide's <key>_old), with the record in
// KEY_ROTATION; every step is one update with the resourceVersion
// check-and-set, so of two concurrent rotations exactly one wins.
func TestRotation(t *testing.T) {
	rotationtest.Run(t, clockedStore, rotationtest.Caps{AtomicCAS: true})
}

// clockedStore is a Secret in a fresh fake API server, read through a
// Store on clock with no cache (TestRotation, TestDeliver).
func clockedStore(t *testing.T, clock func() time.Time) *keyward.Store {
	return providertest.Open(t, func() (*keyward.Store, error) {
		return k8s.OpenStore("production", "dharmamind", &k8s.Options{Client: newAPIServer().CoreV1()}, &keyward.StoreOptions{TTL: -1, Clock: clock})
	})
}

func TestRotationKeepsOldKeyInSecret(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer()
	s, err := k8s.OpenStore("production", "dharmamind", &k8s.Options{Client: api.CoreV1()}, &keyward.StoreOptions{TTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const old = "k8s-rotation-canary-old-000000000000"
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString(old), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe")}); err != nil {
		t.Fatal(err)
	}
	sec, err := api.CoreV1().Secrets("production").Get(ctx, "dharmamind", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["JWT_SECRET_KEY_OLD"]) != old {
		t.Fatalf("JWT_SECRET_KEY_OLD does not hold the previous value (%d bytes)", len(sec.Data["JWT_SECRET_KEY_OLD"]))
	}
	if _, ok := sec.Data["JWT_SECRET_KEY_ROTATION"]; !ok {
		t.Fatal("no JWT_SECRET_KEY_ROTATION record in the Secret")
	}
	if _, ok := sec.Data["JWT_SECRET_KEY_PENDING"]; ok {
		t.Fatal("JWT_SECRET_KEY_PENDING left in the Secret")
	}
}
