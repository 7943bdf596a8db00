package env_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyward/keyward"
	_ "github.com/keyward/keyward/provider/env"
)

// Open the process environment; JWT_SECRET_KEY comes from the file that
// JWT_SECRET_KEY_FILE names, as with a Docker secret.
func Example() {
	dir, _ := os.MkdirTemp("", "keyward-example")
	defer os.RemoveAll(dir)
	secret := filepath.Join(dir, "jwt_secret") // /run/secrets/jwt_secret in a container
	_ = os.WriteFile(secret, []byte("example-not-a-real-secret\n"), 0o600)
	os.Setenv("KWEXAMPLE_JWT_SECRET_KEY_FILE", secret)
	defer os.Unsetenv("KWEXAMPLE_JWT_SECRET_KEY_FILE")

	ctx := context.Background()
	store, err := keyward.Open(ctx, "env://?prefix=KWEXAMPLE_")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	jwt, err := store.Get(ctx, "JWT_SECRET_KEY")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(jwt)       // a Secret prints redacted
	fmt.Println(jwt.Len()) // the trailing newline was trimmed
	_, err = store.Get(ctx, "DATABASE_URL")
	fmt.Println(err)
	// Output:
	// [REDACTED]
	// 25
	// keyward: failed to get "DATABASE_URL" in env://?prefix=KWEXAMPLE_: not found: KWEXAMPLE_DATABASE_URL is not set (nor is KWEXAMPLE_DATABASE_URL_FILE)
}
