package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyward/keyward"
	_ "github.com/keyward/keyward/provider/file"
)

// Read Docker-style secret files; ?trim=newline drops the newline that
// echo added.
func Example() {
	dir, _ := os.MkdirTemp("", "keyward-example") // /run/secrets in a container
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "jwt_secret"), []byte("example-not-a-real-secret\n"), 0o400)
	_ = os.WriteFile(filepath.Join(dir, ".hidden"), []byte("never listed"), 0o400)

	ctx := context.Background()
	store, err := keyward.Open(ctx, "file://"+dir+"?trim=newline")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	jwt, err := store.Get(ctx, "jwt_secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(jwt, jwt.Len())
	keys, _ := store.List(ctx)
	for _, k := range keys {
		fmt.Println(k.Key)
	}
	// Output:
	// [REDACTED] 25
	// jwt_secret
}
