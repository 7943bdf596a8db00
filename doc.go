// Package keyward gives a Go service its secrets from wherever they live,
// behind one API whose backend is chosen by configuration.
//
// Most users want three calls: open a store by URL (or from the guide's
// SECRET_PROVIDER variables), read a secret, and let the value stay
// redacted everywhere except where it is used:
//
//	url, err := keyward.StoreURLFromEnv(os.Getenv) // SECRET_PROVIDER=aws|vault|gcp|azure|env, or KEYWARD_STORE
//	store, err := keyward.Open(ctx, url)           // e.g. "local://keyward.age", "vault://host/app/prod"
//	defer store.Close()
//	key, err := store.Get(ctx, "JWT_SECRET_KEY")   // a keyward.Secret: prints [REDACTED]
//	sign(key.Reveal())
//
// A provider is linked in by importing its package for its side effect
// (import _ "github.com/keyward/keyward/provider/vault"), or all of them
// with provider/all. The embedded default, provider/local, is an
// age-encrypted file that works on a laptop with no cloud account.
//
// # What the Store adds
//
// [Store] wraps a provider's driver and adds everything that is not about
// one backend: a TTL cache with one in-flight fetch per key, stale-if-error,
// deadlines, bounded retries that honour Retry-After, audit events, and
// errors wrapped exactly once with a [Code] (match them with errors.Is and
// the sentinels such as [ErrNotFound]). No error string contains a secret
// value.
//
// # Beyond Get
//
//   - [Load] fills a tagged struct in one round trip and reports every
//     missing or malformed secret at once.
//   - [Store.KeyRing] returns the current value of a key and the previous
//     values still inside their rotation grace, for services that verify
//     what they sign (package rotation writes them).
//   - [Resolver] resolves ref+<scheme>://… references found inside values,
//     against stores the caller allows.
//   - [Store.Put], [Store.List], [Store.History] and [Store.Delete] where
//     the provider has the ability; otherwise an [Unimplemented] error.
//
// The command-line tool built on this package is cmd/keyward; docs/ in the
// repository describe both.
package keyward
