// Package driver defines the interface a keyward secret provider implements.
//
// Most code should use the keyward package, not this one. The concrete
// [keyward.Store] type wraps a driver and adds everything that is not about
// one backend: caching, one in-flight fetch per key, stale-if-error, retries,
// deadlines, audit, and wrapping errors exactly once. Users of keyward should
// never call driver methods directly.
//
// # The required interface
//
// A provider implements [Store]: it fetches one named secret (optionally at a
// given version), maps its own errors to a [Code], and closes.
//
// # Optional abilities
//
// Everything else is an optional interface that the concrete Store detects by
// type assertion. A provider that lacks an ability gets an Unimplemented
// error from the concrete Store, never a panic:
//
//   - [Lister]: names of the secrets in the store.
//   - [Writer]: add a new version of a secret (never overwrite in place).
//   - [Deleter]: remove a secret and all its versions.
//   - [Versioner]: the version history of one secret.
//   - [BatchGetter]: fetch many secrets in one round trip.
//   - [ChangeStamper]: cheap per-key change tokens, for watchers.
//   - [RotationLayouter], [Rotator], [VersionDisabler]: rotation (below).
//
// # Rotation abilities
//
// Rotation (package rotation, `keyward rotate`) writes a new value of a key
// and keeps the previous one valid for a grace period. Every writable
// provider takes part; how it keeps the previous value is its
// [RotationLayout]:
//
//   - [LayoutVersionMeta]: the store keeps versions with per-version
//     metadata (local, mem). The new version's Meta records which earlier
//     versions stay valid and until when, written atomically with the value.
//   - [LayoutVersions]: the store keeps versions but no per-version metadata
//     (GCP, Azure, Vault with layout=keys). The previous value is the older
//     version; the grace record is a companion key KEY_ROTATION. A provider
//     that can disable a version implements [VersionDisabler] and gets the
//     previous version disabled when its grace ends.
//   - [LayoutFields]: the store is one bundle of fields (AWS bundle, Vault
//     bundle, a Kubernetes Secret). The previous value is the field
//     KEY_OLD, as in the secret-management guide's rotate_jwt_secret, with
//     the record in KEY_ROTATION and an in-flight value in KEY_PENDING.
//   - [LayoutNative]: the provider implements [Rotator] itself (AWS
//     per-key secrets and their staging labels).
//
// A provider says which layout it uses by implementing [RotationLayouter];
// otherwise a [Versioner] gets LayoutVersions and any other [Writer]
// LayoutFields. A read-only provider cannot rotate: the rotation package
// answers Unimplemented.
//
// Package rotation never calls a driver directly: [Rotator] and
// [VersionDisabler] are reached through the concrete Store's rotation
// bridge (keyward.Store.StageRotation, PromoteRotation, DiscardRotation,
// RetireRotation, DisableVersion), which gives each step the Store's
// timeout, closed check, cache purge and audit record. The rotation record
// kept in KEY_ROTATION is keyward.RotationRecord; a driver only stores it.
//
// # Errors
//
// Drivers return the raw errors of their backend and implement
// [Store.ErrorCode] to classify them. A driver must return an error for which
// ErrorCode answers [NotFound] when a key (or a version) does not exist. Error
// strings must never contain a secret value or a credential.
//
// To let the concrete Store honour a server's Retry-After, an error may
// implement interface{ RetryAfter() time.Duration }.
package driver

import (
	"context"
	"time"
)

// Code classifies an error. The zero value is OK.
type Code int

// The error codes. They are stable: the CLI maps them to exit codes.
const (
	OK                 Code = iota // not an error
	Unknown                        // an error the driver could not classify
	NotFound                       // the key or version does not exist
	AlreadyExists                  // the key exists and the operation required it not to
	PermissionDenied               // the caller is not allowed to do this (401/403)
	InvalidArgument                // the request was malformed (bad key name, bad value)
	FailedPrecondition             // the state did not allow it (check-and-set conflict, locked, sealed)
	Unimplemented                  // the provider cannot do this
	Unavailable                    // transient: network error, 5xx, throttled; worth a retry
	Canceled                       // the context was cancelled
	DeadlineExceeded               // the context deadline passed
)

var codeNames = [...]string{"ok", "unknown", "not found", "already exists", "permission denied",
	"invalid argument", "failed precondition", "unimplemented", "unavailable", "canceled", "deadline exceeded"}

func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "unknown"
}

// Version describes one version of a secret.
type Version struct {
	// ID identifies the version within its secret ("3", a UUID, an AWS
	// VersionId). It is never a secret.
	ID string `json:"id"`
	// Created is when the version was written, if the backend knows.
	Created time.Time `json:"created,omitempty"`
	// Labels are backend stage labels such as AWSCURRENT, or "current".
	Labels []string `json:"labels,omitempty"`
	// Disabled reports a version the backend keeps but will not serve.
	Disabled bool `json:"disabled,omitempty"`
	// Meta holds non-secret metadata (rotation state, grace expiry).
	Meta map[string]string `json:"meta,omitempty"`
}

// Value is one fetched secret: its bytes and the version they belong to.
// Drivers return a fresh Data slice the caller may keep.
type Value struct {
	Data    []byte
	Version Version
}

// Store is the interface every provider implements.
type Store interface {
	// Get returns the secret named key. version "" means the current version;
	// otherwise it is a Version.ID (or a backend label the driver accepts).
	Get(ctx context.Context, key, version string) (*Value, error)
	// ErrorCode classifies an error this driver returned.
	ErrorCode(error) Code
	// Close releases resources. It is called once.
	Close() error
}

// KeyInfo describes one secret in a listing. It never carries a value.
type KeyInfo struct {
	Key     string    `json:"key"`
	Version string    `json:"version,omitempty"`
	Updated time.Time `json:"updated,omitempty"`
}

// Lister lists the secrets in a store, sorted by key.
type Lister interface {
	List(ctx context.Context) ([]KeyInfo, error)
}

// PutOptions controls a write.
type PutOptions struct {
	// IfVersion, when non-empty, makes the write conditional (check-and-set):
	// it fails with FailedPrecondition unless the current version is
	// IfVersion. "0" means "only if the key does not exist".
	IfVersion string
	// BestEffortCheck accepts an IfVersion that the backend can only check
	// before the write, not atomically with it (Azure Key Vault has no
	// conditional write): a writer that lands between the check and the
	// write is silently overwritten. Without it such a driver refuses
	// IfVersion with Unimplemented and writes nothing. Drivers whose check
	// is atomic ignore it. keyward's rotation sets it; `set --if-version`
	// does not.
	BestEffortCheck bool
	// Meta is stored with the new version where the backend can.
	Meta map[string]string
}

// Writer adds a new version of a secret. It never overwrites an existing
// version in place.
type Writer interface {
	Put(ctx context.Context, key string, data []byte, opts *PutOptions) (Version, error)
}

// Deleter removes a secret and all its versions.
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

// Versioner returns the versions of one secret, oldest first.
type Versioner interface {
	Versions(ctx context.Context, key string) ([]Version, error)
}

// BatchGetter fetches the current version of several keys at once. Keys that
// do not exist are absent from the result; that is not an error.
type BatchGetter interface {
	GetMany(ctx context.Context, keys []string) (map[string]*Value, error)
}

// InProcess is implemented by a driver whose reads are served inside the
// process: from memory, the environment, or a file read in one system call
// (the embedded providers). A [keyward.Store] then runs the per-key lookups
// of a batch (GetMany's fallback, KeyRings) one after another: a goroutine
// per key only adds its start-up, and the runtime threads it wakes, to
// lookups that take microseconds. Remote providers, and the plugin client,
// do not implement it, so their lookups overlap their network round trips.
type InProcess interface {
	InProcess() bool
}

// ChangeStamper is implemented by providers that can tell cheaply, without
// reading any value, whether keys may have changed: keyward run --watch
// polls it between full reads. Stamps returns an opaque token
// per key (a version ID, a modification time) that changes whenever the
// key's value does. A key that does not exist is absent, or shares the
// stamp of the bundle or file it would live in. A token may also change
// when nothing did (the caller then reads and compares); it must never
// stay the same across a change.
type ChangeStamper interface {
	Stamps(ctx context.Context, keys []string) (map[string]string, error)
}

// ValueLister is a Lister whose backend returns the values with the names
// in the same round trip (a Vault KV bundle: one secret holds every key).
// The concrete Store uses it to fill its cache, so a List followed by
// reads of the listed keys is one request, not two.
//
// ValuesListed reports whether ListValues returns values at all (a driver
// may do so in one layout and not another); when it does, the Store also
// serves a cache miss for a current value through ListValues, so several
// keys read one after the other (references in `run`) cost one request.
type ValueLister interface {
	ListValues(ctx context.Context) ([]KeyInfo, map[string]*Value, error)
	ValuesListed() bool
}

// As is implemented by drivers that expose backend-specific types (an SDK
// client, say) to users through keyward.Store.As.
type As interface {
	As(i any) bool
}

// PutItem is one write of a batch.
type PutItem struct {
	Key  string
	Data []byte
	Opts *PutOptions
}

// BatchWriter writes several secrets in one atomic operation: either every
// item becomes a new version (in order; a key may appear more than once)
// or, on any error (a check-and-set conflict included), none does.
type BatchWriter interface {
	PutMany(ctx context.Context, items []PutItem) ([]Version, error)
}
