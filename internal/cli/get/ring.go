package get

import (
	"context"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// RingOutput is get --ring --json's shape. Values appear only with --reveal.
type RingOutput struct {
	Key         string          `json:"key"`
	Store       string          `json:"store"`
	StoreSource string          `json:"store_source,omitempty"`
	Layout      string          `json:"layout"`
	RotatedAt   *time.Time      `json:"rotated_at,omitempty"`
	Current     RingKeyOutput   `json:"current"`
	Previous    []RingKeyOutput `json:"previous"`
}

// RingKeyOutput is one value of the ring.
type RingKeyOutput struct {
	ID      string     `json:"id"`
	Version string     `json:"version,omitempty"`
	Created *time.Time `json:"created,omitempty"`
	// Expires is when a previous value's grace ends (absent: current, or no recorded end).
	Expires *time.Time `json:"expires,omitempty"`
	Length  int        `json:"length"`
	Value   *string    `json:"value,omitempty"`
}

func ringKeyOutput(k keyward.RingKey, reveal bool) RingKeyOutput {
	o := RingKeyOutput{ID: k.ID, Version: k.Version.ID, Length: k.Secret.Len()}
	if !k.Version.Created.IsZero() {
		c := k.Version.Created.UTC()
		o.Created = &c
	}
	if !k.Expires.IsZero() {
		e := k.Expires.UTC()
		o.Expires = &e
	}
	if reveal {
		v := k.Secret.RevealString()
		o.Value = &v
	}
	return o
}

func runRing(ctx context.Context, opts *Options, s *keyward.Store) error {
	r, err := s.KeyRing(ctx, opts.Key)
	if err != nil {
		if keyward.ErrorCode(err) == keyward.NotFound {
			return cmdutil.WithHint(err, "'keyward list' shows the keys in this store")
		}
		return err
	}
	out := RingOutput{Key: r.Key, Store: r.Store, StoreSource: cmdutil.SourceOf(s), Layout: r.Layout, Current: ringKeyOutput(r.Current, opts.Reveal), Previous: []RingKeyOutput{}}
	if !r.RotatedAt.IsZero() {
		t := r.RotatedAt.UTC()
		out.RotatedAt = &t
	}
	for _, p := range r.Previous {
		out.Previous = append(out.Previous, ringKeyOutput(p, opts.Reveal))
	}
	return cmdutil.WriteJSON(opts.IO.Out, out)
}
