//go:build !keyward_omit_vault

package vault_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/vault"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/rotation/rotationtest"
)

func vaultRotationStore(layout string) rotationtest.NewStore {
	return func(t *testing.T, clock func() time.Time) *keyward.Store {
		srv := vaultserver.New(nil)
		t.Cleanup(srv.Close)
		srv.Mount("", "dharmamind", 2)
		d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: vaultserver.RootToken,
			Path: "dharmamind/production", Layout: layout, Getenv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Clock: clock, URL: "vault://test/dharmamind/production"})
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// TestRotation: KV v2 with check-and-set, in the guide's bundle layout
// (KEY_OLD next to KEY in the one secret) and the keys layout (the
// previous KV version). Of two concurrent rotations exactly one wins and
// the other gets a FailedPrecondition conflict.
func TestRotation(t *testing.T) {
	t.Run("bundle", func(t *testing.T) {
		rotationtest.Run(t, vaultRotationStore(vault.LayoutBundle), rotationtest.Caps{AtomicCAS: true})
	})
	t.Run("keys", func(t *testing.T) {
		rotationtest.Run(t, vaultRotationStore(vault.LayoutKeys), rotationtest.Caps{AtomicCAS: true})
	})
}

// TestRotationKV1: KV v1 keeps no versions, so rotation keeps the previous
// value in the fields layout (KEY_OLD, KEY_ROTATION, KEY_PENDING) with its
// create-only and version checks made just before each write under the
// process-wide lock: it works, but two processes rotating the same key at
// the same moment can both succeed (no AtomicCAS).
func TestRotationKV1(t *testing.T) {
	for _, layout := range []string{vault.LayoutBundle, vault.LayoutKeys} {
		t.Run(layout, func(t *testing.T) {
			rotationtest.Run(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
				srv := vaultserver.New(nil)
				t.Cleanup(srv.Close)
				srv.Mount("", "kv1", 1)
				d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: vaultserver.RootToken,
					Path: "kv1/dharmamind/production", Layout: layout, Getenv: noEnv})
				if err != nil {
					t.Fatal(err)
				}
				s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Clock: clock, URL: "vault://test/kv1/dharmamind/production"})
				t.Cleanup(func() { s.Close() })
				return s
			}, rotationtest.Caps{})
		})
	}
}

// A plain check-and-set on KV v1 is refused, saying why and what to do.
func TestKV1RefusesIfVersion(t *testing.T) {
	srv := vaultserver.New(nil)
	defer srv.Close()
	srv.Mount("", "kv1", 1)
	d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: vaultserver.RootToken,
		Path: "kv1/dharmamind/production", Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, nil)
	defer s.Close()
	_, err = s.Put(context.Background(), "K", keyward.NewSecretString("v"), &keyward.PutOptions{IfVersion: "0"})
	if keyward.ErrorCode(err) != keyward.Unimplemented || !strings.Contains(err.Error(), "KV v2") {
		t.Fatalf("IfVersion on KV v1: %v, want Unimplemented naming KV v2", err)
	}
}

// TestRotationBundleFields pins the bundle's fields after a rotation and
// shows the previous value survives a later write of another key.
func TestRotationBundleFields(t *testing.T) {
	ctx := context.Background()
	srv := vaultserver.New(nil)
	defer srv.Close()
	srv.Mount("", "dharmamind", 2)
	d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Token: vaultserver.RootToken, Path: "dharmamind/production", Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1})
	defer s.Close()
	const old = "vault-rotation-canary-old-00000000000"
	if _, err := srv.PutKV("", "dharmamind", "production", map[string]any{"jwt_secret_key": old, "database_url": "postgresql://x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "DATABASE_URL", keyward.NewSecretString("postgresql://y"), nil); err != nil {
		t.Fatal(err)
	}
	data := srv.GetKV("", "dharmamind", "production")
	if _, ok := data["JWT_SECRET_KEY_PENDING"]; ok {
		t.Fatal("the pending field was left behind")
	}
	r, err := s.KeyRing(ctx, "JWT_SECRET_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Previous) != 1 || r.Previous[0].Secret.RevealString() != old {
		t.Fatalf("previous value lost after a write of another key: %d previous", len(r.Previous))
	}
}
