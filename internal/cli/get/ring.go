package get

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
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
	out := RingOutput{Key: r.Key, Store: r.Store, StoreSource: opts.Sources.Of(s), Layout: r.Layout, Current: ringKeyOutput(r.Current, opts.Reveal), Previous: []RingKeyOutput{}}
	if !r.RotatedAt.IsZero() {
		t := r.RotatedAt.UTC()
		out.RotatedAt = &t
	}
	for _, p := range r.Previous {
		out.Previous = append(out.Previous, ringKeyOutput(p, opts.Reveal))
	}
	if !opts.JSON {
		return writeRingTable(opts, &out)
	}
	return cmdutil.WriteJSON(opts.IO.Out, out)
}

// writeRingTable prints the ring for people (a table on a terminal,
// tab-separated ROLE ID VERSION CREATED EXPIRES LENGTH lines when piped);
// never values.
func writeRingTable(opts *Options, out *RingOutput) error {
	tty := opts.IO.IsStdoutTTY()
	w := io.Writer(opts.IO.Out)
	var tw *tabwriter.Writer
	if tty {
		tw = cmdutil.Table(opts.IO.Out)
		w = tw
		fmt.Fprintln(w, "ROLE\tID\tVERSION\tCREATED\tEXPIRES\tLENGTH")
	}
	row := func(role string, k RingKeyOutput) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", role, dash(k.ID), dash(k.Version), stamp(k.Created), stamp(k.Expires), k.Length)
	}
	row("current", out.Current)
	for _, p := range out.Previous {
		row("previous", p)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
