package schema_test

import (
	"context"
	"fmt"
	"os"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/schema"
)

func ExampleConfig_Validate() {
	cfg, err := schema.Parse([]byte(`
environments:
  production: mem://example-production
secrets:
  JWT_SECRET_KEY:
    min_length: 32
    format: jwt-secret
  STRIPE_SECRET_KEY:
    format: stripe-secret-key
`), "keyward.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	store := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://example-production"})
	_, _ = store.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("changeme"), nil)

	report, err := cfg.Validate(ctx, store, "production", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = report.WriteTable(os.Stdout)
	// Output:
	// environment production (store mem://example-production), production rules
	// ✗  JWT_SECRET_KEY     min-length: is 8 characters; needs at least 32
	// ✗  JWT_SECRET_KEY     format: not a valid jwt-secret: is shorter than 32 characters
	// ✗  JWT_SECRET_KEY     placeholder: is a well-known placeholder value in production
	// ✗  STRIPE_SECRET_KEY  required: is missing (required)
	// 2 secrets: 4 errors, 0 warnings, 0 ok; not valid
}
