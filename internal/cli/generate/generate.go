// Package generate implements `keyward generate`.
package generate

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/gen"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

// Options are generate's inputs.
type Options struct {
	IO *iostreams.IOStreams

	Recipe string
	Size   int
	List   bool
	JSON   bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Print a fresh random secret",
		Long: `Print a new random value on stdout, from crypto/rand. Nothing is stored;
use 'keyward set KEY --generate RECIPE[:SIZE]' to generate and store in one
step without the value ever being printed.

Recipes (--recipe):
` + recipeHelp() + `
--bytes is the size in the recipe's unit: bytes of randomness for urlsafe,
base64 and hex; characters for alnum; words for passphrase. 0 means the
recipe's default. Every recipe gives at least 128 bits of entropy; smaller
sizes are refused.

A newline is added only when stdout is a terminal.`,
		Example: `  keyward generate                        # secrets.token_urlsafe(32)
  keyward generate --recipe base64        # openssl rand -base64 32
  keyward generate --recipe uuid          # uuid4 without dashes
  keyward generate --recipe alnum --bytes 40
  keyward generate --list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.List {
				if cmd.Flags().Changed("recipe") || cmd.Flags().Changed("bytes") {
					return cmdutil.FlagErrorf("--list takes no --recipe or --bytes")
				}
			} else {
				if opts.JSON {
					return cmdutil.FlagErrorf("--json only applies to --list (generate prints the value itself)")
				}
				if opts.Size < 0 {
					return cmdutil.FlagErrorf("--bytes must not be negative")
				}
				if _, err := gen.Generate(opts.Recipe, opts.Size); err != nil {
					return cmdutil.FlagErrorf("%s", strings.TrimPrefix(err.Error(), "keyward: failed to generate: invalid argument: "))
				}
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().StringVarP(&opts.Recipe, "recipe", "r", gen.Default, "Recipe: "+strings.Join(gen.Names(), ", "))
	cmd.Flags().IntVarP(&opts.Size, "bytes", "n", 0, "Size in the recipe's unit (bytes; characters for alnum; words for passphrase); 0 = default")
	cmd.Flags().BoolVar(&opts.List, "list", false, "List the recipes instead of generating")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func recipeHelp() string {
	var b strings.Builder
	for _, r := range gen.Recipes() {
		size := "fixed size"
		if r.Sized() {
			size = fmt.Sprintf("default %d %s", r.DefaultSize, r.Unit)
		}
		fmt.Fprintf(&b, "  %-12s %s (%s)\n", r.Name, r.Description, size)
	}
	return b.String()
}

func run(_ context.Context, opts *Options) error {
	if opts.List {
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, gen.Recipes())
		}
		tw := cmdutil.Table(opts.IO.Out)
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintln(tw, "RECIPE\tDEFAULT\tBITS\tDESCRIPTION")
		}
		for _, r := range gen.Recipes() {
			size := "-"
			if r.Sized() {
				size = fmt.Sprintf("%d %s", r.DefaultSize, r.Unit)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\n", r.Name, size, r.Bits(0), r.Description)
		}
		return tw.Flush()
	}
	s, err := gen.Generate(opts.Recipe, opts.Size)
	if err != nil {
		return err
	}
	if _, err := opts.IO.Out.Write(s.Reveal()); err != nil {
		return err
	}
	if opts.IO.IsStdoutTTY() {
		_, err = opts.IO.Out.Write([]byte("\n"))
	}
	return err
}
