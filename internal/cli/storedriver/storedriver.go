// Package storedriver implements the hidden verbs git runs for a local
// store file: `keyward merge-driver` (a git merge driver) and `keyward
// diff-driver` (a textconv for git diff). `keyward hook install`
// configures both in a clone.
package storedriver

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/provider/local"
)

// NewMergeCmd builds `keyward merge-driver BASE OURS THEIRS [PATH]`.
func NewMergeCmd(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "merge-driver BASE OURS THEIRS [PATH]",
		Short:  "git merge driver for a local store file (configured by 'keyward hook install')",
		Hidden: true,
		Long: `Merge a local store file for git (merge.keyward.driver = keyward merge-driver %O %A %B %P).

Records are united by key and version. When the same key changed on both
branches, every new version of both is kept, renumbered by creation time
(the later one is current), and a line on stderr says so. The result
replaces OURS atomically. When the two sides were re-keyed differently
(both removed recipients), or your identity cannot read one of them, the
merge is refused: exit non-zero, OURS untouched, and git reports a
conflict. Values are never printed.`,
		Args: cobra.RangeArgs(3, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := local.LoadIdentity(getenv(f))
			if err != nil {
				return wrap(err)
			}
			name := args[1]
			if len(args) == 4 {
				name = args[3]
			}
			res, err := local.MergeFiles(args[0], args[1], args[2], id, f.IO.ErrOut)
			if err != nil {
				return wrap(fmt.Errorf("%s: %w", name, err))
			}
			fmt.Fprintf(f.IO.ErrOut, "keyward merge-driver: merged %s (%d key(s) changed on both branches)\n", name, len(res.Both))
			return nil
		},
	}
}

// NewDiffCmd builds `keyward diff-driver FILE`.
func NewDiffCmd(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "diff-driver FILE",
		Short:  "git textconv for a local store file (configured by 'keyward hook install')",
		Hidden: true,
		Long: `Print a local store file as text for git diff (diff.keyward.textconv = keyward diff-driver):
its recipients and one line per version, "KEY v4 CREATED fp:FINGERPRINT".
Never a value. The fingerprint is keyed with the store's file key, so it
means nothing to anyone who cannot read the store. Without an identity that
reads the file, entry identifiers are listed instead of names.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readBounded(args[0])
			if err != nil {
				return wrap(err)
			}
			id, _ := local.LoadIdentity(getenv(f))
			_, err = f.IO.Out.Write(local.DiffText(data, id))
			return err
		},
	}
}

func getenv(f *cmdutil.Factory) func(string) string {
	if f.Getenv != nil {
		return f.Getenv
	}
	return os.Getenv
}

func wrap(err error) error {
	return cmdutil.WithHint(keyward.NewError(local.ErrorCode(err), "merge", err), local.Hint(err))
}

// readBounded reads a regular file of at most the store's size limit,
// without blocking on a FIFO (fsutil.ReadFile).
func readBounded(path string) ([]byte, error) { return fsutil.ReadFile(path, fsutil.MaxStoreFile) }
