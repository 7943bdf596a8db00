package dotenv_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyward/keyward"
	_ "github.com/keyward/keyward/provider/dotenv"
)

// Read a .env file written with Docker Compose's rules.
func Example() {
	dir, _ := os.MkdirTemp("", "keyward-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, ".env")
	_ = os.WriteFile(path, []byte(`# example only, not real secrets
export DB_USER=app
DB_PASSWORD='example $not-expanded'
DATABASE_URL=postgres://${DB_USER}@db:5432/app   # interpolated
`), 0o600)

	ctx := context.Background()
	store, err := keyward.Open(ctx, "dotenv://"+path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	dsn, err := store.Get(ctx, "DATABASE_URL")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(dsn.RevealString()) // only to show the interpolation; never print real secrets
	keys, _ := store.List(ctx)
	for _, k := range keys {
		fmt.Println(k.Key)
	}
	// Output:
	// postgres://app@db:5432/app
	// DATABASE_URL
	// DB_PASSWORD
	// DB_USER
}
