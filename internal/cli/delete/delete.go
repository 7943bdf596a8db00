// Package delete implements `keyward delete`.
package delete

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Options are delete's inputs.
type Options struct {
	cmdutil.StoreDeps

	Key string
	Yes bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{StoreDeps: f.StoreDeps()}
	cmd := &cobra.Command{
		Use:     "delete KEY",
		Aliases: []string{"rm"},
		Short:   "Delete a secret and all its versions",
		Long: `Delete KEY and every version of it from the store. This cannot be undone.

On a terminal, delete asks you to type the key's name to confirm, unless
--yes is given. When stdin is not a terminal (scripts, CI) it refuses to
run without --yes.`,
		Example: `  keyward delete OLD_API_KEY
  keyward delete OLD_API_KEY --yes --store local://./secrets/staging.age`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = args[0]
			if !opts.Yes && !opts.IO.IsStdinTTY() {
				return cmdutil.FlagErrorf("refusing to delete %q without confirmation: stdin is not a terminal; pass --yes", opts.Key)
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	if !opts.Yes {
		if !opts.IO.IsStdinTTY() {
			return cmdutil.FlagErrorf("refusing to delete %q without confirmation: stdin is not a terminal; pass --yes", opts.Key)
		}
		fmt.Fprintf(opts.IO.ErrOut, "Delete %s and all its versions from %s? This cannot be undone.\nType the key name to confirm: ", opts.Key, s.URL())
		line, err := bufio.NewReader(opts.IO.In).ReadString('\n')
		if err != nil && line == "" {
			return keyward.Errorf(keyward.Canceled, "delete", "no confirmation")
		}
		if strings.TrimSpace(line) != opts.Key {
			fmt.Fprintln(opts.IO.ErrOut, "Not deleted.")
			return &cmdutil.SilentError{Code: cmdutil.ExitError}
		}
	}
	if err := s.Delete(ctx, opts.Key); err != nil {
		switch keyward.ErrorCode(err) {
		case keyward.NotFound:
			return cmdutil.WithHint(err, "'keyward list' shows the keys in this store")
		case keyward.Unimplemented:
			return cmdutil.WithHint(err, "this store is read-only; delete the secret where it lives")
		}
		return err
	}
	_, err = fmt.Fprintf(opts.IO.ErrOut, "Deleted %s from %s\n", opts.Key, s.URL())
	return err
}
