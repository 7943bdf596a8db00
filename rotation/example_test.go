package rotation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
)

func ExampleRotate() {
	ctx := context.Background()
	store := mem.NewBackend().OpenStore(nil)
	defer store.Close()
	if _, err := store.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("first-key-0123456789abcdef0123456789"), nil); err != nil {
		panic(err)
	}

	res, err := rotation.Rotate(ctx, store, "JWT_SECRET_KEY", &rotation.Options{
		Grace:    24 * time.Hour,
		NewValue: rotation.Generator("urlsafe"),
	})
	if err != nil {
		panic(err)
	}
	ring, err := store.KeyRing(ctx, "JWT_SECRET_KEY")
	if err != nil {
		panic(err)
	}
	fmt.Println("new version:", res.NewVersion)
	fmt.Println("ring:", ring.Current.ID, "+", len(ring.Previous), "previous, valid for", ring.Previous[0].Expires.Sub(res.RotatedAt))
	// Output:
	// new version: 2
	// ring: 2 + 1 previous, valid for 24h0m0s
}

func ExampleEvaluate() {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	st := &keyward.RotationState{RotatedAt: now.Add(-100 * 24 * time.Hour)}
	s := rotation.Evaluate("JWT_SECRET_KEY", rotation.Policy{Every: 90 * 24 * time.Hour, Method: "automated"}, st, now)
	fmt.Println("overdue:", s.Overdue, "since", s.NextDue.Format("2006-01-02"))
	// Output:
	// overdue: true since 2026-05-22
}
