package keyward

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/keyward/keyward/driver"
)

// RotationRecord is the non-secret rotation record kept in a KEY_ROTATION
// field (driver.SuffixRotation; fields and versions layouts). It never
// holds a value. The Store reads it ([Store.RotationState]) and package
// rotation writes it; providers never see it as anything but a value, so
// it lives here and not in package driver.
type RotationRecord struct {
	// ID is the current entry's ring ID (fields layout: a counter; versions
	// layout: the version ID).
	ID        string    `json:"id,omitempty"`
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	// Previous lists the previous entries, newest first.
	Previous []driver.RingRef `json:"previous,omitempty"`
	// Next is set while a rotation is in flight: what the record becomes
	// once the new value is current.
	Next *RotationRecord `json:"next,omitempty"`
	// From is, while in flight (versions layout), the version that was
	// current when the rotation started.
	From string `json:"from,omitempty"`
}

// ErrBadRecord reports a rotation record that does not parse.
var ErrBadRecord = errors.New("rotation record is not valid JSON")

// ParseRotationRecord parses a KEY_ROTATION value. Its errors never quote
// the input (a store's value is untrusted and may be a secret put there by
// mistake).
func ParseRotationRecord(b []byte) (*RotationRecord, error) {
	var r RotationRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, ErrBadRecord
	}
	return &r, nil
}

// Encode renders the record as compact JSON.
func (r *RotationRecord) Encode() []byte {
	b, _ := json.Marshal(r)
	return b
}
