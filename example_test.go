package keyward_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/keyward/keyward"
	_ "github.com/keyward/keyward/provider/mem"
)

// seed writes a few values into the in-process store NAME, as a deployment
// would have written them into its real store.
func seed(ctx context.Context, url string, kv ...string) {
	s, err := keyward.Open(ctx, url)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < len(kv); i += 2 {
		if _, err := s.Put(ctx, kv[i], keyward.NewSecretString(kv[i+1]), nil); err != nil {
			log.Fatal(err)
		}
	}
}

// Open a store by URL and read one secret. The value prints redacted; only
// Reveal gives the plaintext.
func ExampleOpen() {
	ctx := context.Background()
	seed(ctx, "mem://example-open", "JWT_SECRET_KEY", "example-not-a-real-key-0123456789")

	store, err := keyward.Open(ctx, "mem://example-open")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	key, err := store.Get(ctx, "JWT_SECRET_KEY")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key)
	fmt.Println(len(key.Reveal()))
	// Output:
	// [REDACTED]
	// 33
}

// A missing secret is an error with a code, matched with errors.Is.
func ExampleStore_Get() {
	ctx := context.Background()
	store, err := keyward.Open(ctx, "mem://example-get")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	_, err = store.Get(ctx, "SMTP_PASSWORD")
	fmt.Println(keyward.ErrorCode(err))
	// Output:
	// not found
}

// The guide's variables choose the store, unchanged.
func ExampleStoreURLFromEnv() {
	env := map[string]string{"SECRET_PROVIDER": "aws", "AWS_SECRET_NAME": "dharmamind/production"}
	url, err := keyward.StoreURLFromEnv(func(k string) string { return env[k] })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(url)
	// Output:
	// awssm://dharmamind/production
}

// Load fills a struct in one round trip and reports every problem at once.
func ExampleLoad_struct() {
	ctx := context.Background()
	seed(ctx, "mem://example-load",
		"JWT_SECRET_KEY", "example-not-a-real-key-0123456789",
		"DATABASE_URL", "postgres://app@db.invalid/app")
	store, err := keyward.Open(ctx, "mem://example-load")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	var cfg struct {
		JWTSecret   keyward.Secret `secret:"JWT_SECRET_KEY,min=32"`
		DatabaseURL string         `secret:"DATABASE_URL"`
		SMTPPort    int            `secret:"SMTP_PORT" default:"587"`
	}
	if err := keyward.Load(ctx, store, &cfg); err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.JWTSecret, cfg.DatabaseURL, cfg.SMTPPort)
	// Output:
	// [REDACTED] postgres://app@db.invalid/app 587
}

// A key ring holds the current value and those still in a rotation grace;
// a verifier accepts any of them. Without a rotation there is one key.
func ExampleStore_KeyRing() {
	ctx := context.Background()
	seed(ctx, "mem://example-ring", "JWT_SECRET_KEY", "example-not-a-real-key-0123456789")
	store, err := keyward.Open(ctx, "mem://example-ring")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ring, err := store.KeyRing(ctx, "JWT_SECRET_KEY")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ring.Key, len(ring.Keys()), ring.Current.Secret)
	// Output:
	// JWT_SECRET_KEY 1 [REDACTED]
}

// A Resolver follows ref+ references found inside values, opening each
// store once; Open decides which stores a reference may reach.
func ExampleResolver() {
	ctx := context.Background()
	seed(ctx, "mem://example-shared", "DB", `{"user":"app","password":"example-only"}`)
	allowed := func(ctx context.Context, url string) (*keyward.Store, error) {
		if !strings.HasPrefix(url, "mem://") {
			return nil, keyward.Errorf(keyward.PermissionDenied, "resolve reference", "store not allowed")
		}
		return keyward.Open(ctx, url)
	}
	r := &keyward.Resolver{Open: allowed}
	defer r.Close()
	user, err := r.Resolve(ctx, "ref+mem://example-shared#/DB/user")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.RevealString())
	_, err = r.Resolve(ctx, "ref+vault://attacker.invalid/x#/K")
	fmt.Println(keyward.ErrorCode(err))
	// Output:
	// app
	// permission denied
}
