package cli

import (
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/storedriver"
)

func init() {
	register(func(f *cmdutil.Factory) *cobra.Command { return storedriver.NewMergeCmd(f) }, "merge-driver")
	register(func(f *cmdutil.Factory) *cobra.Command { return storedriver.NewDiffCmd(f) }, "diff-driver")
}
