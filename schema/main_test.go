package schema

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// TestMain gives the tests a mux with the schemes the example uses, so
// schema's tests do not depend on which providers are linked in.
func TestMain(m *testing.M) {
	mux := new(keyward.URLMux)
	for _, s := range []string{"mem", "dotenv", "awssm", "local", "vault", "env"} {
		mux.Register(s, keyward.OpenerFunc(func(context.Context, *url.URL) (driver.Store, error) { return nil, nil }))
	}
	StoreMux = mux
	os.Exit(m.Run())
}

func mustParse(t *testing.T, y string) *Config {
	t.Helper()
	c, err := Parse([]byte(y), "keyward.yaml")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}
