// Package get implements `keyward get`.
package get

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Options are get's inputs.
type Options struct {
	cmdutil.StoreDeps

	Key     string
	Version string
	JSON    bool
	Reveal  bool
	// Ring prints the key ring (current value plus previous values still in
	// their rotation grace period) as JSON; see ring.go.
	Ring bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{StoreDeps: f.StoreDeps()}
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Print a secret's value",
		Long: `Print the value of one secret on stdout, exactly as stored (a newline is
added only when stdout is a terminal).

With --json, print the secret's metadata (version, creation time, store)
and not its value; add --reveal to include the value in the JSON.

With --ring, print the key ring: the current value and every previous value
still inside its rotation grace period, with its expiry — a table (metadata
only), or JSON with --json (values only with --json --reveal). See
'keyward rotate'.`,
		Example: `  keyward get JWT_SECRET_KEY
  keyward get JWT_SECRET_KEY --version 2
  keyward get DATABASE_URL --env production --json
  keyward get JWT_SECRET_KEY --ring
  keyward get JWT_SECRET_KEY --ring --json
  export JWT_SECRET_KEY="$(keyward get JWT_SECRET_KEY)"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = args[0]
			if opts.Ring && opts.Version != "" {
				return cmdutil.FlagErrorf("--ring and --version cannot be used together")
			}
			if opts.Reveal && !opts.JSON {
				return cmdutil.FlagErrorf("--reveal only makes sense with --json (get prints the value by default)")
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().StringVar(&opts.Version, "version", "", "Read this version instead of the current one")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "With --json, include the value")
	cmd.Flags().BoolVar(&opts.Ring, "ring", false, "Print the key ring: current and previous values in grace (a table, or JSON with --json)")
	return cmd
}

// Output is get's --json shape.
type Output struct {
	Key         string     `json:"key"`
	Store       string     `json:"store"`
	StoreSource string     `json:"store_source,omitempty"`
	Version     string     `json:"version,omitempty"`
	Created     *time.Time `json:"created,omitempty"`
	Labels      []string   `json:"labels,omitempty"`
	Stale       bool       `json:"stale,omitempty"`
	Length      int        `json:"length"`
	Value       *string    `json:"value,omitempty"`
}

func run(ctx context.Context, opts *Options) error {
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	if opts.Ring {
		return runRing(ctx, opts, s)
	}
	v, err := s.GetValue(ctx, opts.Key, &keyward.GetOptions{Version: opts.Version})
	if err != nil {
		if keyward.ErrorCode(err) == keyward.NotFound {
			hint := "'keyward list' shows the keys in this store"
			if s.Can("put") {
				hint += "; 'keyward set " + opts.Key + "' creates it"
			}
			return cmdutil.WithHint(err, hint)
		}
		return err
	}
	if opts.JSON {
		out := Output{Key: opts.Key, Store: s.URL(), StoreSource: opts.Sources.Of(s), Version: v.Version.ID, Labels: v.Version.Labels, Stale: v.Stale, Length: v.Secret.Len()}
		if !v.Version.Created.IsZero() {
			c := v.Version.Created.UTC()
			out.Created = &c
		}
		if opts.Reveal {
			val := v.Secret.RevealString()
			out.Value = &val
		}
		return cmdutil.WriteJSON(opts.IO.Out, out)
	}
	if _, err := opts.IO.Out.Write(v.Secret.Reveal()); err != nil {
		return err
	}
	if opts.IO.IsStdoutTTY() {
		_, err = opts.IO.Out.Write([]byte("\n"))
	}
	return err
}
