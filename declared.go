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

type warnKey struct{}

// WithWarnings returns a context that gives store openers somewhere to
// report problems that are not errors — a .env reference to an undefined
// variable, say. Messages never carry a value. The CLI prints them as
// "keyward: warning: …" lines; without it, providers stay silent.
func WithWarnings(ctx context.Context, warn func(msg string)) context.Context {
	return context.WithValue(ctx, warnKey{}, warn)
}

// Warnings returns the function set by WithWarnings, or nil.
func Warnings(ctx context.Context) func(msg string) {
	w, _ := ctx.Value(warnKey{}).(func(string))
	return w
}
