package jwtkeys_test

import (
	"context"
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/rotation/jwtkeys"
)

func Example() {
	ctx := context.Background()
	store := mem.NewBackend().OpenStore(nil)
	defer store.Close()
	if _, err := store.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("first-key-0123456789abcdef0123456789"), nil); err != nil {
		panic(err)
	}
	keys := jwtkeys.New(store, "JWT_SECRET_KEY", nil)
	before, err := keys.Sign(jwt.MapClaims{"sub": "user-1"})
	if err != nil {
		panic(err)
	}

	// keyward rotate JWT_SECRET_KEY, while the service runs.
	if _, err := rotation.Rotate(ctx, store, "JWT_SECRET_KEY", &rotation.Options{NewValue: rotation.Generator("urlsafe")}); err != nil {
		panic(err)
	}
	if err := keys.Refresh(ctx); err != nil {
		panic(err)
	}
	after, _ := keys.Sign(jwt.MapClaims{"sub": "user-2"})

	for _, tok := range []string{before, after} {
		t, err := keys.Parse(tok)
		fmt.Println(t.Header["kid"], err == nil)
	}
	// Output:
	// 1 true
	// 2 true
}
