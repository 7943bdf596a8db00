package driver_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/driver"
)

func TestRingRoundTrip(t *testing.T) {
	exp := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	refs := driver.ParseRing(driver.EncodeRing([]driver.RingRef{{ID: "3", Expires: exp}, {ID: "2", Retired: true}}))
	if len(refs) != 2 || refs[0].ID != "3" || !refs[0].Expires.Equal(exp) || !refs[1].Retired {
		t.Fatalf("ring round trip: %+v", refs)
	}
	if driver.ParseRing("") != nil || driver.ParseRing("{") != nil {
		t.Fatal("ParseRing accepted garbage")
	}
}
