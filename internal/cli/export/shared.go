package export

import (
	"context"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Resolver returns a reference resolver wired to the factory: ref+URL
// references open their store with the factory's options (audit included),
// keyward://ENV/KEY references open the environment ENV of keyward.yaml.
// The stores are closed with the factory.
//
// Resolve (for references found in stored values and templates) applies
// the factory's trust policy: such a reference may name only the store the
// command reads, or stores the user allowed. ResolveTrusted (references the
// user wrote in their own environment) does not.
func Resolver(f *cmdutil.Factory) *keyward.Resolver {
	own, _, _, err := f.ResolveStoreURL()
	if err != nil {
		own = ""
	}
	return &keyward.Resolver{
		Check: func(ref *keyward.Ref) error { return f.CheckRef(ref, own) },
		Open: func(ctx context.Context, url string) (*keyward.Store, error) {
			return f.OpenURL(ctx, url, "")
		},
		OpenEnv: func(ctx context.Context, env string) (*keyward.Store, error) {
			return OpenEnv(ctx, f, env)
		},
	}
}

// OpenEnv opens an environment of keyward.yaml.
func OpenEnv(ctx context.Context, f *cmdutil.Factory, env string) (*keyward.Store, error) {
	if f.ResolveEnv == nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "select environment", "environment %q needs a keyward.yaml with environments", env)
	}
	u, err := f.ResolveEnv(f, env)
	if err != nil {
		return nil, err
	}
	return f.OpenURL(ctx, u, env)
}

// OpenNamed opens a store named on the command line: a store URL when it
// contains "://", otherwise an environment of keyward.yaml.
func OpenNamed(ctx context.Context, f *cmdutil.Factory, name string) (*keyward.Store, error) {
	if IsURL(name) {
		return f.OpenURL(ctx, name, "")
	}
	s, err := OpenEnv(ctx, f, name)
	if err != nil {
		return nil, cmdutil.WithHint(err, "name a store by URL (local://"+name+", dotenv://…) or by an environment of keyward.yaml")
	}
	return s, nil
}

// IsURL reports whether a store name is a URL rather than an environment.
func IsURL(name string) bool { return strings.Contains(name, "://") }
