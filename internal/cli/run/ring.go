package run

import (
	"context"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	cliexport "github.com/keyward/keyward/internal/cli/export"
)

// configureRing fills Options.Ring from keyward.yaml's delivery: settings
// and --numbered-ring.
func configureRing(opts *Options) error {
	if opts.ringConfig == nil {
		return nil
	}
	ro, err := opts.ringConfig(opts.NumberedRing)
	if err != nil {
		return err
	}
	opts.Ring = ro
	return nil
}

// ringEnv reads keys' values and key rings (one lookup per key, batched
// where the provider can) and returns them as NAME=value entries: KEY, and
// while a previous value is in grace KEY_OLD (and KEY_0, KEY_1 … with
// --numbered-ring). The fields a bundle keeps for its rings (KEY_OLD,
// KEY_ROTATION, KEY_PENDING) are not delivered as such: KEY_OLD is the
// ring's, present exactly while it is in grace.
func ringEnv(ctx context.Context, opts *Options, s *keyward.Store, keys []string, explicit bool) ([]string, error) {
	// A key listed a moment ago and deleted since is skipped; one named
	// with --only must exist.
	keys, rings, err := cliexport.DeliveryRings(ctx, s, keys, !explicit)
	if err != nil {
		return nil, cmdutil.MissingKeysHint(err)
	}
	es, err := export.ExpandRings(keys, rings, opts.Ring)
	if err != nil {
		return nil, err
	}
	if opts.ringsSeen != nil {
		opts.ringsSeen(rings)
	}
	out := make([]string, 0, len(es))
	for _, e := range es {
		if strings.IndexByte(e.Value.RevealString(), 0) >= 0 {
			return nil, keyward.Errorf(keyward.InvalidArgument, "run",
				"the value of %q contains a NUL byte and cannot be put in an environment variable", e.Key)
		}
		out = append(out, opts.Prefix+e.Key+"="+e.Value.RevealString())
	}
	return out, nil
}

// Run runs `keyward run` with opts (for tests of other packages, such as
// the cross-provider delivery suite).
func Run(ctx context.Context, opts *Options) error { return run(ctx, opts) }
