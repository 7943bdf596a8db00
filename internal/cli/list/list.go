// Package list implements `keyward list`.
package list

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Options are list's inputs.
type Options struct {
	cmdutil.StoreDeps

	JSON bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{StoreDeps: f.StoreDeps()}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the secrets in a store (names, never values)",
		Long: `List the secrets in the store: name, current version and when it was last
updated. Values are never printed.

On a terminal the output is a table; when stdout is piped it is one name per
line, for scripts. --json prints an array of {key, version, updated}.`,
		Example: `  keyward list
  keyward list --store dotenv://.env
  keyward list --json
  for k in $(keyward list); do keyward history "$k"; done`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

// Item is one element of list's --json output.
type Item struct {
	Key     string     `json:"key"`
	Version string     `json:"version,omitempty"`
	Updated *time.Time `json:"updated,omitempty"`
}

func run(ctx context.Context, opts *Options) error {
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	infos, err := s.List(ctx)
	if err != nil {
		return err
	}
	if len(infos) == 0 {
		// A store whose container is missing (a Kubernetes Secret not
		// created yet) lists as empty: say that it does not exist.
		if ex, ok := s.Driver().(interface {
			Exists(context.Context) (bool, error)
		}); ok {
			if found, err := ex.Exists(ctx); err == nil && !found {
				fmt.Fprintf(opts.IO.ErrOut, "keyward: note: %s does not exist (yet); 'keyward set KEY' creates it\n", s.URL())
			}
		}
	}
	if opts.JSON {
		items := make([]Item, 0, len(infos))
		for _, in := range infos {
			it := Item{Key: in.Key, Version: in.Version}
			if !in.Updated.IsZero() {
				u := in.Updated.UTC()
				it.Updated = &u
			}
			items = append(items, it)
		}
		return cmdutil.WriteJSON(opts.IO.Out, items)
	}
	if !opts.IO.IsStdoutTTY() {
		for _, in := range infos {
			if _, err := fmt.Fprintln(opts.IO.Out, in.Key); err != nil {
				return err
			}
		}
		return nil
	}
	if len(infos) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "No secrets in %s\n", s.URL())
		return nil
	}
	tw := cmdutil.Table(opts.IO.Out)
	fmt.Fprintln(tw, "KEY\tVERSION\tUPDATED")
	for _, in := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", in.Key, dash(in.Version), when(in.Updated))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
