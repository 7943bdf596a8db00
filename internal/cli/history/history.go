// Package history implements `keyward history`.
package history

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Options are history's inputs.
type Options struct {
	cmdutil.StoreDeps

	Key  string
	JSON bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{StoreDeps: f.StoreDeps()}
	cmd := &cobra.Command{
		Use:   "history KEY",
		Short: "Show the versions of a secret (never values)",
		Long: `Show every version of KEY the store keeps, oldest first: the version ID,
when it was created, and its labels (such as "current", or AWS stage
labels). Values are never printed; read an old one with
'keyward get KEY --version ID'.

On a terminal the output is a table; when piped it is tab-separated lines
without a header. --json prints {key, store, versions: [...]}.

A local store keeps the last 10 versions of each key by default (plus any
still in a rotation grace period; ?history=N in the store URL or history:
in keyward.yaml changes it). When older versions were pruned, history
says so on stderr, and --json adds "pruned": {count, through, at}.`,
		Example: `  keyward history JWT_SECRET_KEY
  keyward history JWT_SECRET_KEY --json
  keyward get JWT_SECRET_KEY --version 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = args[0]
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

// Output is history's --json shape.
type Output struct {
	Key   string `json:"key"`
	Store string `json:"store"`
	// StoreSource is the rule that chose the store (cmdutil.SourceBook).
	StoreSource string    `json:"store_source,omitempty"`
	Versions    []Version `json:"versions"`
	// Pruned is set when the store's retention removed older versions.
	Pruned *Pruned `json:"pruned,omitempty"`
}

// Pruned says which versions a store's retention removed (the local
// store reports it in the oldest kept version's metadata).
type Pruned struct {
	Count   int    `json:"count"`
	Through string `json:"through"`
	At      string `json:"at,omitempty"`
}

func prunedOf(vs []keyward.Version) *Pruned {
	if len(vs) == 0 || vs[0].Meta["keyward.pruned"] == "" {
		return nil
	}
	n, _ := strconv.Atoi(vs[0].Meta["keyward.pruned"])
	return &Pruned{Count: n, Through: vs[0].Meta["keyward.pruned-through"], At: vs[0].Meta["keyward.pruned-at"]}
}

// Version is one version in Output. It never carries a value.
type Version struct {
	ID       string            `json:"id"`
	Created  *time.Time        `json:"created,omitempty"`
	Labels   []string          `json:"labels,omitempty"`
	Disabled bool              `json:"disabled,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
}

func run(ctx context.Context, opts *Options) error {
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	vs, err := s.History(ctx, opts.Key)
	if err != nil {
		switch keyward.ErrorCode(err) {
		case keyward.NotFound:
			return cmdutil.WithHint(err, "'keyward list' shows the keys in this store")
		case keyward.Unimplemented:
			return cmdutil.WithHint(err, "this store keeps only the current value; 'keyward get "+opts.Key+" --json' shows it")
		}
		return err
	}
	if opts.JSON {
		out := Output{Key: opts.Key, Store: s.URL(), StoreSource: opts.Sources.Of(s), Versions: make([]Version, 0, len(vs)), Pruned: prunedOf(vs)}
		for _, v := range vs {
			o := Version{ID: v.ID, Labels: v.Labels, Disabled: v.Disabled, Meta: v.Meta}
			if !v.Created.IsZero() {
				c := v.Created.UTC()
				o.Created = &c
			}
			out.Versions = append(out.Versions, o)
		}
		return cmdutil.WriteJSON(opts.IO.Out, out)
	}
	tty := opts.IO.IsStdoutTTY()
	w := opts.IO.Out
	tw := cmdutil.Table(opts.IO.Out)
	if tty {
		w = tw
		fmt.Fprintln(w, "VERSION\tCREATED\tLABELS")
	}
	for _, v := range vs {
		labels := append([]string(nil), v.Labels...)
		if v.Disabled {
			labels = append(labels, "disabled")
		}
		sort.Strings(labels)
		l := strings.Join(labels, ",")
		if tty && l == "" {
			l = "-"
		}
		created := "-"
		if !v.Created.IsZero() {
			created = v.Created.UTC().Format(time.RFC3339)
		}
		if _, err := fmt.Fprintf(w, "%s\t%s\t%s\n", v.ID, created, l); err != nil {
			return err
		}
	}
	if tty {
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if p := prunedOf(vs); p != nil {
		fmt.Fprintf(opts.IO.ErrOut, "keyward: %d older version(s) of %s, through version %s, were pruned by the store's history limit (last at %s)\n",
			p.Count, opts.Key, p.Through, p.At)
	}
	return nil
}
