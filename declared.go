package keyward

import "context"

type declaredKeysKey struct{}

// WithDeclaredKeys returns a context that tells store openers which keys
// the caller's project declares (the secrets of keyward.yaml). A provider
// whose whole namespace is not a set of secrets — env://, the process
// environment — lists only these keys (and those asked for by name), so
// HOME or PATH never become secrets. Other providers ignore it.
func WithDeclaredKeys(ctx context.Context, keys []string) context.Context {
	return context.WithValue(ctx, declaredKeysKey{}, append([]string(nil), keys...))
}

// DeclaredKeys returns the keys set by WithDeclaredKeys, and whether any
// declaration was made.
func DeclaredKeys(ctx context.Context) ([]string, bool) {
	k, ok := ctx.Value(declaredKeysKey{}).([]string)
	return k, ok
}
