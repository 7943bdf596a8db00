package export

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Key rings in delivery, shared by run, export and template: while a key
// has previous values in grace, KEY_OLD (delivery.old_suffix) holds the
// most recent one, and --numbered-ring (delivery.numbered_ring) adds KEY_0,
// KEY_1 ….

// NumberedRingFlag is the flag that delivers whole rings as numbered variables.
const NumberedRingFlag = "numbered-ring"

// AddRingFlags adds --numbered-ring to a delivery verb.
func AddRingFlags(cmd *cobra.Command, numbered *bool) {
	cmd.Flags().BoolVar(numbered, NumberedRingFlag, false,
		"Also deliver each key ring as KEY_0 (current), KEY_1 (newest previous), … (keyward.yaml delivery.numbered_ring)")
}

// RingOptions combines keyward.yaml's delivery: settings with the flag
// (which can only turn numbering on).
func RingOptions(f *cmdutil.Factory, numbered bool) (export.RingOptions, error) {
	var o export.RingOptions
	if f != nil && f.Delivery != nil {
		c, err := f.Delivery()
		if err != nil {
			return o, err
		}
		if c != nil {
			o.OldSuffix, o.Numbered = c.OldSuffix, c.NumberedRing
		}
	}
	if numbered {
		o.Numbered = true
	}
	return o, nil
}

// DeliveryEntries reads keys' key rings and returns what a delivery verb
// hands over: the fields a rotation layout keeps next to a key that is also
// among keys are left out (the ring delivers them), then every key's
// current value followed by its ring variables. skipMissing drops keys that
// do not exist (a listing that raced a delete) instead of failing.
func DeliveryEntries(ctx context.Context, s *keyward.Store, keys []string, o export.RingOptions, skipMissing bool) ([]export.Entry, error) {
	keys, rings, err := DeliveryRings(ctx, s, keys, skipMissing)
	if err != nil {
		return nil, err
	}
	return export.ExpandRings(keys, rings, o)
}

// DeliveryRings is the reading half of DeliveryEntries: the keys delivered
// (companion fields dropped, missing keys too with skipMissing) and their
// rings.
func DeliveryRings(ctx context.Context, s *keyward.Store, keys []string, skipMissing bool) ([]string, map[string]*keyward.KeyRing, error) {
	keys = export.DeliveryKeys(s, keys)
	if len(keys) == 0 {
		return nil, nil, nil
	}
	rings, err := s.KeyRings(ctx, keys)
	if err != nil {
		if !skipMissing || !cmdutil.AllNotFound(err) {
			return nil, nil, err
		}
		present := keys[:0:0]
		for _, k := range keys {
			if rings[k] != nil {
				present = append(present, k)
			}
		}
		keys = present
	}
	return keys, rings, nil
}

// Run runs `keyward export` with opts (for tests of other packages).
func Run(ctx context.Context, opts *Options) error { return run(ctx, opts) }
