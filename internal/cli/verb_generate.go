package cli

import (
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/generate"
)

func init() {
	register(func(f *cmdutil.Factory) *cobra.Command { return generate.NewCmd(f, nil) }, "generate")
}
