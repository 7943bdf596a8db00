package keyward_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

func TestRotationRecordRoundTrip(t *testing.T) {
	exp := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	rec := &keyward.RotationRecord{ID: "4", RotatedAt: exp.Add(-24 * time.Hour),
		Previous: []driver.RingRef{{ID: "3", Expires: exp}, {ID: "2", Retired: true}},
		Next:     &keyward.RotationRecord{ID: "5"}, From: "4"}
	got, err := keyward.ParseRotationRecord(rec.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), rec.Encode()) {
		t.Fatalf("round trip: %s != %s", got.Encode(), rec.Encode())
	}
	if _, err := keyward.ParseRotationRecord([]byte("{")); err != keyward.ErrBadRecord {
		t.Fatalf("a broken record: %v, want ErrBadRecord", err)
	}
}

// FuzzParseRotationRecord: a record read from a store (KEY_ROTATION) may be
// anything; parsing never panics, errors never quote the input, and what
// parses re-encodes to something that parses to the same record.
func FuzzParseRotationRecord(f *testing.F) {
	f.Add([]byte(`{"id":"1","rotated_at":"2026-01-01T00:00:00Z","previous":[{"id":"0","expires":"2026-01-02T00:00:00Z"}]}`))
	f.Add([]byte(`{"id":"2","next":{"id":"3","previous":[]},"from":"2"}`))
	f.Add([]byte(`{"previous":[{"id":"x","retired":true}]}`))
	f.Add([]byte(`not json secret-canary`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := keyward.ParseRotationRecord(b)
		if err != nil {
			if len(b) > 3 && bytes.Contains([]byte(err.Error()), b) {
				t.Fatalf("error quotes the input")
			}
			return
		}
		again, err := keyward.ParseRotationRecord(rec.Encode())
		if err != nil {
			t.Fatalf("re-encoded record does not parse: %v", err)
		}
		if !bytes.Equal(again.Encode(), rec.Encode()) {
			t.Fatalf("not stable: %s vs %s", again.Encode(), rec.Encode())
		}
		_ = driver.ParseRing(string(b))
	})
}
