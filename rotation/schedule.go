package rotation

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

// Policy is a secret's rotation policy (keyward.yaml's rotation:).
type Policy struct {
	// Every is the rotation period; zero means on breach or compromise only.
	Every time.Duration `json:"every,omitempty"`
	// Grace is how long the previous value stays valid.
	Grace time.Duration `json:"grace,omitempty"`
	// Method is automated, manual or provider.
	Method string `json:"method,omitempty"`
	// Via says where a manual or provider rotation happens.
	Via string `json:"via,omitempty"`
}

// MarshalJSON renders durations the way keyward.yaml writes them ("90d", "24h").
func (p Policy) MarshalJSON() ([]byte, error) {
	type out struct {
		Every  string `json:"every,omitempty"`
		Grace  string `json:"grace,omitempty"`
		Method string `json:"method,omitempty"`
		Via    string `json:"via,omitempty"`
	}
	return json.Marshal(out{Every: FormatDuration(p.Every), Grace: FormatDuration(p.Grace), Method: p.Method, Via: p.Via})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Policy) UnmarshalJSON(b []byte) error {
	var in struct {
		Every, Grace, Method, Via string
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	var err error
	if p.Every, err = parseDuration(in.Every); err != nil {
		return err
	}
	if p.Grace, err = parseDuration(in.Grace); err != nil {
		return err
	}
	p.Method, p.Via = in.Method, in.Via
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil {
			return 0, fmt.Errorf("rotation: bad duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// FormatDuration renders d in whole days from two days up ("90d"), else in
// whole hours ("24h"), else as Go does ("90m0s"); "" for zero.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return ""
	case d%day == 0 && d >= 2*day:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// Automated reports whether `keyward rotate --due` may rotate it unattended.
func (p Policy) Automated() bool { return p.Method == "automated" && p.Every > 0 }

// PreviousStatus is one previous value in a Status.
type PreviousStatus struct {
	ID      string    `json:"id"`
	Expires time.Time `json:"expires,omitzero"`
	// Expired: its grace has ended but it is not retired yet
	// (`keyward rotate --retire` retires it).
	Expired bool `json:"expired"`
}

// Status is where a key stands against its policy. It never holds a value.
type Status struct {
	Key    string `json:"key"`
	Policy Policy `json:"policy"`
	// Exists is false when the key is not in the store.
	Exists    bool      `json:"exists"`
	Version   string    `json:"version,omitempty"`
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	Age       Duration  `json:"age"`
	// NextDue is RotatedAt + Every (zero when the policy has no period).
	NextDue time.Time `json:"next_due,omitzero"`
	Overdue bool      `json:"overdue"`
	// InFlight reports an unfinished rotation (see rotate --resume).
	InFlight bool             `json:"in_flight,omitempty"`
	Previous []PreviousStatus `json:"previous,omitempty"`
}

// Duration marshals as a Go duration string ("2160h0m0s").
type Duration time.Duration

// MarshalText renders d like "2160h0m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText writes.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// Evaluate computes a key's status at now. st is nil for a key that does
// not exist.
func Evaluate(key string, p Policy, st *keyward.RotationState, now time.Time) Status {
	s := Status{Key: key, Policy: p}
	if st == nil {
		return s
	}
	s.Exists = true
	s.Version = st.Current.Version.ID
	s.RotatedAt = st.RotatedAt
	s.InFlight = st.InFlight()
	if !s.RotatedAt.IsZero() {
		s.Age = Duration(now.Sub(s.RotatedAt))
		if p.Every > 0 {
			s.NextDue = s.RotatedAt.Add(p.Every)
			s.Overdue = !now.Before(s.NextDue)
		}
	}
	for _, prev := range st.Previous {
		s.Previous = append(s.Previous, PreviousStatus{ID: prev.ID, Expires: prev.Expires,
			Expired: !prev.Expires.IsZero() && !now.Before(prev.Expires)})
	}
	return s
}

// Due reports whether an automated policy says the key should be rotated now.
func Due(p Policy, st *keyward.RotationState, now time.Time) bool {
	if !p.Automated() || st == nil {
		return false
	}
	return Evaluate("", p, st, now).Overdue
}

// FakeClock is a settable clock for tests of schedules and grace expiry.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock starts a clock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
