package driver

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// RotationLayout names how a provider keeps previous values during a grace period.
type RotationLayout string

// The rotation layouts; see the package documentation.
const (
	LayoutVersionMeta RotationLayout = "version-meta"
	LayoutVersions    RotationLayout = "versions"
	LayoutFields      RotationLayout = "fields"
	LayoutNative      RotationLayout = "native"
)

// RotationLayouter is implemented by providers that choose their rotation
// layout (per key, since some providers have modes).
type RotationLayouter interface {
	RotationLayout(key string) RotationLayout
}

// VersionDisabler disables one version of a key: the backend keeps it but
// no longer serves it (GCP DisableSecretVersion, Azure enabled=false).
// Rotation uses it to retire a previous version when its grace ends.
type VersionDisabler interface {
	DisableVersion(ctx context.Context, key, version string) error
}

// RingEntry is one value of a key ring as a provider reports it.
type RingEntry struct {
	// ID identifies the entry stably (it becomes a JWT "kid"); usually the
	// version ID.
	ID      string
	Data    []byte
	Version Version
	// Expires is when a previous entry's grace ends; zero means no recorded
	// end (valid until retired).
	Expires time.Time
}

// RotationState is what a [Rotator] reports about one key.
type RotationState struct {
	Current   *RingEntry
	RotatedAt time.Time   // when Current became current, if known
	Pending   *RingEntry  // a staged value not yet current, if any
	Previous  []RingEntry // previous values not retired, newest first (expired ones included)
}

// StageRequest describes a staged rotation.
type StageRequest struct {
	// IfCurrent is the version the caller read as current (check-and-set).
	IfCurrent string
	// PreviousExpires is when the current value's grace ends once the
	// staged value is promoted; zero revokes it at promotion.
	PreviousExpires time.Time
	// RotatedAt is the rotation time to record.
	RotatedAt time.Time
}

// Rotator is implemented by providers with native rotation mechanics
// (LayoutNative). Each method is one atomic step; the rotation package
// sequences them and resumes after a crash:
//
//	Stage (pending, not served) → Promote (current; previous in grace) → Retire
type Rotator interface {
	RotationState(ctx context.Context, key string) (*RotationState, error)
	// Stage persists data as key's pending value. Get keeps returning the
	// current value. It fails with FailedPrecondition when another value is
	// already pending or the current version is not r.IfCurrent.
	Stage(ctx context.Context, key string, data []byte, r *StageRequest) (Version, error)
	// Promote makes the pending version current; the old current becomes a
	// previous value with the expiry given to Stage.
	Promote(ctx context.Context, key, pending string) (Version, error)
	// Discard removes a pending version that was never promoted.
	Discard(ctx context.Context, key, pending string) error
	// Retire ends a previous version's grace now.
	Retire(ctx context.Context, key, version string) error
}

// Meta keys of the version-meta layout, and the companion field suffixes of
// the versions and fields layouts.
const (
	// MetaRotated is the RFC 3339 time a version became current by rotation.
	MetaRotated = "keyward.rotated"
	// MetaRing lists the earlier versions that stay valid, as RingRef JSON
	// ([EncodeRing], [ParseRing]).
	MetaRing = "keyward.ring"

	SuffixOld      = "_OLD"      // the guide's <key>_old: the previous value (fields layout)
	SuffixPending  = "_PENDING"  // a value staged by an unfinished rotation (fields layout)
	SuffixRotation = "_ROTATION" // the rotation record, JSON (fields and versions layouts; keyward.RotationRecord)
)

// RingRef is one previous version in a ring: an entry of MetaRing, or of
// the rotation record kept in KEY_ROTATION.
type RingRef struct {
	ID      string    `json:"id"`
	Expires time.Time `json:"expires,omitzero"`
	// Retired marks a version whose grace was ended early or swept.
	Retired bool `json:"retired,omitempty"`
}

// EncodeRing renders previous refs for MetaRing.
func EncodeRing(refs []RingRef) string {
	b, _ := json.Marshal(refs)
	return string(b)
}

// ParseRing parses a MetaRing value (nil on "" or malformed input), in the
// order written: newest first.
func ParseRing(s string) []RingRef {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var refs []RingRef
	if json.Unmarshal([]byte(s), &refs) != nil {
		return nil
	}
	return refs
}

// LayoutOf says which rotation layout d uses for key, or "" when d cannot
// rotate (it cannot write).
func LayoutOf(d Store, key string) RotationLayout {
	if l, ok := d.(RotationLayouter); ok {
		if lay := l.RotationLayout(key); lay != "" {
			return lay
		}
	}
	if !Has(d, AbilityWrite) {
		return ""
	}
	if Has(d, AbilityVersions) {
		return LayoutVersions
	}
	return LayoutFields
}
